/* listener.h: the listening sockets the master holds for its whole life. */
#ifndef HANDOFF_LISTENER_H
#define HANDOFF_LISTENER_H

#include <sys/types.h>

#include "config.h"

struct steer_plan;

struct listener {
    char name[CONFIG_NAME_MAX];
    struct addr addr;            /* as configured */
    struct addr bound;           /* as bound (the real port for port 0) */
    char bound_text[ADDR_STRLEN];
    int fd;              /* shared: the one socket; steered: -1 */
    struct steer *steer; /* steered: one socket per generation (steer.h) */
    long backlog;
    int nonblocking; /* O_NONBLOCK, set on the one open file all share */
    int traffic;     /* as configured (enum traffic_mode) */
    int refs;
    dev_t dev; /* the unix socket file we made, to remove it on close */
    ino_t ino;
    long mode;      /* unix: as configured, to make the file again */
    uid_t uid;
    gid_t gid;
    unsigned pass;  /* plan_each_listener's: seen in this pass */
    int more_refused; /* a socket more for a generation refused: said once */
};

/*
 * Open, bind and listen (close-on-exec; blocking unless lc->nonblocking).
 * A TCP listener with traffic = steered opens a reuseport group instead,
 * or, where the kernel refuses its program, says so once in the log and
 * is shared.
 * A unix path left by a crashed run (nobody accepts on it) is replaced; a
 * live one is an error.
 * Returns 0 or -errno with the address named in err.
 */
int listener_open(const struct listen_conf *lc, struct listener **out,
                  char *err, size_t errlen);

/*
 * Set or clear O_NONBLOCK of the shared socket: for the master and every
 * worker that holds it at once. Returns 0 or -errno.
 */
int listener_set_nonblocking(struct listener *l, int on);

/*
 * Find an open listener configured with lc's address, for reuse on reload,
 * not one of taken; one of the same name first.
 */
struct listener *listener_find(struct listener **ls, size_t n,
                               const struct listen_conf *lc,
                               struct listener **taken, size_t ntaken);

/* The socket generation gen accepts from (-1: it has none here). */
int listener_fd(const struct listener *l, unsigned gen);

/* The accept queue of gen's socket, or -errno. */
int listener_queued(const struct listener *l, unsigned gen);

/* A UDP listener's: the bytes queued on gen's socket (0 if it has none),
 * or -errno; in *drops the datagrams it dropped (steer_received; -1: not
 * known). */
int listener_received(const struct listener *l, unsigned gen, long *drops);

/*
 * Another socket of gen's on l, for a server that binds the address once
 * per thread (steer_join_more), in *fd. Only a steered UDP listener has
 * them: -EOPNOTSUPP otherwise; -ENOSPC: the group is full; -EOPNOTSUPP
 * with flows = quic. The caller lends gen's first socket instead.
 */
int listener_fd_more(struct listener *l, const struct steer_plan *sp,
                     unsigned gen, int *fd);

/* Socket fd, one listener_fd_more gave gen, leaves its group (its process
 * is gone; logged); nothing if gen's sockets already left. */
void listener_leave_one(struct listener *l, const struct steer_plan *sp,
                        unsigned gen, int fd);

/* flows = quic or none (enum flows_mode), from the next program on: a
 * reload that ends it sends the old generations' QUIC connections where
 * the plan says. */
void listener_set_flows(struct listener *l, int flows);

/* Set the backlog of every socket of l. Returns 0 or -errno. */
int listener_set_backlog(struct listener *l, long backlog);

/*
 * A unix listener whose socket file vanished (a program the shim does not
 * reach removed it) cannot be reached: a socket file cannot be linked
 * again. Make a new socket at the path (same mode and owner) and lend it
 * from now on; the master closes its copy of the old one, which lives on
 * in the workers that accept from it. Returns 1 when it did, 0 when the
 * file is there (or l is not a unix listener), or -errno.
 */
int listener_restore(struct listener *l);

/*
 * The device and inode of the file at path (a link followed only with
 * follow), without blocking: only what the kernel has cached is walked
 * (RESOLVE_CACHED) and no file system is asked for attributes, so that a
 * path in a FUSE mount that does not answer, or on a dead NFS server,
 * cannot hold the master's loop. Returns 0; -EAGAIN when the lookup would
 * need I/O; -EOPNOTSUPP on kernels before 5.12; or -errno (-ENOENT...).
 */
int listener_peek(const char *path, int follow, dev_t *dev, ino_t *ino);

struct listener *listener_ref(struct listener *l);

/* Drop a reference; the last one closes the socket (and its unix file). */
void listener_unref(struct listener *l);

#endif
