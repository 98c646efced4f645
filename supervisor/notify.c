/* notify.c: receive sd_notify messages and attribute them by credentials. */
#include "notify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handle.h"
#include "log.h"
#include "notify_state.h"

static void
on_readable(uv_poll_t *h, int status, int events)
{
    struct notify *n = h->data;
    char buf[4096];
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) +
                 CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } u;

    if (n == NULL)
        return;
    for (int batch = 0; batch < 64; batch++) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        struct ucred *cred = NULL;
        struct notify_msg nm;
        ssize_t r;

        r = recvmsg(n->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (r < 0)
            return;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
             c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET)
                continue;
            if (c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                cred = (struct ucred *)CMSG_DATA(c);
            else if (c->cmsg_type == SCM_RIGHTS) {
                /* sd_notify may carry fds (FDSTORE): handoff keeps none. */
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                    close(fd);
                }
            }
        }
        if (cred == NULL || (size_t)r > sizeof(buf)) {
            log_event(LOG_WARN, "notify_ignored", "reason=%s",
                      cred ? "oversized" : "no-credentials");
            continue;
        }
        notify_parse(buf, (size_t)r, &nm);
        n->cb(n->ctx, cred->pid, &nm);
    }
}

int
notify_poll(uv_loop_t *loop, struct notify *n)
{
    n->poll = handle_poll(loop, n->fd, n);
    if (n->poll == NULL)
        return -ENOMEM;
    uv_poll_start(n->poll, UV_READABLE, on_readable);
    return 0;
}

int
notify_open(uv_loop_t *loop, const char *path, notify_cb *cb, void *ctx,
            struct notify **out)
{
    struct notify *n = calloc(1, sizeof(*n));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int one = 1, e;

    if (n == NULL)
        return -ENOMEM;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        free(n);
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    strcpy(n->path, path);
    n->cb = cb;
    n->ctx = ctx;
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0)
        goto fail;
    if (setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
        goto fail;
    unlink(path);
    if (bind(n->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        goto fail;
    if (notify_poll(loop, n) < 0) {
        errno = ENOMEM;
        goto fail;
    }
    *out = n;
    return 0;
fail:
    e = errno;
    if (n->fd >= 0)
        close(n->fd);
    free(n);
    return -e;
}

void
notify_close(struct notify *n)
{
    if (n == NULL)
        return;
    handle_close(n->poll);
    close(n->fd);
    unlink(n->path);
    free(n);
}
