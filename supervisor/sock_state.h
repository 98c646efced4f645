/* sock_state.h: what the master's own sockets (notify, sdnotify, control,
 * metrics) share when an upgrade carries them: identity, keeping across the
 * exec, and the checks an adopted descriptor passes first. */
#ifndef HANDOFF_SOCK_STATE_H
#define HANDOFF_SOCK_STATE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "state.h"

/* The socket behind fd (SO_COOKIE: the kernel's identity of a socket, the
 * same across an exec); 0 when not known. */
uint64_t sock_state_cookie(int fd);

/* A 64-bit unsigned value as decimal text (beyond a JSON integer), and
 * back: o[key], a fault in r when it is not one. */
json_t *sock_state_u64(uint64_t v);
uint64_t sock_state_get_u64(struct state_rd *r, const json_t *o,
                            const char *key);

/* FD_CLOEXEC of fd cleared (on = 1: the exec keeps it) or set. 0 or
 * -errno. */
int sock_state_keep(int fd, int on);

/* What an adopted descriptor must be. */
struct sock_want {
    int family;              /* AF_UNIX, or AF_INET / AF_INET6 (that of addr) */
    int type;                /* SOCK_DGRAM, SOCK_STREAM */
    int listening;           /* 1: it listens; 0: it does not */
    const char *path;        /* AF_UNIX: bound to this path ("": not bound) */
    const struct addr *addr; /* AF_INET*: bound to this address */
    int passcred;            /* SO_PASSCRED set */
    uint64_t cookie;         /* the socket recorded (0: not checked) */
};

/*
 * Whether fd is the socket w describes: open, a socket, of w's type and
 * family, listening or not, bound where w says, the same socket (cookie),
 * with SO_PASSCRED if asked. 0, or -EINVAL with the fault in r, the
 * descriptor named: "control: fd 9 is not listening".
 */
int sock_state_check(struct state_rd *r, int fd, const struct sock_want *w);

#endif
