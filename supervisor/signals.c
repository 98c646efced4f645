/* signals.c: handoff's signals: roll, reload, stop, scale, reap, forward. */
#include "signals.h"

#include <signal.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "master.h"

enum signal_action
signals_action(int sig)
{
    switch (sig) {
    case SIGUSR2:
        return SIGACT_ROLL;
    case SIGHUP:
        return SIGACT_RELOAD;
    case SIGTERM:
    case SIGINT:
        return SIGACT_STOP;
    case SIGTTIN:
        return SIGACT_MORE;
    case SIGTTOU:
        return SIGACT_FEWER;
    case SIGCHLD:
        return SIGACT_REAP;
    /* Cannot be caught, or faults of handoff itself (left to the default),
     * or SIGPIPE, which handoff ignores: a write to a closed probe
     * connection must not reach a worker. */
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
    case SIGPIPE:
        return SIGACT_NONE;
    default:
        return sig >= 1 && sig <= 31 ? SIGACT_FORWARD : SIGACT_NONE;
    }
}

static void
on_signal(uv_signal_t *h, int sig)
{
    struct master *m = h->data;

    switch (signals_action(sig)) {
    case SIGACT_ROLL:
        master_roll(m, "SIGUSR2");
        break;
    case SIGACT_RELOAD:
        master_reload(m);
        break;
    case SIGACT_STOP:
        master_stop(m, sig);
        break;
    case SIGACT_MORE:
        master_scale(m, +1);
        break;
    case SIGACT_FEWER:
        master_scale(m, -1);
        break;
    case SIGACT_REAP:
        master_reap(m);
        break;
    case SIGACT_FORWARD:
        master_forward(m, sig);
        break;
    case SIGACT_NONE:
        break;
    }
}

int
signals_start(struct master *m)
{
    sigset_t none;

    /* A mask inherited from whoever started handoff (a wrapper that blocked
     * SIGTERM or SIGCHLD, say) would leave rolls, stops and reaping waiting
     * forever: libuv's handlers only run for signals that are delivered. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int sig = 1; sig < 32; sig++) {
        uv_signal_t *h;

        if (signals_action(sig) == SIGACT_NONE)
            continue;
        h = malloc(sizeof(*h));
        if (h == NULL)
            return -ENOMEM;
        uv_signal_init(m->loop, h);
        h->data = m;
        if (uv_signal_start(h, on_signal, sig) < 0) {
            free(h);
            continue;
        }
        m->signals[sig] = h;
    }
    return 0;
}

void
signals_stop(struct master *m)
{
    for (int sig = 1; sig < 32; sig++) {
        handle_close(m->signals[sig]);
        m->signals[sig] = NULL;
    }
}
