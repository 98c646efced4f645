/* spawn.h: fork and exec a child with a clean signal state and chosen fds. */
#ifndef HANDOFF_SPAWN_H
#define HANDOFF_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#define SPAWN_MAX_FDS 2048

struct spawn_opts {
    char *const *argv;
    char **envp;          /* the whole environment, built by the caller */
    int listen_pid_index; /* envp entry "LISTEN_PID=" to complete, or -1 */
    int watchdog_pid_index; /* "WATCHDOG_PID=" to complete, or -1 */
    const int *fds;       /* placed at 3, 4, ... in the child */
    size_t nfds;
    int chan_fd;          /* placed at chan_target, or -1 */
    int chan_target;
    const char *directory;
    uid_t uid; /* (uid_t)-1: keep */
    gid_t gid; /* (gid_t)-1: keep */
    const gid_t *groups;  /* supplementary groups when the user changes */
    size_t ngroups;
    int own_pgroup; /* lead a process group of its own (see spawn.c) */
    int die_with_parent; /* SIGKILL when the master dies (see spawn.c) */
    /* A library the command preloads (the shim), or NULL: checked readable
     * as the child's user before exec, as ld.so would only warn and run
     * the command without it (SPAWN_STEP_PRELOAD). */
    const char *preload;
};

/* Room an envp entry needs for LISTEN_PID=<pid> or WATCHDOG_PID=<pid>,
 * filled in after fork(). */
#define SPAWN_LISTEN_PID_LEN 32

/*
 * Start the child. *pid is set whenever a child was forked, even if its exec
 * fails later (it then exits 127 or 126 and must be reaped). Returns 0 once
 * forked, or -errno (too many fds, no pipe, no fork).
 *
 * The exec is not waited for: with report not NULL, *report is the read end
 * of a pipe (close-on-exec, non-blocking) that a successful exec closes and
 * on which the child writes the step that failed (chdir, set*id, exec...)
 * and its errno. The soft RLIMIT_NOFILE the master started with is set
 * back, unless the descriptors given leave too little room under it
 * (fdlimit.h). Read it with spawn_report() when it becomes readable, or
 * once the child has exited; then close it.
 */
int spawn_process(const struct spawn_opts *o, pid_t *pid, int *report);

/* The step of a child's start that failed, reported with its errno. */
enum spawn_step {
    SPAWN_STEP_FDS = 1, /* EMFILE: the descriptor limit (fdlimit.h) */
    SPAWN_STEP_PGROUP,
    SPAWN_STEP_DIRECTORY,
    SPAWN_STEP_IDENTITY,
    SPAWN_STEP_PARENT,
    SPAWN_STEP_LIMITS,
    SPAWN_STEP_PRELOAD,
    SPAWN_STEP_EXEC,
};

/* What a report pipe says: 0 exec'd, -errno failed (*step, if not NULL,
 * the step that did: enum spawn_step), -EAGAIN not yet. */
int spawn_report(int fd, int *step);

/* "placing descriptors", "exec", ...: a step for messages. */
const char *spawn_step_name(int step);

/* Exit code of a child whose exec failed with err: 127 not found, 126 else. */
int spawn_exec_code(int err);

#endif
