/*
 * dnsq.c: the dns: probe's text, its query and the check of a reply: pure,
 * so that unit tests drive them without a socket (the probe's UDP socket
 * is probe.c's). A query is a few dozen bytes: no resolver library.
 */
#include "dnsq.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Why name is not one a probe asks for, or NULL. Letters, digits, '-' and
 * '_' only: a probe asks for a name an operator typed, and a byte a
 * terminal would not show is more likely a mistake than a label. */
static const char *
name_error(const char *name)
{
    size_t n = strlen(name), label = 0;

    if (strcmp(name, ".") == 0 || n == 0)
        return NULL; /* the root */
    if (name[n - 1] == '.')
        n--; /* "example.com." is "example.com" */
    if (n > DNSQ_NAME_MAX)
        return "is longer than 253 characters";
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];

        if (ch == '.') {
            if (label == 0)
                return "has an empty label";
            label = 0;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return "holds a character other than a letter, digit, '-', "
                   "'_' or '.'";
        if (++label > 63)
            return "has a label longer than 63 characters";
    }
    return label == 0 ? "has an empty label" : NULL;
}

int
dnsq_parse(const char *spec, struct addr *dst, char *name, size_t nsize,
           char *err, size_t errlen)
{
    const char *slash = strchr(spec, '/');
    size_t hl = slash ? (size_t)(slash - spec) : strlen(spec);
    char hostport[ADDR_STRLEN];
    const char *why = NULL;
    struct addr a;

    if (hl == 0 || hl >= sizeof(hostport)) {
        why = "no HOST:PORT";
    } else {
        memcpy(hostport, spec, hl);
        hostport[hl] = '\0';
        /* udp:HOST:PORT is a listener's form, not a server's to ask. */
        if (addr_parse(hostport, &a, NULL, 0) < 0 ||
            addr_family(&a) == AF_UNIX || a.dgram)
            why = "HOST:PORT needs an IPv4 address, [IPv6] address or "
                  "localhost and a port 1-65535";
        else if (addr_port(&a) == 0)
            why = "port 0 is no server's";
        else if ((addr_family(&a) == AF_INET &&
                  ((struct sockaddr_in *)&a.ss)->sin_addr.s_addr ==
                      htonl(INADDR_ANY)) ||
                 (addr_family(&a) == AF_INET6 &&
                  IN6_IS_ADDR_UNSPECIFIED(
                      &((struct sockaddr_in6 *)&a.ss)->sin6_addr)))
            /* A reply would come from the address the server chose, not
             * the one asked, and count for nothing. */
            why = "a wildcard address is no server's: name the address";
    }
    if (why == NULL && slash != NULL && slash[1] == '\0')
        why = "an empty name after '/' (the root is \".\")";
    if (why == NULL && slash != NULL && (why = name_error(slash + 1)) != NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "the name %s", why);
        return -EINVAL;
    }
    if (why == NULL &&
        snprintf(name, nsize, "%s", slash ? slash + 1 : ".") >= (int)nsize)
        why = "name too long";
    if (why != NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s (expected dns:HOST:PORT[/NAME])", why);
        return -EINVAL;
    }
    if (dst != NULL)
        *dst = a;
    return 0;
}

int
dnsq_build(const char *name, uint16_t id, uint8_t *buf, size_t size)
{
    size_t o = 12;
    const char *p = name;

    if (name_error(name) != NULL)
        return -EINVAL;
    if (size < 12 + strlen(name) + 2 + 4)
        return -ENOSPC;
    memset(buf, 0, 12);
    buf[0] = (uint8_t)(id >> 8);
    buf[1] = (uint8_t)id;
    /* RD, as a stub resolver sets it: a recursive server answers it (or
     * refuses it) rather than ignoring a query it will not recurse for. */
    buf[2] = 0x01;
    buf[5] = 1; /* one question */
    /* Each label as its length and bytes; the root is the empty label. */
    while (*p != '\0' && strcmp(p, ".") != 0) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);

        buf[o++] = (uint8_t)n;
        memcpy(buf + o, p, n);
        o += n;
        p += n + (dot != NULL);
    }
    buf[o++] = 0;
    buf[o++] = 0; /* type A */
    buf[o++] = 1;
    buf[o++] = 0; /* class IN */
    buf[o++] = 1;
    return (int)o;
}

int
dnsq_match(const uint8_t *buf, size_t len, uint16_t id)
{
    /* A header is 12 bytes: less is not a DNS message. QR clear is a
     * query, such as ours reflected back. */
    return len >= 12 && buf[0] == (uint8_t)(id >> 8) && buf[1] == (uint8_t)id &&
           (buf[2] & 0x80) != 0;
}

int
dnsq_rcode(const uint8_t *buf, size_t len)
{
    return len >= 4 ? buf[3] & 0x0f : -1;
}
