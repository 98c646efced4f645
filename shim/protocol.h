/* protocol.h: the control protocol between the master and its workers. */
#ifndef HANDOFF_PROTOCOL_H
#define HANDOFF_PROTOCOL_H

/*
 * Every worker holds one end of a socketpair(AF_UNIX, SOCK_SEQPACKET) whose
 * number is in HANDOFF_FD. One message is one packet:
 *
 *   struct proto_hdr (16 bytes, host byte order) | payload
 *
 * The payload is text, lines of "key=value\n": no NUL, no line without
 * '=', at most PROTO_MAX_KEYS lines. A receiver ignores keys it does not
 * know, so either side may add keys without breaking the other. version
 * changes only when a message changes meaning incompatibly; a receiver
 * answers a version it does not speak with PROTO_ERROR errno=EPROTONOSUPPORT.
 * Message types are numbered once and never reused.
 *
 * Requests (worker to master) carry an id that the reply echoes.
 *
 *   PROTO_HELLO    pid=                   -> PROTO_WELCOME
 *   PROTO_WELCOME  version= generation= listeners=NAME,NAME...
 *   PROTO_GET      name= | address=       -> PROTO_SOCKET (fd attached)
 *                  more=1 (optional: another socket of a UDP address)
 *                                            or PROTO_ERROR
 *   PROTO_SOCKET   name= address= (the socket's bound address)
 *   PROTO_ERROR    errno= (a number) message=
 *   PROTO_READY    status= (optional)     no reply: the sender is ready
 *
 * An fd is sent with SCM_RIGHTS, one per message, and received with
 * MSG_CMSG_CLOEXEC. A packet longer than PROTO_MAX_MSG is an error.
 */

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_MAX_MSG 4096
#define PROTO_MAX_KEYS 32
#define PROTO_HDR_LEN 16

enum proto_type {
    PROTO_HELLO = 1,
    PROTO_WELCOME = 2,
    PROTO_GET = 3,
    PROTO_SOCKET = 4,
    PROTO_ERROR = 5,
    PROTO_READY = 6,
};

struct proto_hdr {
    uint16_t version;
    uint16_t type;
    uint32_t id;
    uint32_t len; /* payload bytes after the header */
    uint32_t reserved;
};

struct proto_kv {
    const char *key;
    const char *value;
};

/* A decoded message; keys and values point into text. */
struct proto_msg {
    struct proto_hdr hdr;
    size_t nkv;
    struct proto_kv kv[PROTO_MAX_KEYS];
    char text[PROTO_MAX_MSG - PROTO_HDR_LEN + 1];
};

/* Encode into buf; returns the packet length or -EMSGSIZE / -EINVAL. */
int proto_encode(void *buf, size_t cap, uint16_t type, uint32_t id,
                 const struct proto_kv *kv, size_t nkv);

/* Decode a received packet; returns 0 or -EPROTO / -EPROTONOSUPPORT. */
int proto_decode(const void *buf, size_t len, struct proto_msg *m);

/* The value of key in m, or NULL. */
const char *proto_get(const struct proto_msg *m, const char *key);

/*
 * Send one packet with an optional fd (-1 for none). The fd stays open:
 * the master lends its sockets, it never gives them away.
 */
int proto_send(int sock, const void *buf, size_t len, int fd);

/*
 * Receive one packet. *fd gets a received fd (close-on-exec) or -1.
 * Returns the length, 0 at end of stream, -EPROTO for a truncated packet or
 * a malformed control message (received fds are closed), or -errno.
 */
int proto_recv(int sock, void *buf, size_t cap, int *fd);

#endif
