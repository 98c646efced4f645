/* channel.c: serve the control protocol to workers over their socketpairs. */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "generation.h"
#include "handle.h"
#include "log.h"
#include "worker.h"

static int
reply_error(void *reply, size_t cap, uint32_t id, int err, const char *msg)
{
    char num[16];
    struct proto_kv kv[] = {{"errno", num}, {"message", msg}};

    snprintf(num, sizeof(num), "%d", err);
    return proto_encode(reply, cap, PROTO_ERROR, id, kv, 2);
}

/* A unix path spelled another way (./, .., a symlinked directory) that
 * names the socket file the master made. The path is the worker's: it
 * may lead into a FUSE mount of its user that never answers, so it is
 * looked up without blocking (listener_peek); a path that would need I/O
 * to resolve is not found. */
static const struct listener *
lookup_file(const struct plan *p, const struct addr *a)
{
    dev_t dev;
    ino_t ino;

    if (addr_family(a) != AF_UNIX ||
        listener_peek(((const struct sockaddr_un *)&a->ss)->sun_path, 1, &dev,
                      &ino) < 0)
        return NULL;
    for (size_t i = 0; i < p->nls; i++)
        if (p->ls[i]->ino != 0 && p->ls[i]->ino == ino && p->ls[i]->dev == dev)
            return p->ls[i];
    return NULL;
}

static const struct listener *
lookup(const struct plan *p, const struct proto_msg *req)
{
    const char *name = proto_get(req, "name");
    const char *address = proto_get(req, "address");
    struct addr a;

    if (name != NULL) {
        for (size_t i = 0; i < p->nls; i++)
            if (strcmp(p->ls[i]->name, name) == 0)
                return p->ls[i];
        return NULL;
    }
    if (address == NULL || addr_parse(address, &a, NULL, 0) < 0)
        return NULL;
    for (size_t i = 0; i < p->nls; i++)
        if (p->ls[i]->bound.dgram == a.dgram &&
            addr_match(&p->ls[i]->bound, (struct sockaddr *)&a.ss, a.len))
            return p->ls[i];
    return lookup_file(p, &a);
}

int
channel_answer(const struct plan *p, unsigned gen_id,
               const struct proto_msg *req, void *reply, size_t cap, int *fd)
{
    uint32_t id = req->hdr.id;

    *fd = -1;
    switch (req->hdr.type) {
    case PROTO_HELLO: {
        char ver[8], gen[16], names[PROTO_MAX_MSG / 2] = "";
        size_t o = 0;
        struct proto_kv kv[] = {
            {"version", ver}, {"generation", gen}, {"listeners", names}};

        snprintf(ver, sizeof(ver), "%d", PROTO_VERSION);
        snprintf(gen, sizeof(gen), "%u", gen_id);
        for (size_t i = 0; i < p->nls; i++) {
            int n = snprintf(names + o, sizeof(names) - o, "%s%s",
                             i ? "," : "", p->ls[i]->name);
            if (n < 0 || (size_t)n >= sizeof(names) - o) {
                names[o] = '\0'; /* whole names only: not the cut one */
                break;
            }
            o += (size_t)n;
        }
        return proto_encode(reply, cap, PROTO_WELCOME, id, kv, 3);
    }
    case PROTO_GET: {
        const struct listener *l;
        struct proto_kv kv[2];

        if (proto_get(req, "name") == NULL && proto_get(req, "address") == NULL)
            return reply_error(reply, cap, id, EINVAL,
                               "GET needs name= or address=");
        l = lookup(p, req);
        if (l == NULL)
            return reply_error(reply, cap, id, ENOENT,
                               "no such listener in this generation");
        kv[0] = (struct proto_kv){"name", l->name};
        kv[1] = (struct proto_kv){"address", l->bound_text};
        /* Only whether it is managed: the shim's unlink() asks so. */
        if (proto_get(req, "lend") && strcmp(proto_get(req, "lend"), "no") == 0)
            return proto_encode(reply, cap, PROTO_SOCKET, id, kv, 2);
        *fd = listener_fd(l, gen_id);
        if (*fd < 0)
            return reply_error(reply, cap, id, ENOENT,
                               "no socket for this generation");
        return proto_encode(reply, cap, PROTO_SOCKET, id, kv, 2);
    }
    case PROTO_READY:
        return 0;
    default:
        return reply_error(reply, cap, id, ENOSYS, "unknown message type");
    }
}

/*
 * A GET with more=1: the server binds the address once more (once per
 * thread), so it gets another socket of its generation's rather than the
 * first again, remembered with its worker until it exits. Where there can
 * be none (a shared or TCP listener, a full group, flows = quic, no room
 * with the worker) *fd stays the first, which serves all the same; said
 * once per listener.
 */
static void
lend_more(struct channel *c, const struct proto_msg *req, int *fd)
{
    struct worker *w = c->w;
    const char *more = proto_get(req, "more");
    struct listener *l;
    int extra = -1, rc;

    if (more == NULL || strcmp(more, "1") != 0 || *fd < 0 ||
        (l = (struct listener *)lookup(w->gen->plan, req)) == NULL)
        return;
    rc = w->nextras >= WORKER_MAX_EXTRAS
             ? -ENOSPC
             : listener_fd_more(l, w->ctx->sp, w->gen->id, &extra);
    if (rc < 0) {
        if (!l->more_refused)
            log_event(LOG_WARN, "member_refused",
                      "name=%s gen=%u pid=%d error=%s hint=%s", log_q(l->name),
                      w->gen->id, (int)w->child.pid, log_q(strerror(-rc)),
                      log_q("a second bind of the address gets its "
                            "generation's first socket again"));
        l->more_refused = 1;
        return;
    }
    w->extras[w->nextras].l = listener_ref(l);
    w->extras[w->nextras].fd = extra;
    w->nextras++;
    log_event(LOG_INFO, "member_joined", "name=%s gen=%u pid=%d fd=%d",
              log_q(l->name), w->gen->id, (int)w->child.pid, extra);
    *fd = extra;
}

