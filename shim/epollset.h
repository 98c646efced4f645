/* epollset.h: which epoll sets a managed socket was added to, by fd number. */
#ifndef HANDOFF_EPOLLSET_H
#define HANDOFF_EPOLLSET_H

#include <sys/types.h>

/*
 * The shim needs the epoll sets a process put a managed socket in for two
 * things: close() of the socket takes it out of them (the master keeps the
 * file open, so the kernel would not), and a wait on such a set is the
 * serving loop, which ready = listen waits for. A wait on the set's fd
 * itself counts too (EventMachine, under thin, ppoll()s its epoll fd).
 *
 * A set has an id, given when epoll_create made it (or, for an epoll fd
 * the shim did not see made, when a socket is first added through it), and
 * every number naming it (dup() of the epoll fd) shares that id from then
 * on, empty or not: a socket added or taken out through one number is seen
 * through the others. The kernel gives no cheap way to tell two epoll fds
 * apart (they share one anonymous inode), hence the table.
 *
 * Two kinds of entry share one array: a name (ep >= 0, fd < 0: the number
 * ep names set) and a registration (ep < 0, fd >= 0: socket fd is in set,
 * added by pid). pid matters after fork: a child inherits the table and
 * the sets, and must not take its parent's registrations out.
 */
struct epollset_entry {
    int ep, fd;
    unsigned set;
    pid_t pid;
};

/* The caller owns the storage (the shim grows it without malloc). */
struct epollset {
    struct epollset_entry *e; /* cap entries */
    int n, cap;
    unsigned next_set;
};

/* epoll_create gave ep: a new, empty set. 0, or -ENOSPC when the table is
 * full (grow it and call again; until then ep is unknown, as if made
 * behind the shim's back). */
int epollset_open(struct epollset *t, int ep);

/* fd was added to the set at ep by pid: 0, or -ENOSPC when the table is
 * full (grow it and call again). Already noted: nothing changes. */
int epollset_add(struct epollset *t, int ep, int fd, pid_t pid);

/* fd was taken out of the set at ep, and so out of every number naming it. */
void epollset_del(struct epollset *t, int ep, int fd);

/* Whether the set at ep holds a socket of the table. */
int epollset_holds(const struct epollset *t, int ep);

/*
 * fd, a socket, closes: forget its registrations. del is called once per
 * set it was in that pid added it to (with an epoll fd number naming the
 * set), to take it out while fd still names the socket.
 */
void epollset_drop_fd(struct epollset *t, int fd, pid_t pid,
                      void (*del)(int ep, int fd));

/* The number ep stops naming its set (close, or another file takes the
 * number); the set's registrations go with its last number. */
void epollset_drop_set(struct epollset *t, int ep);

/* Every number from lo to hi closes (close_range, closefrom). */
void epollset_drop_range(struct epollset *t, unsigned lo, unsigned hi);

/* to is now a copy of epoll fd from (dup): another name of the same set.
 * -ENOSPC when the table is full (to is then unknown). */
int epollset_copy(struct epollset *t, int from, int to);

#endif
