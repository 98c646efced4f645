/* notify_state.h: the workers' NOTIFY_SOCKET as an upgrade carries it: written
 * by one image of handoff, the same socket adopted by the next. */
#ifndef HANDOFF_NOTIFY_STATE_H
#define HANDOFF_NOTIFY_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <sys/un.h>
#include <uv.h>

#include "notify.h"

/* Here rather than in notify.c, for notify_state.c and its test. */
struct notify {
    int fd;
    uv_poll_t *poll;
    notify_cb *cb;
    void *ctx;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Poll n->fd on loop, each message to n->cb: 0 or -ENOMEM. */
int notify_poll(uv_loop_t *loop, struct notify *n);

/*
 * The object (part of the master's state document, whose version covers
 * it):
 *
 *   {"fd": 5, "cookie": "4097", "path": "/run/handoff.1/notify"}
 *
 * cookie is the socket's SO_COOKIE as decimal text ("0": not known, not
 * checked). Not carried: the poll handle, the callback and its context
 * (pointers: the adopting image gives its own, as to notify_open).
 * Datagrams sent while the exec runs wait in the socket's queue and are
 * read by the new image.
 */
json_t *notify_state_write(const struct notify *n);

/* Let n's socket survive an execve (on = 1) or close on it again (on = 0:
 * after an exec that failed). 0 or -errno. */
int notify_state_inherit(const struct notify *n, int on);

/*
 * n rebuilt from o and the descriptor it names, checked first: open, a
 * unix datagram socket, not listening, bound to the recorded path, the
 * socket recorded, SO_PASSCRED on; then polled on loop with cb and ctx,
 * FD_CLOEXEC set again. Returns 0; -EINVAL with the fault in err
 * ("notify: fd 5 is not a datagram socket"), nothing adopted, nothing
 * closed or changed; or -ENOMEM.
 */
int notify_state_adopt(uv_loop_t *loop, const json_t *o, notify_cb *cb,
                       void *ctx, struct notify **out, char *err,
                       size_t errlen);

#endif
