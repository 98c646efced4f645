/* addr.c: parse, format and match the socket addresses handoff manages. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static int
fail(char *err, size_t errlen, const char *what, const char *s)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: \"%s\"", what, s);
    return -EINVAL;
}

static int
parse_port(const char *p, int *port)
{
    char *end;
    long v;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    errno = 0;
    v = strtol(p, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
        return -EINVAL;
    *port = (int)v;
    return 0;
}

static int
parse_unix(const char *s, struct addr *a, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
    const char *path = s + 5;
    size_t n = strlen(path);

    if (n == 0 || path[0] != '/')
        return fail(err, errlen, "unix socket path must be absolute", s);
    if (n >= sizeof(sun->sun_path))
        return fail(err, errlen, "unix socket path too long", s);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int
addr_parse(const char *s, struct addr *a, char *err, size_t errlen)
{
    char host[64];
    const char *colon, *portstr;
    size_t hlen;
    int port;

    memset(a, 0, sizeof(*a));
    if (s == NULL || *s == '\0')
        return fail(err, errlen, "empty address", s ? s : "");
    if (strncmp(s, "unix:", 5) == 0)
        return parse_unix(s, a, err, errlen);
    if (strncmp(s, "udp:", 4) == 0) {
        char why[ADDR_STRLEN + 64];
        int rc;
        if (s[4] == '\0' || strncmp(s + 4, "unix:", 5) == 0 ||
            strncmp(s + 4, "udp:", 4) == 0)
            return fail(err, errlen,
                        "expected udp:HOST:PORT, udp:[IPV6]:PORT "
                        "or udp::PORT",
                        s);
        rc = addr_parse(s + 4, a, why, sizeof(why));
        a->dgram = 1;
        if (rc < 0 && err != NULL && errlen > 0)
            snprintf(err, errlen, "%s in \"%s\"", why, s);
        return rc;
    }

    if (s[0] == '[') {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':')
            return fail(err, errlen, "expected [IPV6]:PORT", s);
        hlen = (size_t)(close - s - 1);
        if (hlen == 0 || hlen >= sizeof(host))
            return fail(err, errlen, "bad IPv6 address", s);
        memcpy(host, s + 1, hlen);
        host[hlen] = '\0';
        if (parse_port(close + 2, &port) < 0)
            return fail(err, errlen, "bad port (0-65535)", s);
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return fail(err, errlen, "bad IPv6 address", s);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        a->len = sizeof(*sin6);
        return 0;
    }

    colon = strrchr(s, ':');
    if (colon == NULL)
        return fail(err, errlen, "expected HOST:PORT, [IPV6]:PORT, :PORT "
                    "or unix:/path", s);
    if (strchr(s, ':') != colon)
        return fail(err, errlen, "IPv6 addresses go in brackets", s);
    portstr = colon + 1;
    hlen = (size_t)(colon - s);
    if (hlen >= sizeof(host))
        return fail(err, errlen, "bad host", s);
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (parse_port(portstr, &port) < 0)
        return fail(err, errlen, "bad port (0-65535)", s);

    struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    a->len = sizeof(*sin);
    if (hlen == 0 || strcmp(host, "*") == 0)
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return fail(err, errlen, "bad IPv4 address (use a number, "
                    "localhost or *)", s);
    return 0;
}

int
addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    int n;

    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        n = snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        n = snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        plen = strnlen(sun->sun_path, plen);
        n = snprintf(buf, size, "unix:%.*s", (int)plen, sun->sun_path);
        break;
    }
    default:
        n = snprintf(buf, size, "family-%d", sa->sa_family);
        break;
    }
    if (n < 0 || (size_t)n >= size)
        return -ENOSPC;
    return 0;
}

int
addr_text(const struct addr *a, char *buf, size_t size)
{
    size_t o = a->dgram ? 4 : 0;

    if (size <= o)
        return -ENOSPC;
    if (a->dgram)
        memcpy(buf, "udp:", 4);
    return addr_format((const struct sockaddr *)&a->ss, a->len, buf + o,
                       size - o);
}

int
addr_family(const struct addr *a)
{
    return a->ss.ss_family;
}

int
addr_port(const struct addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return -1;
}

int
addr_equal(const struct addr *a, const struct sockaddr *sa, socklen_t len)
{
    if (a->ss.ss_family != sa->sa_family)
        return 0;
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
        const struct sockaddr_in *y = (const struct sockaddr_in *)sa;
        return len >= sizeof(*y) && x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->ss;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)sa;
        return len >= sizeof(*y) && x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(y->sin6_addr)) == 0;
    }
    case AF_UNIX: {
        const struct sockaddr_un *x = (const struct sockaddr_un *)&a->ss;
        const struct sockaddr_un *y = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if (len <= off)
            return 0;
        return strncmp(x->sun_path, y->sun_path, len - off) == 0 &&
               strnlen(y->sun_path, len - off) == strlen(x->sun_path);
    }
    }
    return 0;
}

int
addr_port_zero(const struct sockaddr *sa, socklen_t len)
{
    return (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in) &&
            ((const struct sockaddr_in *)sa)->sin_port == 0) ||
           (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6) &&
            ((const struct sockaddr_in6 *)sa)->sin6_port == 0);
}

int
addr_match(const struct addr *l, const struct sockaddr *sa, socklen_t len)
{
    /* A request for port 0 wants a private socket, even from an equal
     * listener. */
    if (addr_port_zero(sa, len))
        return 0;
    if (addr_equal(l, sa, len))
        return 1;
    if (l->ss.ss_family != sa->sa_family)
        return 0;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&l->ss;
        const struct sockaddr_in *y = (const struct sockaddr_in *)sa;
        return y->sin_port != 0 && x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&l->ss;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)sa;
        return y->sin6_port != 0 && x->sin6_port == y->sin6_port &&
               IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr);
    }
    return 0;
}
