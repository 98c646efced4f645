/* steer.h: steered traffic: a reuseport group per TCP or UDP address, one
 * socket per generation, or several when its server binds once per thread. */
#ifndef HANDOFF_STEER_H
#define HANDOFF_STEER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "../shim/addr.h"
#include "canary.h"

/*
 * Every generation gets its own listening socket on the address, all in one
 * SO_REUSEPORT group. A classic BPF program attached to the group chooses,
 * on each SYN, the index of the socket that gets the connection. The kernel
 * keeps the members in an array: listen() appends, and a member that leaves
 * (close, shutdown) is replaced by the last one. The program is keyed by
 * index, so this module mirrors that array and attaches a new program after
 * every change (STEERING.md has the measurements behind each rule).
 *
 * What the program does is set by a plan (struct steer_plan), the same for
 * every group: each generation's share of client addresses, which of them
 * may serve, and the source ports its probes come from. A group is told to
 * follow the plan (steer_apply): one program swap, never detach and attach.
 *
 * A generation may own several members (a server that binds the address
 * once per thread, each thread reading its own socket): the first one
 * (steer_join) and extras (steer_join_more). Wherever the plan sends a
 * client to such a generation, the program picks one of its k members by a
 * hash of the client's source address and port (steer_flow_hash) mod k,
 * the members taken in the order of their descriptors: a flow stays on one
 * member while the generation's set is unchanged, whatever other
 * generations join or leave; a member joining or leaving reshuffles the
 * generation's own flows among its members (as the kernel's own hash does
 * without a program).
 */

#define STEER_MAX_GENS 8     /* generations in a plan */
#define STEER_MAX_MEMBERS 16 /* sockets in a group, placeholders included */
/* Places a generation's extra members leave free for the first members of
 * new generations (a roll, a roll during a roll). */
#define STEER_ROLL_ROOM 2
#define STEER_PROBE_BLOCKS 8 /* probe port blocks: one per generation probed */
#define STEER_SHARE_ALL 10000 /* shares are basis points */
/* The kernel refuses a longer program. */
#define STEER_MAX_INSNS BPF_MAXINSNS

struct steer_route {
    unsigned gen;
    unsigned share; /* basis points of client addresses */
    int serving;    /* may get clients: the fallback when no share applies */
    int block;      /* the probe port block of its probes, -1: none */
    uint8_t cookie; /* QUIC: the first byte of its connection IDs */
    int flows;      /* it got clients once: its QUIC connections follow
                       its cookie until it leaves (a starting one has none) */
};

struct steer_plan {
    struct steer_route r[STEER_MAX_GENS]; /* newest first */
    size_t n;
    uint16_t probe_lo;   /* first probe source port */
    uint16_t probe_size; /* ports per block */
    unsigned rot[STEER_PROBE_BLOCKS];
    unsigned next_block; /* blocks are handed out in turn */
    unsigned next_cookie; /* and cookies */
    /* Clients that always reach the newest generation that may serve. */
    struct canary_cidr cidrs[CANARY_MAX_CIDRS];
    size_t ncidrs;
};

/* A plan with no generation; probes come from ports lo..hi. */
void steer_plan_init(struct steer_plan *p, unsigned lo, unsigned hi);
/* A new generation, newest, with no share and a probe block; -ENOSPC. */
int steer_plan_add(struct steer_plan *p, unsigned gen);
void steer_plan_remove(struct steer_plan *p, unsigned gen);
/* The route of gen, or NULL; writable when p is (as strchr does). */
struct steer_route *steer_plan_find(const struct steer_plan *p, unsigned gen);
/* Promotion: gen gets every client and may serve; the others get none,
 * and newer ones (a canary rolled back) may serve no more. */
void steer_plan_promote(struct steer_plan *p, unsigned gen);
/* The next source port for a probe of gen (0: its probes are not steered). */
unsigned steer_plan_probe_port(struct steer_plan *p, unsigned gen);
/* The ports of gen's block in *lo..*hi; -ENOENT if it has none. */
int steer_plan_probe_range(const struct steer_plan *p, unsigned gen,
                           unsigned *lo, unsigned *hi);

/*
 * Whether probe source ports lo..hi stay out of the kernel's ephemeral
 * range, read from range_file (NULL: /proc/sys/net/ipv4/ip_local_port_range,
 * this network namespace's): a local client's port there would be taken
 * for a probe. 0, or -EINVAL with both ranges in err; a file that cannot
 * be read checks nothing.
 */
int steer_probe_ports_check(unsigned lo, unsigned hi, const char *range_file,
                            char *err, size_t errlen);

/* The kernel's side of a group; the unit tests put a model in its place. */
struct steer_ops {
    /* A TCP socket (UDP for a->dgram) with SO_REUSEPORT bound to a (the
     * real port is written back for port 0), not listening. The first of a
     * group (exclusive) binds before it sets SO_REUSEPORT, so that an address
     * in use, even by another group, is refused rather than joined. 0 or
     * -errno. */
    int (*open)(struct addr *a, int nonblocking, int exclusive, int *fd);
    int (*listen)(int fd, int backlog);
    int (*attach)(int fd, const struct sock_fprog *prog);
    void (*close)(int fd);
    int (*queued)(int fd); /* the accept queue's length, or -errno */
    int (*received)(int fd); /* bytes in a datagram socket's receive queue */
};
extern const struct steer_ops steer_kernel;

/* The kernel's count of datagram socket fd (SO_MEMINFO): the bytes queued,
 * or -errno; in *drops (unless NULL) the datagrams it dropped, its queue
 * full (-1: not known). */
