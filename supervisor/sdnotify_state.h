/* sdnotify_state.h: handoff's own NOTIFY_SOCKET (to its service manager) as an
 * upgrade carries it: the socket and the address, which the environment no
 * longer holds. */
#ifndef HANDOFF_SDNOTIFY_STATE_H
#define HANDOFF_SDNOTIFY_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sdnotify.h"

/* Here rather than in sdnotify.c, for sdnotify_state.c and its test. */
struct sdnotify {
    int fd;
    struct sockaddr_un sun;
    socklen_t len;
    int warned; /* a failed send is logged once */
};

/*
 * The object (part of the master's state document, whose version covers
 * it), or null when handoff has no NOTIFY_SOCKET:
 *
 *   {"fd": 6, "cookie": "4098", "address": "/run/systemd/notify",
 *    "warned": 0}
 *
 * address is NOTIFY_SOCKET's value as handoff found it at start ("@name"
 * for an abstract socket): sdnotify_open removed it from the environment,
 * so that the image an upgrade executes cannot read it there; it reads it
 * here. The socket is unbound (sends only). Everything is carried.
 */
json_t *sdnotify_state_write(const struct sdnotify *n);

/* Let n's socket survive an execve (on = 1) or close on it again (on = 0).
 * 0 or -errno; n NULL: 0. */
int sdnotify_state_inherit(const struct sdnotify *n, int on);

/*
 * n rebuilt from o (null: *out NULL, 0) and the descriptor it names,
 * checked first: open, a unix datagram socket, not listening, not bound,
 * the socket recorded; FD_CLOEXEC set again. Returns 0; -EINVAL with the
 * fault in err ("sdnotify: fd 6 is not open"), nothing adopted, nothing
 * closed or changed; or -ENOMEM.
 */
int sdnotify_state_adopt(const json_t *o, struct sdnotify **out, char *err,
                         size_t errlen);

#endif
