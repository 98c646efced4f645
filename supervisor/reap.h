/* reap.h: one SIGCHLD reaper for every child, workers, probes and orphans. */
#ifndef HANDOFF_REAP_H
#define HANDOFF_REAP_H

#include <sys/types.h>

/*
 * libuv's process handles reap only their own children; as PID 1 (or a
 * subreaper) handoff must collect everything with waitpid(-1). A child that
 * wants its status registers here; any other pid is an orphan, reaped and
 * logged.
 */
struct child {
    pid_t pid;
    void (*on_exit)(struct child *c, int status);
    struct child *next;
};

struct reaper {
    struct child *children;
    unsigned long orphans; /* reaped so far */
};

void reap_add(struct reaper *r, struct child *c);
void reap_remove(struct reaper *r, struct child *c);

/* Collect every exited child; returns how many. */
int reap_all(struct reaper *r);

/* Any child left at all (registered or not)? */
int reap_any_left(void);

/* Wait status as a process exit code, 128+N for signal N (as tini does). */
int reap_exit_code(int status);

/*
 * The exit code of handoff for its worker's last status, when the stop
 * came by stop_signal and the worker was drained with drain_signal: the
 * worker's own (128+N for signal N), except 130 for a worker drained after
 * a SIGINT, as if the terminal's SIGINT had reached it.
 */
int reap_stop_code(int status, int drain_signal, int stop_signal);

/* "code=N" or "signal=SIGNAME" for logs. */
const char *reap_describe(int status, char *buf, unsigned long size);

#endif
