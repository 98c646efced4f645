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
 * One entry per (epoll fd number, socket fd number). The numbers that name
 * one set (dup() of the epoll fd) share a set id, so that a removal through
 * one number is seen through the others. pid is the process that added the
 * socket: a forked child inherits the table and the sets, and must not take
 * its parent's registrations out.
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

/* fd was added to the set at ep by pid: 0, or -ENOSPC when the table is
 * full (grow it and call again). Already noted: nothing changes. */
int epollset_add(struct epollset *t, int ep, int fd, pid_t pid);

/* fd was taken out of the set at ep, and so out of every number naming it. */
void epollset_del(struct epollset *t, int ep, int fd);

/* Whether the set at ep holds a socket of the table. */
int epollset_holds(const struct epollset *t, int ep);

/*
 * fd, a socket, closes: forget its entries. del is called once per set it
 * was in that pid added it to (with an epoll fd number naming the set), to
 * take it out while fd still names the socket.
 */
void epollset_drop_fd(struct epollset *t, int fd, pid_t pid,
                      void (*del)(int ep, int fd));

/* The epoll fd ep closes (or another file takes its number). */
void epollset_drop_set(struct epollset *t, int ep);

/* to is now a copy of epoll fd from (dup): the same set, the same entries.
 * -ENOSPC when the table is full, with part of them copied. */
int epollset_copy(struct epollset *t, int from, int to);

#endif
