/* dnsq.h: the dns: probe's text, its query's bytes and whether a datagram
 * answers it. */
#ifndef HANDOFF_DNSQ_H
#define HANDOFF_DNSQ_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* A name's text, without its final dot, as DNS bounds it (RFC 1035: 255
 * bytes on the wire). */
#define DNSQ_NAME_MAX 253
/* The header (12), the longest name on the wire (255), type and class. */
#define DNSQ_QUERY_MAX (12 + 255 + 4)

/*
 * Split HOST:PORT[/NAME] (what follows "dns:"): the address to ask (an
 * IPv4 or [IPv6] address or localhost, not a wildcard; a port 1-65535) into
 * dst and the name into name ("." when none is given). 0, or -EINVAL with
 * what is wrong in err (err may be NULL), for the caller to name the value.
 */
int dnsq_parse(const char *spec, struct addr *dst, char *name, size_t nsize,
               char *err, size_t errlen);

/* The query for name's A record, class IN, with id and recursion desired,
 * into buf: its length, or -EINVAL (not a name dnsq_parse takes) or
 * -ENOSPC. */
int dnsq_build(const char *name, uint16_t id, uint8_t *buf, size_t size);

/* Whether the datagram buf answers the query of id: a response (QR set)
 * carrying id. Its rcode, TC bit and sections do not matter: a server
 * that answers at all is up. */
int dnsq_match(const uint8_t *buf, size_t len, uint16_t id);

/* The rcode of a reply dnsq_match took. */
int dnsq_rcode(const uint8_t *buf, size_t len);

#endif
