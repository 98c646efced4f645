/* addr.h: socket addresses as handoff writes them: parse, format, match. */
#ifndef HANDOFF_ADDR_H
#define HANDOFF_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest text form: a unix path (108) plus "unix:" and some slack. */
#define ADDR_STRLEN 128

struct addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int dgram; /* udp:HOST:PORT: a datagram socket (0: a stream one) */
};

/*
 * Parse HOST:PORT, [V6]:PORT, :PORT, *:PORT or unix:/path, each a stream
 * socket's, or udp: and an IP one of them for a datagram socket's. HOST is
 * a numeric IPv4 address or "localhost"; an empty host or "*" is 0.0.0.0.
 * Returns 0, or -EINVAL with a message in err.
 */
int addr_parse(const char *s, struct addr *a, char *err, size_t errlen);

/* Write the text form of a stream socket's address into buf. */
int addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                size_t size);
/* The text form of a (udp: for a datagram socket's): what addr_parse reads. */
int addr_text(const struct addr *a, char *buf, size_t size);

int addr_family(const struct addr *a);
int addr_port(const struct addr *a);

/* Same family, address and port (or path); the socket type is the
 * caller's to compare (a sockaddr does not carry it). */
int addr_equal(const struct addr *a, const struct sockaddr *sa, socklen_t len);

/* An IPv4 or IPv6 address with port 0: a request for a private socket. */
int addr_port_zero(const struct sockaddr *sa, socklen_t len);

/*
 * Does a listener at l serve a request for sa? Exact equality, or l is the
 * wildcard of sa's family and the ports are equal (a request for port 0
 * matches nothing: it is a private socket).
 */
int addr_match(const struct addr *l, const struct sockaddr *sa, socklen_t len);

#endif
