/* protocol.c: encode, decode, send and receive control-protocol messages. */
#include "protocol.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
proto_encode(void *buf, size_t cap, uint16_t type, uint32_t id,
             const struct proto_kv *kv, size_t nkv)
{
    struct proto_hdr h;
    char *p = (char *)buf + PROTO_HDR_LEN;
    size_t used = PROTO_HDR_LEN;

    if (cap > PROTO_MAX_MSG)
        cap = PROTO_MAX_MSG;
    if (cap < PROTO_HDR_LEN || nkv > PROTO_MAX_KEYS)
        return -EMSGSIZE;
    for (size_t i = 0; i < nkv; i++) {
        size_t kl = strlen(kv[i].key), vl = strlen(kv[i].value);

        if (kl == 0 || strpbrk(kv[i].key, "=\n") != NULL ||
            strchr(kv[i].value, '\n') != NULL)
            return -EINVAL;
        if (used + kl + vl + 2 > cap)
            return -EMSGSIZE;
        memcpy(p, kv[i].key, kl);
        p[kl] = '=';
        memcpy(p + kl + 1, kv[i].value, vl);
        p[kl + 1 + vl] = '\n';
        p += kl + vl + 2;
        used += kl + vl + 2;
    }
    h.version = PROTO_VERSION;
    h.type = type;
    h.id = id;
    h.len = (uint32_t)(used - PROTO_HDR_LEN);
    h.reserved = 0;
    memcpy(buf, &h, PROTO_HDR_LEN);
    return (int)used;
}

int
proto_decode(const void *buf, size_t len, struct proto_msg *m)
{
    char *line, *nl, *eq;
    size_t n;

    memset(&m->hdr, 0, sizeof(m->hdr));
    m->nkv = 0;
    if (len < PROTO_HDR_LEN || len > PROTO_MAX_MSG)
        return -EPROTO;
    memcpy(&m->hdr, buf, PROTO_HDR_LEN);
    if (m->hdr.version != PROTO_VERSION)
        return -EPROTONOSUPPORT;
    n = len - PROTO_HDR_LEN;
    if (m->hdr.len != n)
        return -EPROTO;
    memcpy(m->text, (const char *)buf + PROTO_HDR_LEN, n);
    m->text[n] = '\0';
    if (strlen(m->text) != n)
        return -EPROTO; /* an embedded NUL */
    if (n > 0 && m->text[n - 1] != '\n')
        return -EPROTO;
    for (line = m->text; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = '\0';
        eq = strchr(line, '=');
        if (eq == NULL || eq == line)
            return -EPROTO;
        if (m->nkv == PROTO_MAX_KEYS)
            return -EPROTO;
        *eq = '\0';
        m->kv[m->nkv].key = line;
        m->kv[m->nkv].value = eq + 1;
        m->nkv++;
    }
    return 0;
}

const char *
proto_get(const struct proto_msg *m, const char *key)
{
    for (size_t i = 0; i < m->nkv; i++)
        if (strcmp(m->kv[i].key, key) == 0)
            return m->kv[i].value;
    return NULL;
}

int
proto_send(int sock, const void *buf, size_t len, int fd)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    if (fd >= 0) {
        struct cmsghdr *c;

        memset(&u, 0, sizeof(u));
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Close every fd carried by the control messages of msg. */
static void
close_fds(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
         c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int x;
            memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            close(x);
        }
    }
}

int
proto_recv(int sock, void *buf, size_t cap, int *fd)
{
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    union {
        /* Room for more than the one fd allowed, to catch senders of many. */
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c;
    ssize_t n;

    *fd = -1;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        close_fds(&msg);
        return -EPROTO;
    }
    c = CMSG_FIRSTHDR(&msg);
    if (c != NULL) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(sizeof(int)) ||
            CMSG_NXTHDR(&msg, c) != NULL) {
            close_fds(&msg);
            return -EPROTO;
        }
        memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
    return (int)n;
}
