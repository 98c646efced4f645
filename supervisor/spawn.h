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
    const int *fds;       /* placed at 3, 4, ... in the child */
    size_t nfds;
    int chan_fd;          /* placed at chan_target, or -1 */
    int chan_target;
    const char *directory;
    uid_t uid; /* (uid_t)-1: keep */
    gid_t gid; /* (gid_t)-1: keep */
    const gid_t *groups;  /* supplementary groups when the user changes */
    size_t ngroups;
};

/* Room an envp entry needs for LISTEN_PID=<pid>, filled in after fork(). */
#define SPAWN_LISTEN_PID_LEN 32

/*
 * Start the child. *pid is set whenever a child was forked, even if exec
 * failed (it exits 127 or 126 and must be reaped). Returns 0 if exec
 * succeeded, or -errno of the failed step (fork, or in the child: chdir,
 * set*id, exec).
 */
int spawn_process(const struct spawn_opts *o, pid_t *pid);

/* Exit code of a child whose exec failed with err: 127 not found, 126 else. */
int spawn_exec_code(int err);

#endif
