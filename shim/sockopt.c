/* sockopt.c: options a process set on a shared socket, kept to itself. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "sockopt.h"

int
sockopt_record(struct sockopt_table *t, int fd, int level, int name,
               const void *val, socklen_t len)
{
    struct sockopt_entry *e = (struct sockopt_entry *)sockopt_find(t, fd, level, name);

    if (len > SOCKOPT_VALMAX || (val == NULL && len > 0))
        return -EINVAL;
    if (e == NULL) {
        if (t->n >= t->cap)
            return -ENOSPC;
        e = &t->e[t->n++];
    }
    e->fd = fd;
    e->level = level;
    e->name = name;
    e->len = len;
    if (len > 0)
        memcpy(e->val, val, len);
    return 0;
}

const struct sockopt_entry *
sockopt_find(const struct sockopt_table *t, int fd, int level, int name)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].fd == fd && t->e[i].level == level && t->e[i].name == name)
            return &t->e[i];
    return NULL;
}

void
sockopt_forget(struct sockopt_table *t, int fd)
{
    for (int i = 0; i < t->n;)
        if (t->e[i].fd == fd)
            t->e[i] = t->e[--t->n];
        else
            i++;
}

int
sockopt_copy(struct sockopt_table *t, int from, int to)
{
    /* Entries recorded here land at the end: n as it was bounds the walk. */
    for (int i = 0, n = t->n; i < n; i++) {
        struct sockopt_entry e = t->e[i];
        int rc;

        if (e.fd == from &&
            (rc = sockopt_record(t, to, e.level, e.name, e.val, e.len)) < 0)
            return rc;
    }
    return 0;
}

/* The listener options the kernel copies into accepted sockets. */
static const struct {
    int level, name;
} copied[] = {
    {SOL_SOCKET, SO_KEEPALIVE},  {SOL_SOCKET, SO_LINGER},
    {SOL_SOCKET, SO_RCVBUF},     {SOL_SOCKET, SO_SNDBUF},
    {SOL_SOCKET, SO_PRIORITY},   {SOL_SOCKET, SO_RCVLOWAT},
    {SOL_SOCKET, SO_RCVTIMEO},   {SOL_SOCKET, SO_SNDTIMEO},
    {IPPROTO_TCP, TCP_NODELAY},  {IPPROTO_TCP, TCP_KEEPIDLE},
    {IPPROTO_TCP, TCP_KEEPINTVL}, {IPPROTO_TCP, TCP_KEEPCNT},
    {IPPROTO_TCP, TCP_USER_TIMEOUT}, {IPPROTO_TCP, TCP_CONGESTION},
};

int
sockopt_inherited(int level, int name)
{
    for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
        if (copied[i].level == level && copied[i].name == name)
            return 1;
    return 0;
}

/*
 * Whether the server set level/name on sock to something else than a fresh
 * socket has: its value in val and *len, a buffer size halved (Linux
 * doubles what it is given, and reports that), to be given again.
 */
static int
changed(int sock, int fresh, int level, int name, unsigned char *val,
        socklen_t *len, int (*getopt)(int, int, int, void *, socklen_t *))
{
    unsigned char def[SOCKOPT_VALMAX];
    socklen_t dlen = sizeof(def);

    *len = SOCKOPT_VALMAX;
    memset(def, 0, sizeof(def));
    if (getopt(sock, level, name, val, len) < 0)
        return 0;
    if (fresh >= 0 && getopt(fresh, level, name, def, &dlen) == 0 &&
        dlen == *len && memcmp(val, def, *len) == 0)
        return 0;
    if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF) &&
        *len == sizeof(int)) {
        int v;
        memcpy(&v, val, sizeof(v));
        v /= 2;
        memcpy(val, &v, sizeof(v));
    }
    return 1;
}

int
sockopt_carry(struct sockopt_table *t, int fd, int sock, int fresh,
              int (*getopt)(int, int, int, void *, socklen_t *))
{
    int n = 0;

    for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
        unsigned char val[SOCKOPT_VALMAX];
        socklen_t len;
        int level = copied[i].level, name = copied[i].name, rc;

        if (!changed(sock, fresh, level, name, val, &len, getopt))
            continue;
        if ((rc = sockopt_record(t, fd, level, name, val, len)) < 0)
            return rc;
        n++;
    }
    return n;
}

