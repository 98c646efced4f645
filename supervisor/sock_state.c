/* sock_state.c: the checks the master's own sockets pass before an image
 * started by an upgrade adopts them, and what their states share. */
#include "sock_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

uint64_t
sock_state_cookie(int fd)
{
    uint64_t c = 0;
    socklen_t len = sizeof(c);

    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len) < 0)
        return 0;
    return c;
}

json_t *
sock_state_u64(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

uint64_t
sock_state_get_u64(struct state_rd *r, const json_t *o, const char *key)
{
    char buf[24], *end;
    unsigned long long v;

    buf[0] = '\0';
    state_text(r, o, key, buf, sizeof(buf));
    if (r->failed)
        return 0;
    errno = 0;
    v = strtoull(buf, &end, 10);
    if (buf[0] < '0' || buf[0] > '9' || *end != '\0' || errno != 0) {
        state_fault(r, key, "\"%s\" is not a 64-bit unsigned number", buf);
        return 0;
    }
    return (uint64_t)v;
}

int
sock_state_keep(int fd, int on)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0)
        return -errno;
    if (fcntl(fd, F_SETFD, on ? fl & ~FD_CLOEXEC : fl | FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

/* "control: fd 9 ...": the descriptor is the subject, not a field. */
static int
fd_fault(struct state_rd *r, int fd, const char *fmt, ...)
{
    char what[200];
    va_list ap;

    if (!r->failed) {
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        r->failed = 1;
        snprintf(r->err, r->errlen, "%s%s%sfd %d %s", r->prefix, r->path,
                 r->path[0] ? ": " : "", fd, what);
    }
    return -EINVAL;
}

static const char *
family_name(int f)
{
    return f == AF_UNIX    ? "unix"
           : f == AF_INET  ? "IPv4"
           : f == AF_INET6 ? "IPv6"
                           : "other";
}

static const char *
article(int f)
{
    return f == AF_INET || f == AF_INET6 ? "an" : "a";
}

/* Where a unix socket is bound, as text ("" when it is not). */
static void
unix_name(const struct sockaddr_un *sun, socklen_t len, char *buf, size_t size)
{
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path)
                   : 0;

    if (n > 0 && sun->sun_path[0] == '\0') /* abstract */
        snprintf(buf, size, "@%.*s", (int)(n - 1), sun->sun_path + 1);
    else
        snprintf(buf, size, "%.*s", (int)strnlen(sun->sun_path, n),
                 sun->sun_path);
}

static int
check_bound(struct state_rd *r, int fd, const struct sock_want *w)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char have[ADDR_STRLEN], want[ADDR_STRLEN];

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return fd_fault(r, fd, "getsockname: %s", strerror(errno));
    if (w->family == AF_UNIX) {
        unix_name((struct sockaddr_un *)&ss, len, have, sizeof(have));
        if (strcmp(have, w->path) == 0)
            return 0;
        if (have[0] == '\0')
            return fd_fault(r, fd, "is not bound (to %s)", w->path);
        return fd_fault(r, fd, "is bound to %s, not %s", have,
                        w->path[0] ? w->path : "unbound");
    }
    if (addr_equal(w->addr, (struct sockaddr *)&ss, len))
        return 0;
    if (addr_format((struct sockaddr *)&ss, len, have, sizeof(have)) < 0)
        snprintf(have, sizeof(have), "?");
    if (addr_format((const struct sockaddr *)&w->addr->ss, w->addr->len, want,
                    sizeof(want)) < 0)
        snprintf(want, sizeof(want), "?");
    return fd_fault(r, fd, "is bound to %s, not %s", have, want);
}

int
sock_state_check(struct state_rd *r, int fd, const struct sock_want *w)
{
    int type = 0, family = 0, on = 0;
    socklen_t len = sizeof(int);
    struct stat st;
    uint64_t c;

    if (fcntl(fd, F_GETFD) < 0)
        return fd_fault(r, fd, "is not open");
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return fd_fault(r, fd, "is not a socket");
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) < 0 ||
        family != w->family)
        return fd_fault(r, fd, "is not %s %s socket (%s)", article(w->family),
                        family_name(w->family), family_name(family));
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != w->type)
        return fd_fault(r, fd, "is not a %s socket",
                        w->type == SOCK_DGRAM ? "datagram" : "stream");
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0)
        on = 0;
    if (!on != !w->listening)
        return fd_fault(r, fd,
                        w->listening ? "is not listening" : "is listening");
    if (check_bound(r, fd, w) < 0)
        return -EINVAL;
    if (w->cookie != 0 && (c = sock_state_cookie(fd)) != w->cookie)
        return fd_fault(r, fd,
                        "is another socket than the one recorded (cookie "
                        "%" PRIu64 ", not %" PRIu64 ")",
                        c, w->cookie);
    on = 0;
    len = sizeof(int);
    if (w->passcred &&
        (getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, &len) < 0 || !on))
        return fd_fault(r, fd, "has no SO_PASSCRED: senders not known");
    return 0;
}
