/* fdlimit.h: the open-file limit: the master's raised, its children's kept. */
#ifndef HANDOFF_FDLIMIT_H
#define HANDOFF_FDLIMIT_H

#include <stddef.h>
#include <sys/resource.h>

/*
 * Raise the soft RLIMIT_NOFILE to the hard one, as systemd does for its
 * services: each listener takes a descriptor per generation in the master,
 * and more while a worker is started. Returns 1 if raised, 0 if it already
 * was the hard one, -errno.
 */
int fdlimit_raise_nofile(void);

/* The soft limit the master started with when it raised it, else 0: an
 * upgrade carries it, and the image it starts takes it back with
 * fdlimit_restore (its own start found the limit raised already). */
unsigned long long fdlimit_start_soft(void);
void fdlimit_restore(unsigned long long soft);
/* The limit a child given descriptors 0 to given - 1 gets (the soft one
 * the master started with, under the hard one as it is now): programs that
 * use select() break above 1024. NULL, it keeps the master's: not raised,
 * or given leaves too little room under the start's (no library could
 * even be loaded). */
const struct rlimit *fdlimit_child_nofile(size_t given);

/* Put in buf why nlisteners could not be opened or passed on EMFILE: "too
 * many open files (RLIMIT_NOFILE 300, hard 300): 600 listeners need ...". */
void fdlimit_nofile_explain(char *buf, size_t size, size_t nlisteners);

#endif
