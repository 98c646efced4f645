/* client.h: the shim's side of the control protocol: ask, and judge the reply. */
#ifndef HANDOFF_CLIENT_H
#define HANDOFF_CLIENT_H

#include <poll.h>
#include <stdint.h>

#include "protocol.h"

/* The poll the shim calls must be libc's, not its own interposed one. */
typedef int (*client_poll_fn)(struct pollfd *, nfds_t, int);

/*
 * Send one request on chan and wait up to timeout_ms for the reply with the
 * same id. Replies with another id belong to a forked sibling sharing the
 * channel: they are skipped and any fd they carry is closed. Returns 0 with
 * *reply and *fd (or -1) set, -ETIMEDOUT, -ECONNRESET when the master is
 * gone, or another -errno.
 */
int client_ask(int chan, client_poll_fn pollfn, int timeout_ms, uint16_t type,
               uint32_t id, const struct proto_kv *kv, size_t nkv,
               struct proto_msg *reply, int *fd);

enum client_verdict {
    CLIENT_SOCKET, /* use the fd: the address is managed */
    CLIENT_PASS,   /* not managed: the server's own bind() goes ahead */
    CLIENT_FAIL,   /* bind() fails with *err */
};

/*
 * What the answer to a GET means for bind(): rc is client_ask()'s result.
 * Never CLIENT_PASS unless the master said the address is not managed (an
 * unreachable master must not lead to a private socket). On CLIENT_FAIL a
 * received fd has been closed.
 */
enum client_verdict client_verdict(int rc, const struct proto_msg *reply,
                                   int fd, int *err);

#endif
