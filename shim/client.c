/* client.c: the shim's side of the control protocol: ask, and judge the reply. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "client.h"

int
client_ask(int chan, client_poll_fn pollfn, int timeout_ms, uint16_t type,
           uint32_t id, const struct proto_kv *kv, size_t nkv,
           struct proto_msg *reply, int *fd)
{
    char buf[PROTO_MAX_MSG];
    int n = proto_encode(buf, sizeof(buf), type, id, kv, nkv);

    *fd = -1;
    if (n < 0)
        return n;
    if ((n = proto_send(chan, buf, (size_t)n, -1)) < 0)
        return n;
    for (;;) {
        struct pollfd p = {.fd = chan, .events = POLLIN};
        n = pollfn(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? -ETIMEDOUT : -errno;
        n = proto_recv(chan, buf, sizeof(buf), fd);
        if (n == -EAGAIN || n == -EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? -ECONNRESET : n;
        if (proto_decode(buf, (size_t)n, reply) < 0 || reply->hdr.id != id) {
            if (*fd >= 0)
                close(*fd);
            *fd = -1;
            continue;
        }
        return 0;
    }
}

enum client_verdict
client_verdict(int rc, const struct proto_msg *reply, int fd, int *err)
{
    const char *e;

    if (rc < 0) {
        *err = ECONNREFUSED;
        return CLIENT_FAIL;
    }
    if (reply->hdr.type == PROTO_SOCKET && fd >= 0)
        return CLIENT_SOCKET;
    if (fd >= 0)
        close(fd);
    if (reply->hdr.type == PROTO_ERROR) {
        e = proto_get(reply, "errno");
        *err = e != NULL && atoi(e) > 0 ? atoi(e) : EPROTO;
        return *err == ENOENT ? CLIENT_PASS : CLIENT_FAIL;
    }
    *err = EPROTO;
    return CLIENT_FAIL;
}
