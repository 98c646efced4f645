/* listener_state.h: a listener and its reuseport group as JSON, and the same
 * sockets taken over from it by the image an upgrade executes. */
#ifndef HANDOFF_LISTENER_STATE_H
#define HANDOFF_LISTENER_STATE_H

#include <jansson.h>
#include <stddef.h>

#include "listener.h"

/*
 * The object, one per listener (part of the master's state document, whose
 * version covers it):
 *
 *   {"name": "web", "addr": {"len": 16, "sockaddr": "02001f90..."},
 *    "bound": {...}, "bound_text": "127.0.0.1:8080", "fd": 7,
 *    "cookie": "4099", "backlog": 4096, "nonblocking": 0, "traffic": 0,
 *    "dev": "2049", "ino": "131", "mode": -1, "uid": 4294967295,
 *    "gid": 4294967295,
 *    "steer": null | {"addr": {...}, "backlog": 4096, "nonblocking": 0,
 *              "members": [{"fd": 8, "cookie": "4100", "owner": 1,
 *                           "gen": 2}, ...],
 *              "pinned": 2, "probed": 0, "swaps": 5}}
 *
 * Addresses are the sockaddr's bytes (its first len, in hex), so that
 * every family and field comes back exactly. dev, ino and the socket
 * cookies (SO_COOKIE: the kernel's identity of a socket, the same through
 * every descriptor and across an exec) are 64-bit unsigned, written as
 * decimal text; a cookie "0" was not known and is not checked. members are
 * in the kernel's order of the group, which the attached program indexes.
 *
 * Not carried: refs and pass (rebuilt by whoever holds the listener: an
 * adopted listener has one reference, pass 0) and the group's ops table
 * (a pointer: an adopted group has the kernel's, as listener_open gives).
 */

/* The object for l: a new reference, or NULL when out of memory. */
json_t *listener_state_write(const struct listener *l);

/*
 * Let every descriptor of l survive an execve (on = 1: FD_CLOEXEC cleared)
 * or close on it again (on = 0), as before and after an exec that failed.
 * Returns 0, or -errno with every descriptor as it was.
 */
int listener_state_inherit(const struct listener *l, int on);

/*
 * A listener rebuilt from o and the descriptors it names, each checked
 * first: open, a socket, listening, bound to the recorded address, the
 * socket recorded (its cookie) (O_NONBLOCK not: a worker may set it on the
 * open file it shares), and for a group's
 * members SO_REUSEPORT set and no descriptor twice. Adopted descriptors
 * get FD_CLOEXEC back. Returns 0; -EINVAL with the listener and the field
 * or member at fault named in err, nothing adopted, nothing closed or
 * changed (the descriptors still belong to the image that wrote o); or
 * -ENOMEM.
 */
int listener_state_adopt(const json_t *o, struct listener **out, char *err,
                         size_t errlen);

#endif