int steer_received(int fd, long *drops);

/* STEER_GEN: a generation's first member (steer_fd); STEER_EXTRA: another
 * of its members. Each generation has one STEER_GEN member at most. */
enum steer_owner { STEER_RESERVED, STEER_GEN, STEER_PLACEHOLDER, STEER_EXTRA };

struct steer_member {
    int fd;
    enum steer_owner owner;
    unsigned gen; /* STEER_GEN, STEER_EXTRA */
};

struct steer {
    struct addr addr; /* the real port once the first member bound */
    long backlog;
    int nonblocking;
    const struct steer_ops *ops;
    struct steer_member m[STEER_MAX_MEMBERS]; /* the kernel's order */
    size_t n;
    unsigned pinned; /* bit i: member i gets clients under the last program */
    unsigned probed; /* bit i: member i gets probes under it */
    unsigned swaps;  /* programs attached */
    int quic; /* flows = quic: a connection's packets follow its cookie */
};

/*
 * Open the group with its first socket, listening, with a program: it is
 * reserved for the first generation that joins. -ENOPROTOOPT says the
 * kernel refused the program (other errors: the socket's, bind's); *out is
 * then NULL and nothing is left open.
 */
int steer_open(const struct addr *a, long backlog, int nonblocking,
               const struct steer_ops *ops, struct steer **out);
void steer_close(struct steer *s);

/* Give gen a socket of its own that gets nothing until the plan says so.
 * -ENOSPC: the group has STEER_MAX_MEMBERS - 1, placeholders included (a
 * join keeps the last place for the placeholder a leave may need). */
int steer_join(struct steer *s, const struct steer_plan *p, unsigned gen);
/*
 * One more member for gen, which has one already (-ENOENT otherwise): it
 * gets its part of what gen gets under the plan once the program is
 * swapped, and nothing before. Its descriptor in *fd (set as soon as the
 * socket joined, even if the swap then failed: the member then gets
 * nothing until the next program). -ENOSPC: the group is full, as for
 * steer_join, less STEER_ROLL_ROOM places kept for new generations. -EOPNOTSUPP with flows = quic: a connection's packets must
 * reach the socket that owns the connection, and a cookie names a
 * generation, not one of its members.
 */
int steer_join_more(struct steer *s, const struct steer_plan *p, unsigned gen,
                    int *fd);
/*
 * Close every socket of gen, to which the plan already sends nothing
 * (-EBUSY otherwise, unless gen owns every member of the group: then they
 * close, its first socket stays, reserved for the next generation).
 */
int steer_leave(struct steer *s, const struct steer_plan *p, unsigned gen);
/*
 * The member with descriptor fd leaves (its process is gone): its
 * generation's other members take its clients first (a program swap),
 * then it closes. If it was its generation's last, as steer_leave. 0 when
 * fd is no generation's member. Another member of the generation becomes
 * its first (steer_fd) when the first leaves. On an error once its clients
 * went to the others, it gets nothing and stays open as a placeholder,
 * until the group can close it. The generation's flows reshuffle among
 * the members left (mod k-1).
 */
int steer_leave_one(struct steer *s, const struct steer_plan *p, int fd);
/* Follow the plan: one program swap. */
int steer_apply(struct steer *s, const struct steer_plan *p);

int steer_fd(const struct steer *s, unsigned gen); /* -1: not a member */
/* gen's member descriptors, its first one first, at most cap of them in
 * fds; returns how many it has (0: not a member). */
size_t steer_fds(const struct steer *s, unsigned gen, int *fds, size_t cap);
/* What gen's members hold, summed over all of them (0: none, or not a
 * member): the connections in their accept queues, or for UDP the bytes in
 * their receive queues; so 0 means every one of them is empty. The first
 * -errno a member gives, if any. */
int steer_queued(const struct steer *s, unsigned gen);
int steer_set_backlog(struct steer *s, long backlog);
int steer_set_nonblocking(struct steer *s, int on);

/*
 * The program for plan p over members m[0..n) in *prog (len filled in),
 * and in *pinned the members that get clients. A generation's members
 * (STEER_GEN, STEER_EXTRA) share what it gets by steer_flow_hash. Returns
 * 0 or -E2BIG (too long, or n > STEER_MAX_MEMBERS).
 */
int steer_compile(const struct steer_member *m, size_t n,
                  const struct steer_plan *p, struct sock_filter *insns,
                  size_t cap, struct sock_fprog *prog, unsigned *pinned);

/*
 * With flows = quic, before the plan: the QUIC packets that name a
 * connection by a connection ID the server chose (short header: byte 1;
 * a Handshake packet of v1 or v2: byte 6) go to the member of the
 * generation whose cookie that ID starts with, among those that got
 * clients once and still have a member; anything else (Initial, 0-RTT,
 * another protocol, an unknown cookie) falls through to the plan. Writes
 * the instructions at insns (the plan's follow them) and returns how
 * many, or 0 when cap is too small; members that get packets are added
 * to *pinned.
 */
size_t steer_compile_quic(const struct steer_member *m, size_t n,
                          const struct steer_plan *p, struct sock_filter *insns,
                          size_t cap, unsigned *pinned);

/* The hash the program computes of a client address (IPv4 in host order;
 * IPv6: its four words xored), mod STEER_SHARE_ALL: for tests and tools. */
unsigned steer_hash(uint32_t a);
/* The hash that picks one of a generation's k members for a client (mod
 * k), of its address (as steer_hash takes it) and its source port. */
uint32_t steer_flow_hash(uint32_t a, uint16_t port);

#endif