/* What a datagram socket keeps to the process: see sockopt.h. */
static const struct {
    int level, name;
} dgram_kept[] = {
    {SOL_SOCKET, SO_REUSEADDR},
    {SOL_SOCKET, SO_REUSEPORT},
    {SOL_SOCKET, SO_BINDTODEVICE},
    {SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF},
    {SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF},
    {SOL_SOCKET, SO_DETACH_REUSEPORT_BPF},
    {IPPROTO_IP, IP_FREEBIND},
    {IPPROTO_IP, IP_TRANSPARENT},
    {IPPROTO_IPV6, IPV6_V6ONLY},
    {IPPROTO_IPV6, IPV6_FREEBIND},
    {IPPROTO_IPV6, IPV6_TRANSPARENT},
};

int
sockopt_dgram_kept(int level, int name)
{
    for (size_t i = 0; i < sizeof(dgram_kept) / sizeof(dgram_kept[0]); i++)
        if (dgram_kept[i].level == level && dgram_kept[i].name == name)
            return 1;
    return 0;
}

/* The options UDP servers set before bind() (unbound, dnsmasq, knot,
 * memcached, QUIC servers) that bind() must not lose. */
static const struct {
    int level, name;
} dgram_carried[] = {
    {SOL_SOCKET, SO_RCVBUF},
    {SOL_SOCKET, SO_SNDBUF},
    {SOL_SOCKET, SO_RCVTIMEO},
    {SOL_SOCKET, SO_SNDTIMEO},
    {SOL_SOCKET, SO_PRIORITY},
    {SOL_SOCKET, SO_TIMESTAMP},
    {SOL_SOCKET, SO_TIMESTAMPNS},
    {SOL_SOCKET, SO_RXQ_OVFL},
    {IPPROTO_IP, IP_PKTINFO},
    {IPPROTO_IP, IP_RECVTOS},
    {IPPROTO_IP, IP_RECVTTL},
    {IPPROTO_IP, IP_RECVERR},
    {IPPROTO_IP, IP_TOS},
    {IPPROTO_IP, IP_MTU_DISCOVER},
    {IPPROTO_IP, IP_RECVORIGDSTADDR},
    {IPPROTO_IPV6, IPV6_RECVPKTINFO},
    {IPPROTO_IPV6, IPV6_RECVTCLASS},
    {IPPROTO_IPV6, IPV6_RECVHOPLIMIT},
    {IPPROTO_IPV6, IPV6_RECVERR},
    {IPPROTO_IPV6, IPV6_TCLASS},
    {IPPROTO_IPV6, IPV6_MTU_DISCOVER},
};

int
sockopt_dgram_carry(int sock, int to, int fresh,
                    int (*getopt)(int, int, int, void *, socklen_t *),
                    int (*setopt)(int, int, int, const void *, socklen_t))
{
    int n = 0;

    for (size_t i = 0; i < sizeof(dgram_carried) / sizeof(dgram_carried[0]);
         i++) {
        unsigned char val[SOCKOPT_VALMAX];
        socklen_t len;
        int level = dgram_carried[i].level, name = dgram_carried[i].name;

        if (!changed(sock, fresh, level, name, val, &len, getopt))
            continue;
        /* A size past net.core.rmem_max needs the FORCE option, which the
         * server could use if it may now (CAP_NET_ADMIN). */
        if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF) &&
            setopt(to, level,
                   name == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, val,
                   len) == 0) {
            n++;
            continue;
        }
        n += setopt(to, level, name, val, len) == 0;
    }
    return n;
}

int
sockopt_apply(const struct sockopt_table *t, int fd, int conn,
              int (*setopt)(int, int, int, const void *, socklen_t))
{
    int n = 0;

    for (int i = 0; i < t->n; i++) {
        const struct sockopt_entry *e = &t->e[i];
        if (e->fd == fd && sockopt_inherited(e->level, e->name) &&
            setopt(conn, e->level, e->name, e->val, e->len) == 0)
            n++;
    }
    return n;
}