static void
channel_fail(struct channel *c, const char *why)
{
    struct worker *w = c->w;

    log_event(w->state == W_STOPPING || strcmp(why, "closed by the worker") == 0
                  ? LOG_DEBUG : LOG_WARN,
              "channel_closed", "gen=%u pid=%d reason=%s",
              w->gen->id, (int)w->child.pid, log_q(why));
    channel_close(c);
    w->chan = NULL;
}

/*
 * recv() returns 0 both for an empty packet and at end-of-file: the peer
 * is gone only if it shut its end. An empty packet from a live worker is
 * a message too short for its header, answered like any other.
 */
static int
peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};

    return poll(&p, 1, 0) != 0 && (p.revents & (POLLRDHUP | POLLHUP)) != 0;
}

static void
on_readable(uv_poll_t *h, int status, int events)
{
    struct channel *c = h->data;
    char buf[PROTO_MAX_MSG], reply[PROTO_MAX_MSG];
    struct proto_msg msg;
    int n, fd, rc;

    if (c == NULL)
        return;
    /* A bounded batch per wakeup: a flooding worker cannot starve the loop. */
    for (int batch = 0; batch < 32; batch++) {
        n = proto_recv(c->fd, buf, sizeof(buf), &fd);
        if (n == -EAGAIN)
            return;
        if (n == 0 && peer_gone(c->fd)) {
            channel_fail(c, "closed by the worker");
            return;
        }
        if (n < 0) {
            channel_fail(c, n == -EPROTO ? "oversized or malformed packet"
                                         : strerror(-n));
            return;
        }
        if (fd >= 0)
            close(fd); /* workers send no fds; never keep one */
        c->requests++;
        rc = proto_decode(buf, (size_t)n, &msg);
        if (rc < 0) {
            rc = reply_error(reply, sizeof(reply), msg.hdr.id, -rc,
                             rc == -EPROTONOSUPPORT ? "unsupported version"
                                                    : "malformed message");
            if (rc > 0)
                proto_send(c->fd, reply, (size_t)rc, -1);
            log_event(LOG_WARN, "channel_bad_message", "gen=%u pid=%d",
                      c->w->gen->id, (int)c->w->child.pid);
            continue;
        }
        if (msg.hdr.type == PROTO_READY) {
            c->cc.ready(c->cc.ctx, c->w, READY_LISTEN);
            continue;
        }
        rc = channel_answer(c->w->gen->plan, c->w->gen->id, &msg, reply,
                            sizeof(reply), &fd);
        if (msg.hdr.type == PROTO_GET && rc > 0)
            lend_more(c, &msg, &fd);
        if (rc > 0 && (rc = proto_send(c->fd, reply, (size_t)rc, fd)) < 0) {
            channel_fail(c, rc == -EAGAIN ? "worker does not read its replies"
                                          : strerror(-rc));
            return;
        }
        if (msg.hdr.type == PROTO_GET && fd >= 0)
            log_event(LOG_DEBUG, "lend", "gen=%u pid=%d fd=%d", c->w->gen->id,
                      (int)c->w->child.pid, fd);
    }
}

/* c (taken: freed on failure) watches fd for w. 0 or -ENOMEM. */
static int
attach(struct channel *c, const struct channel_ctx *cc, struct worker *w,
       int fd)
{
    c->fd = fd;
    c->cc = *cc;
    c->w = w;
    c->poll = handle_poll(cc->loop, c->fd, c);
    if (c->poll == NULL || uv_poll_start(c->poll, UV_READABLE, on_readable) < 0) {
        handle_close(c->poll);
        free(c);
        return -ENOMEM;
    }
    w->chan = c;
    return 0;
}

int
channel_open(const struct channel_ctx *cc, struct worker *w, int *child_end)
{
    struct channel *c = calloc(1, sizeof(*c));
    int sv[2];

    if (c == NULL)
        return -ENOMEM;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   sv) < 0) {
        int e = errno;
        free(c);
        return -e;
    }
    /* The worker's end is blocking: simple clients block on their replies. */
    {
        int fl = fcntl(sv[1], F_GETFL);
        if (fl >= 0)
            fcntl(sv[1], F_SETFL, fl & ~O_NONBLOCK);
    }
    if (attach(c, cc, w, sv[0]) < 0) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    *child_end = sv[1];
    return 0;
}

int
channel_adopt(const struct channel_ctx *cc, struct worker *w, int fd,
              unsigned long requests)
{
    struct channel *c;
    int type = 0, domain = 0, fl;
    socklen_t len = sizeof(type), dlen = sizeof(domain);

    /* The fd an earlier image named: its own end of a channel, nothing
     * else a worker could have put at that number. */
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 ||
        type != SOCK_SEQPACKET || domain != AF_UNIX)
        return -EBADF;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return -ENOMEM;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    if ((fl = fcntl(fd, F_GETFL)) >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    c->requests = requests;
    return attach(c, cc, w, fd);
}

void
channel_close(struct channel *c)
{
    if (c == NULL)
        return;
    handle_close(c->poll);
    close(c->fd);
    free(c);
}
