/* signals.c: handoff's signals: roll, reload, stop, scale, reap, forward. */
#include "signals.h"

#include <signal.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"

struct signals {
    signals_cb *cb;
    void *ctx;
    uv_signal_t *h[32];
};

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
    struct signals *s = h->data;

    if (s != NULL)
        s->cb(s->ctx, signals_action(sig), sig);
}

int
signals_start(uv_loop_t *loop, signals_cb *cb, void *ctx, struct signals **out)
{
    struct signals *s = calloc(1, sizeof(*s));
    sigset_t none;

    *out = NULL;
    if (s == NULL)
        return -ENOMEM;
    s->cb = cb;
    s->ctx = ctx;
    signal(SIGPIPE, SIG_IGN);
    for (int sig = 1; sig < 32; sig++) {
        uv_signal_t *h;

        if (signals_action(sig) == SIGACT_NONE)
            continue;
        h = malloc(sizeof(*h));
        if (h == NULL) {
            signals_stop(s);
            return -ENOMEM;
        }
        uv_signal_init(loop, h);
        h->data = s;
        if (uv_signal_start(h, on_signal, sig) < 0) {
            free(h);
            continue;
        }
        s->h[sig] = h;
    }
    /* A mask inherited from whoever started handoff (a wrapper that blocked
     * SIGTERM or SIGCHLD, say) would leave rolls, stops and reaping waiting
     * forever: libuv's handlers only run for signals that are delivered.
     * Unblocked only now that every handler is in place: a signal pending
     * from before (one sent during an upgrade's exec, which set every
     * action back to the default) would otherwise take its default action,
     * and SIGUSR2, SIGHUP or SIGTERM kill handoff. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    *out = s;
    return 0;
}

void
signals_stop(struct signals *s)
{
    if (s == NULL)
        return;
    for (int sig = 1; sig < 32; sig++)
        handle_close(s->h[sig]);
    free(s);
}
