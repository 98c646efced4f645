/* spawn.c: start a process with default signals, an empty mask and exact fds. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdlimit.h"

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

/*
 * The child's own stack. It shares the master's memory until its exec (see
 * spawn_process), so it needs a stack of its own; one serves every spawn,
 * as the master waits for each child to exec or exit before the next. Room
 * for child()'s frame (8 KiB of fds) and execvpe()'s path search.
 */
#define CHILD_STACK (256 * 1024)
static char *child_stack;

struct child_args {
    const struct spawn_opts *o;
    int report;
    pid_t parent;
    const struct rlimit *nofile; /* to set before exec, or NULL */
};

static const char *const step_names[] = {
    [SPAWN_STEP_FDS] = "placing descriptors",
    [SPAWN_STEP_PGROUP] = "process group",
    [SPAWN_STEP_DIRECTORY] = "directory",
    [SPAWN_STEP_IDENTITY] = "user and groups",
    [SPAWN_STEP_PARENT] = "parent death signal",
    [SPAWN_STEP_LIMITS] = "resource limits",
    [SPAWN_STEP_PRELOAD] = "preloaded library",
    [SPAWN_STEP_EXEC] = "exec",
};

const char *
spawn_step_name(int step)
{
    if (step <= 0 || step >= (int)(sizeof(step_names) / sizeof(step_names[0])))
        return "start";
    return step_names[step];
}

/*
 * Only async-signal-safe calls from here to exec: the child of a clone that
 * shares the master's memory. Identity changes are raw system calls: glibc's
 * wrappers would act for every thread of the process they think they are.
 */
static int
child(void *arg)
{
    const struct spawn_opts *o = ((struct child_args *)arg)->o;
    int report = ((struct child_args *)arg)->report;
    pid_t parent = ((struct child_args *)arg)->parent;
    const struct rlimit *nofile = ((struct child_args *)arg)->nofile;
    int high = 3 + (int)o->nfds + 1, report_msg[2];
    int step = SPAWN_STEP_FDS;
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
    if (o->watchdog_pid_index >= 0)
        put_decimal(o->envp[o->watchdog_pid_index] + strlen("WATCHDOG_PID="),
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

    /*
     * A worker in handoff's process group gets what a terminal sends that
     * group: ^C's SIGINT without a drain, and its own background read makes
     * the kernel send SIGTTIN to the group, which handoff takes for "one
     * process more" (a runaway). In a group of its own, the terminal's
     * signals reach handoff alone, which forwards or drains. Set here, not
     * by the master after the clone, so that no signal to the group can
     * come before it exists.
     */
    step = SPAWN_STEP_PGROUP;
    if (o->own_pgroup && setpgid(0, 0) < 0)
        goto fail;
    step = SPAWN_STEP_DIRECTORY;
    if (o->directory != NULL && chdir(o->directory) < 0)
        goto fail;
    step = SPAWN_STEP_IDENTITY;
    if (o->gid != (gid_t)-1) {
        if (syscall(SYS_setgroups, o->ngroups, o->groups) < 0 ||
            syscall(SYS_setresgid, o->gid, o->gid, o->gid) < 0)
            goto fail;
    }
    if (o->uid != (uid_t)-1 &&
        syscall(SYS_setresuid, o->uid, o->uid, o->uid) < 0)
        goto fail;
    /*
     * A master killed by SIGKILL could not stop its workers, and they would
     * go on holding its ports (a new handoff then fails with EADDRINUSE):
     * the kernel kills them instead. After the identity change, which
     * clears the setting. It fires when the thread that cloned the worker
     * ends, which is the master itself: it has one thread. A master gone
     * before the setting took is seen here as a new parent.
     */
    step = SPAWN_STEP_PARENT;
    if (o->die_with_parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
            goto fail;
        if (getppid() != parent) {
            errno = ESRCH;
            goto fail;
        }
    }

    /* access() checks as the real user, which is the worker's now, every
     * directory on the way included. */
    step = SPAWN_STEP_PRELOAD;
    if (o->preload != NULL && access(o->preload, R_OK) < 0)
        goto fail;
    /* The soft limit the master started with, not the one it raised to:
     * a program that uses select() breaks above 1024 (fdlimit.h). Lowered
     * here, after the descriptors above were placed. */
    step = SPAWN_STEP_LIMITS;
    if (nofile != NULL && setrlimit(RLIMIT_NOFILE, nofile) < 0)
        goto fail;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    step = SPAWN_STEP_EXEC;
    execvpe(o->argv[0], o->argv, o->envp);
fail:
    report_msg[0] = step;
    report_msg[1] = errno;
    (void)!write(report, report_msg, sizeof(report_msg));
    _exit(spawn_exec_code(report_msg[1]));
}

int
spawn_process(const struct spawn_opts *o, pid_t *pid, int *report)
{
    sigset_t all, old;
    int pipefd[2] = {-1, -1}, err;
    size_t given = 3 + o->nfds; /* what the child keeps open */
    pid_t p;

    *pid = -1;
    if (report != NULL)
        *report = -1;
    if (o->nfds > SPAWN_MAX_FDS)
        return -EMFILE;
    if (child_stack == NULL) {
        void *st = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (st == MAP_FAILED)
            return -errno;
        child_stack = st;
    }
    /* Non-blocking: the master reads it from its loop, never waits on it. */
    if (report != NULL && pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    /*
     * Not fork(): a fork marks every page of the master copy-on-write, and
     * each write of the master after it faults and flushes the TLB of every
     * CPU. A roll of 64 processes spent half a second so. CLONE_VM shares
     * the memory instead and CLONE_VFORK holds the master until the child
     * has exec'd or exited, as posix_spawn() does; posix_spawn() itself
     * cannot set LISTEN_PID to the child's pid or change its groups. The
     * child's fd table, directory and signal handlers are its own copies.
     * No signal handler of the master may run in the child: all blocked.
     */
    if (o->chan_fd >= 0 && (size_t)o->chan_target + 1 > given)
        given = (size_t)o->chan_target + 1;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    p = clone(child, child_stack + CHILD_STACK,
              CLONE_VM | CLONE_VFORK | SIGCHLD,
              &(struct child_args){o, pipefd[1], getpid(),
                                   fdlimit_child_nofile(given)});
    err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (p < 0) {
        if (pipefd[0] >= 0)
            close(pipefd[0]);
        return -err;
    }
    *pid = p;
    if (report != NULL)
        *report = pipefd[0];
    return 0;
}

int
spawn_report(int fd, int *step)
{
    int msg[2] = {0, 0};
    ssize_t n;

    if (step != NULL)
        *step = 0;
    do
        n = read(fd, msg, sizeof(msg));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? -EAGAIN : 0;
    /* The pipe closed by exec (0 bytes), or the step and errno of what
     * failed, in one write (atomic on a pipe). */
    if (n != (ssize_t)sizeof(msg))
        return 0;
    if (step != NULL)
        *step = msg[0];
    return -msg[1];
}
