/* spawn.c: fork/exec with default signals, an empty mask and exact fds. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int
spawn_exec_code(int err)
{
    return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

/* Write n in decimal at p; async-signal-safe. */
static void
put_decimal(char *p, long n)
{
    char tmp[24];
    int i = 0;

    do
        tmp[i++] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    while (i > 0)
        *p++ = tmp[--i];
    *p = '\0';
}

/* Only async-signal-safe calls from here to exec: the child of a fork. */
static void
child(const struct spawn_opts *o, int report)
{
    int high = 3 + (int)o->nfds + 1, err;
    int moved[SPAWN_MAX_FDS], chan = -1;
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    /* glibc keeps 32 and 33 for itself and refuses sigaction() on them, but
     * an ignored disposition inherited from handoff's parent would still
     * pass exec: reset them with the system call. */
    for (int s = 32; s < SIGRTMIN; s++) {
        struct {
            void *handler;
            unsigned long flags;
            void *restorer;
            unsigned long mask;
        } k = {SIG_DFL, 0, NULL, 0};
        syscall(SYS_rt_sigaction, s, &k, NULL, sizeof(k.mask));
    }

    if (o->listen_pid_index >= 0)
        put_decimal(o->envp[o->listen_pid_index] + strlen("LISTEN_PID="),
                    (long)getpid());

    if (o->chan_target >= high)
        high = o->chan_target + 1;
    /* Move every fd out of the way first, so no dup2 overwrites a source. */
    for (size_t i = 0; i < o->nfds; i++)
        if ((moved[i] = fcntl(o->fds[i], F_DUPFD_CLOEXEC, high)) < 0)
            goto fail;
    if (o->chan_fd >= 0 &&
        (chan = fcntl(o->chan_fd, F_DUPFD_CLOEXEC, high)) < 0)
        goto fail;
    if (fcntl(report, F_GETFD) >= 0 && report < high) {
        int r = fcntl(report, F_DUPFD_CLOEXEC, high);
        if (r < 0)
            goto fail;
        report = r;
    }
    /* dup2() clears close-on-exec on the new fd: these survive exec. */
    for (size_t i = 0; i < o->nfds; i++)
        if (dup2(moved[i], 3 + (int)i) < 0)
            goto fail;
    if (chan >= 0 && dup2(chan, o->chan_target) < 0)
        goto fail;
    /* Whatever else is open (inherited by the master from its own parent,
     * say) closes at exec: the worker gets only what it was given. */
    close_range((unsigned)high, ~0U, CLOSE_RANGE_CLOEXEC);

    if (o->directory != NULL && chdir(o->directory) < 0)
        goto fail;
    if (o->gid != (gid_t)-1) {
        if (setgroups(o->ngroups, o->groups) < 0 || setgid(o->gid) < 0)
            goto fail;
    }
    if (o->uid != (uid_t)-1 && setuid(o->uid) < 0)
        goto fail;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvpe(o->argv[0], o->argv, o->envp);
fail:
    err = errno;
    (void)!write(report, &err, sizeof(err));
    _exit(spawn_exec_code(err));
}

int
spawn_process(const struct spawn_opts *o, pid_t *pid)
{
    sigset_t all, old;
    int pipefd[2], err = 0;
    ssize_t n;
    pid_t p;

    *pid = -1;
    if (o->nfds > SPAWN_MAX_FDS)
        return -EMFILE;
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    /* No signal handler of the master may run in the child. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    p = fork();
    if (p == 0) {
        close(pipefd[0]);
        child(o, pipefd[1]);
    }
    err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(pipefd[1]);
    if (p < 0) {
        close(pipefd[0]);
        return -err;
    }
    *pid = p;
    /* The pipe closes on a successful exec; an errno comes if it failed. */
    do
        n = read(pipefd[0], &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    return n == (ssize_t)sizeof(err) ? -err : 0;
}
