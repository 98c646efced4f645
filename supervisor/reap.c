/* reap.c: collect every exited child with waitpid(-1) and dispatch it. */
#include "reap.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <sys/wait.h>

#include "log.h"
#include "parse.h"

void
reap_add(struct reaper *r, struct child *c)
{
    c->next = r->children;
    r->children = c;
}

void
reap_remove(struct reaper *r, struct child *c)
{
    for (struct child **p = &r->children; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            c->next = NULL;
            return;
        }
}

int
reap_all(struct reaper *r)
{
    int status, n = 0;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct child *c = r->children;

        n++;
        while (c != NULL && c->pid != pid)
            c = c->next;
        if (c == NULL) {
            char buf[64];
            r->orphans++;
            log_event(LOG_DEBUG, "reap", "pid=%d %s", (int)pid,
                      reap_describe(status, buf, sizeof(buf)));
            continue;
        }
        reap_remove(r, c);
        c->on_exit(c, status);
    }
    return n;
}

int
reap_any_left(void)
{
    siginfo_t si;

    si.si_pid = 0;
    /* WNOWAIT leaves it for reap_all(); ECHILD means nobody is left. */
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno != ECHILD;
    return 1;
}

int
reap_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

const char *
reap_describe(int status, char *buf, unsigned long size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "code=%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "signal=%s%s", parse_signal_name(WTERMSIG(status)),
                 WCOREDUMP(status) ? " core=1" : "");
    else
        snprintf(buf, size, "status=%d", status);
    return buf;
}

int
reap_stop_code(int status, int drain_signal, int stop_signal)
{
    /* Ctrl-C used to reach the worker itself, which died of SIGINT: 130,
     * what a shell expects of an interrupted program. It now reaches
     * handoff alone, which drains: a worker that dies of that drain says
     * the same. */
    if (stop_signal == SIGINT && WIFSIGNALED(status) &&
        WTERMSIG(status) == drain_signal)
        return 128 + SIGINT;
    return reap_exit_code(status);
}
