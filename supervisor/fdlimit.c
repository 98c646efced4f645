/* fdlimit.c: raise the open-file limit; children get theirs back; EMFILE. */
#include "fdlimit.h"

#include <errno.h>
#include <stdio.h>

/* Descriptors a listener may take during a roll: a socket for each of up to
 * three generations (kept, active, starting) in the master, and two more
 * in the child being started (moved out of the way, then placed at 3...). */
#define FDLIMIT_PER_LISTENER 5
#define FDLIMIT_FIXED 32 /* log, loop, control, metrics, notify, channels */
/* Room a child needs above what it is given to start at all: ld.so and its
 * libraries, a few files. */
#define FDLIMIT_CHILD_ROOM 64

static struct rlimit start;
static int raised;

int
fdlimit_raise_nofile(void)
{
    struct rlimit rl;

    if (raised)
        return 0; /* start keeps the limit the master started with */
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    start = rl;
    if (rl.rlim_cur >= rl.rlim_max)
        return 0;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    raised = 1;
    return 1;
}

unsigned long long
fdlimit_start_soft(void)
{
    return raised ? (unsigned long long)start.rlim_cur : 0;
}

void
fdlimit_restore(unsigned long long soft)
{
    if (soft == 0 || getrlimit(RLIMIT_NOFILE, &start) < 0 ||
        soft > start.rlim_max)
        return;
    start.rlim_cur = (rlim_t)soft;
    raised = 1;
}

const struct rlimit *
fdlimit_child_nofile(size_t given)
{
    static struct rlimit child;
    struct rlimit now;

    /* Descriptors up to given, and those it opens to start (ld.so's), would
     * not fit under the start's limit: the child keeps the raised one. */
    if (!raised || given + FDLIMIT_CHILD_ROOM > start.rlim_cur)
        return NULL;
    child = start;
    /* The hard limit as it is now: prlimit(1) may have lowered the
     * master's since, and a worker of another user may not raise it again
     * (EPERM: no worker would start any more), nor have a soft one above
     * it (EINVAL). */
    if (getrlimit(RLIMIT_NOFILE, &now) == 0) {
        child.rlim_max = now.rlim_max;
        if (child.rlim_cur > now.rlim_max)
            child.rlim_cur = now.rlim_max;
    }
    return &child;
}

void
fdlimit_nofile_explain(char *buf, size_t size, size_t nlisteners)
{
    struct rlimit rl = {0, 0};

    getrlimit(RLIMIT_NOFILE, &rl);
    snprintf(buf, size,
             "too many open files (RLIMIT_NOFILE %llu, hard limit "
             "%llu): %zu listeners need up to about %zu descriptors during "
             "a roll; raise the hard limit (ulimit -Hn, LimitNOFILE=)",
             (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
             nlisteners, nlisteners * FDLIMIT_PER_LISTENER + FDLIMIT_FIXED);
}
