/* sockopt.h: options a process set on a shared socket, kept to itself. */
#ifndef HANDOFF_SOCKOPT_H
#define HANDOFF_SOCKOPT_H

#include <sys/socket.h>

/*
 * A listening socket's options belong to its one open file, shared by the
 * master and every generation: a setsockopt() by one process would change
 * them for all (SO_LINGER or SO_RCVBUF are copied into every connection
 * any generation accepts). The shim records what a process sets instead,
 * answers its getsockopt() from the record, and applies the options the
 * kernel would have copied to the connections that process accepts.
 */
#define SOCKOPT_VALMAX 32

struct sockopt_entry {
    int fd, level, name;
    socklen_t len;
    unsigned char val[SOCKOPT_VALMAX];
};

/* The caller owns the storage (the shim grows it without malloc). */
struct sockopt_table {
    struct sockopt_entry *e; /* cap entries */
    int n, cap;
};

/* Record (or replace) an option set on fd; -ENOSPC when the table is full
 * (grow it and call again), -EINVAL when the value is too long; then
 * nothing is recorded. */
int sockopt_record(struct sockopt_table *t, int fd, int level, int name,
                   const void *val, socklen_t len);

/* The recorded option, or NULL. */
const struct sockopt_entry *sockopt_find(const struct sockopt_table *t, int fd,
                                         int level, int name);

/* Forget everything recorded for fd (it was closed). */
void sockopt_forget(struct sockopt_table *t, int fd);

/* Record for to what is recorded for from (a copy made with dup()):
 * -ENOSPC when the table is full, with part of it copied. */
int sockopt_copy(struct sockopt_table *t, int from, int to);

/* Whether the kernel copies this listener option into accepted sockets. */
int sockopt_inherited(int level, int name);

/*
 * Before the master's socket takes fd's number in bind(): record for fd the
 * options the server set on its own socket sock, those the kernel would
 * copy to accepted connections and whose value differs from fresh's (a new
 * socket of the same family: the defaults). SO_RCVBUF and SO_SNDBUF are
 * recorded halved, since Linux doubles what setsockopt() gives it. Options
 * getopt cannot read on sock are skipped. Returns how many were recorded,
 * or -ENOSPC when the table is full (grow it and call again).
 */
int sockopt_carry(struct sockopt_table *t, int fd, int sock, int fresh,
                  int (*getopt)(int, int, int, void *, socklen_t *));

/*
 * Apply fd's inherited options to conn, a connection accepted on fd, with
 * setsockopt (errors ignored: the connection is the server's either way).
 * Returns how many were applied.
 */
int sockopt_apply(const struct sockopt_table *t, int fd, int conn,
                  int (*setopt)(int, int, int, const void *, socklen_t));

/*
 * A datagram socket has no connections to copy options into: the server
 * reads from the socket itself, so what it sets must reach the socket
 * (IP_PKTINFO changes what recvmsg() returns; buffer sizes, timeouts, the
 * TOS of replies). Each generation's UDP socket is its own (steered), so
 * the shim sets them for real, except those that would take the socket
 * out of its group, let another socket bind beside it or replace the
 * master's program: those it keeps to the process, as for a listener.
 */
int sockopt_dgram_kept(int level, int name);

/*
 * Before the master's UDP socket takes fd's number in bind(): set on it
 * (to) what the server set on its own (sock) and differs from fresh's (a
 * new datagram socket of the family), among the options a UDP server sets
 * (sockopt.c lists them). Returns how many were set.
 */
int sockopt_dgram_carry(int sock, int to, int fresh,
                        int (*getopt)(int, int, int, void *, socklen_t *),
                        int (*setopt)(int, int, int, const void *, socklen_t));

#endif
