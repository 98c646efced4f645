/* test_steer.c: the steering module against a model of the kernel's reuseport group. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "steer.h"

/*
 * The model: the group as the kernel keeps it (listen appends, close puts
 * the last member in the hole) and the program attached to it. Every
 * close is a moment when SYNs may arrive before the next attach: the model
 * routes sample clients with the program in force then, as the kernel
 * would, and counts those that reach a socket that gets no clients.
 */
static struct {
    int group[64];
    size_t n;
    struct sock_filter prog[STEER_MAX_INSNS];
    size_t len;
    int next_fd;
    int client_fd[64]; /* the sockets that may get clients now */
    size_t nclient;
    unsigned misrouted;
    unsigned attaches;
    /* The probes: the plan the test follows (NULL: none), and where each
     * block's probes went under the last program attached. */
    const struct steer_plan *plan;
    unsigned probe_port[STEER_MAX_GENS];
    int probe_fd[STEER_MAX_GENS][2]; /* from 127.0.0.1, from ::1 (a
                                        generation of several members may
                                        give them two of its sockets) */
    size_t nprobe;
    unsigned misprobed; /* probes sent elsewhere in a close's window */
    unsigned regen;     /* clients whose socket changed in a close's window */
    /* If set, with plan: the sockets that may get clients are those of
     * the generations with a share, as the group knows its members now
     * (a member that joins gets its part before the caller learns it). */
    const struct steer *s;
} k;

static uint8_t pkt[80]; /* the network header and TCP's first bytes */
static uint16_t pkt_proto;
/* The server's address the packets go to (host order): not loopback, so
 * that only a source that says so is taken for the host's own. */
static uint32_t dst4 = 0x0a000005u; /* 10.0.0.5 */
static const uint32_t dst6[4] = {0x20010db8u, 0x5u, 0,
                                 0x5u}; /* 2001:db8:0:5::5 */

static void
put32(uint8_t *at, uint32_t v)
{
    at[0] = (uint8_t)(v >> 24);
    at[1] = (uint8_t)(v >> 16);
    at[2] = (uint8_t)(v >> 8);
    at[3] = (uint8_t)v;
}

static void
packet_v4_to(uint32_t src, uint32_t dst, uint16_t sport)
{
    memset(pkt, 0, sizeof(pkt));
    pkt_proto = 0x0800;
    pkt[0] = 0x45;
    pkt[9] = 6;
    put32(&pkt[12], src);
    put32(&pkt[16], dst);
    pkt[20] = (uint8_t)(sport >> 8);
    pkt[21] = (uint8_t)sport;
}

static void
packet_v4(uint32_t src, uint16_t sport)
{
    packet_v4_to(src, dst4, sport);
}

static void
packet_v6_to(const uint32_t w[4], const uint32_t d[4], uint16_t sport)
{
    memset(pkt, 0, sizeof(pkt));
    pkt_proto = 0x86dd;
    pkt[0] = 0x60;
    pkt[6] = 6;
    for (int i = 0; i < 4; i++) {
        put32(&pkt[8 + 4 * i], w[i]);
        put32(&pkt[24 + 4 * i], d[i]);
    }
    pkt[40] = (uint8_t)(sport >> 8);
    pkt[41] = (uint8_t)sport;
}

static void
packet_v6(const uint32_t w[4], uint16_t sport)
{
    packet_v6_to(w, dst6, sport);
}

/* A UDP datagram's payload: what the program sees at offset 0. */
static uint8_t payload[64];
static size_t payload_len;

static uint32_t
load(int32_t off32, int size)
{
    uint32_t v = 0;
    int64_t off;

    if (off32 == SKF_AD_OFF + SKF_AD_PROTOCOL)
        return pkt_proto;
    if (off32 >= 0) {
        /* The kernel ends a program that loads past the end with 0. */
        assert_true((size_t)off32 + (size_t)size <= payload_len);
        for (int i = 0; i < size; i++)
            v = v << 8 | payload[off32 + i];
        return v;
    }
    off = (int64_t)off32 - SKF_NET_OFF;
    assert_true(off >= 0 && off + size <= (int64_t)sizeof(pkt));
    for (int i = 0; i < size; i++)
        v = v << 8 | pkt[off + i];
    return v;
}

/*
 * What the kernel's checker (bpf_check_classic) refuses: too long, a jump
 * past the end, a scratch slot out of range, no return at the end.
 */
static void
check_prog(const struct sock_filter *f, size_t len)
{
    assert_true(len > 0 && len <= BPF_MAXINSNS);
    for (size_t pc = 0; pc < len; pc++) {
        const struct sock_filter *i = &f[pc];
        if (BPF_CLASS(i->code) == BPF_JMP) {
            if (BPF_OP(i->code) == BPF_JA)
                assert_true(i->k < len - pc - 1);
            else
                assert_true(pc + 1 + i->jt < len && pc + 1 + i->jf < len);
        }
        if (i->code == BPF_ST || i->code == (BPF_LD | BPF_MEM))
            assert_true(i->k < 16);
    }
    assert_int_equal(BPF_CLASS(f[len - 1].code), BPF_RET);
}

/* The classic BPF the module emits, run as the kernel runs it. */
static uint32_t
run(const struct sock_filter *f, size_t len)
{
    uint32_t a = 0, x = 0, mem[16] = {0};

    for (size_t pc = 0; pc < len; pc++) {
        const struct sock_filter *i = &f[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS: a = load((int32_t)i->k, 4); break;
        case BPF_LD | BPF_B | BPF_ABS:
            a = load((int32_t)i->k, 1);
            break;
        case BPF_LD | BPF_W | BPF_LEN:
            a = (uint32_t)payload_len;
            break;
        case BPF_LD | BPF_IMM:
            a = i->k;
            break;
        case BPF_MISC | BPF_TXA:
            a = x;
            break;
        case BPF_JMP | BPF_JSET | BPF_K:
            pc += a & i->k ? i->jt : i->jf;
            break;
        case BPF_LD | BPF_H | BPF_ABS: a = load((int32_t)i->k, 2); break;
        case BPF_LD | BPF_H | BPF_IND: a = load((int32_t)(i->k + x), 2); break;
        case BPF_LDX | BPF_B | BPF_MSH: x = 4 * (load((int32_t)i->k, 1) & 0xf); break;
        case BPF_MISC | BPF_TAX: x = a; break;
        case BPF_ST: mem[i->k & 15] = a; break;
        case BPF_LD | BPF_MEM: a = mem[i->k & 15]; break;
        case BPF_ALU | BPF_AND | BPF_K: a &= i->k; break;
        case BPF_ALU | BPF_RSH | BPF_K: a >>= i->k; break;
        case BPF_ALU | BPF_XOR | BPF_X: a ^= x; break;
        case BPF_ALU | BPF_MUL | BPF_K: a *= i->k; break;
        case BPF_ALU | BPF_MOD | BPF_K: a %= i->k; break;
        case BPF_JMP | BPF_JA: pc += i->k; break;
        case BPF_JMP | BPF_JEQ | BPF_K: pc += a == i->k ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JEQ | BPF_X: pc += a == x ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JGE | BPF_K: pc += a >= i->k ? i->jt : i->jf; break;
        case BPF_JMP | BPF_JGT | BPF_K: pc += a > i->k ? i->jt : i->jf; break;
        case BPF_RET | BPF_K: return i->k;
        default: fail_msg("opcode %#x not modelled", i->code);
        }
    }
    fail_msg("ran off the end");
    return 0;
}

static int
is_client_fd(int fd)
{
    for (size_t i = 0; k.s != NULL && k.plan != NULL && i < k.s->n; i++) {
        const struct steer_member *m = &k.s->m[i];
        const struct steer_route *r = steer_plan_find(k.plan, m->gen);
        if (m->fd == fd)
            return (m->owner == STEER_GEN || m->owner == STEER_EXTRA) &&
                   r != NULL && r->share > 0;
    }
    for (size_t i = 0; i < k.nclient; i++)
        if (k.client_fd[i] == fd)
            return 1;
    return 0;
}

/* Route sample clients as the kernel would now; count the wrong ones. */
static void
sample_window(void)
{
    if (k.len == 0 || k.n == 0)
        return;
    for (uint32_t c = 0; c < 200; c++) {
        uint32_t idx;
        uint32_t w[4] = {0x20010db8u, c, c * 7919u, c};
        if (c % 2) /* IPv6 clients too: their own section of the program */
            packet_v6(w, (uint16_t)(40000 + c));
        else
            packet_v4(0x7f000000u + c * 7919u, (uint16_t)(40000 + c));
        idx = run(k.prog, k.len);
        /* Out of range: the kernel's own hash over every member. */
        if (idx >= k.n) {
            for (size_t j = 0; j < k.n; j++)
                if (!is_client_fd(k.group[j])) {
                    k.misrouted++;
                    break;
                }
        } else if (!is_client_fd(k.group[idx])) {
            k.misrouted++;
        }
    }
}

/* The groups open_group() makes: UDP ones (a datagram socket is a member
 * once bound, and never listens). */
static int dgram;

static int
m_open(struct addr *a, int nonblocking, int exclusive, int *fd)
{
    (void)nonblocking;
    assert_int_equal(exclusive, k.n == 0);
    assert_int_equal(a->dgram, dgram);
    *fd = k.next_fd++;
    if (a->dgram)
        k.group[k.n++] = *fd;
    return 0;
}

static int
m_listen(int fd, int backlog)
{
    (void)backlog;
    assert_false(dgram);
    for (size_t i = 0; i < k.n; i++)
        if (k.group[i] == fd)
            return 0;
    k.group[k.n++] = fd;
    return 0;
}

static int
m_attach(int fd, const struct sock_fprog *prog)
{
    int member = 0;
    for (size_t i = 0; i < k.n; i++)
        member |= k.group[i] == fd;
    assert_true(member); /* through a member that listens */
    check_prog(prog->filter, prog->len);
    memcpy(k.prog, prog->filter, prog->len * sizeof(*prog->filter));
    k.len = prog->len;
    k.nprobe = 0;
    for (size_t i = 0; k.plan != NULL && i < k.plan->n; i++) {
        static const uint32_t lo6[4] = {0, 0, 0, 1};
        unsigned lo, hi;
        uint32_t idx, idx6;
        if (steer_plan_probe_range(k.plan, k.plan->r[i].gen, &lo, &hi) < 0)
            continue;
        packet_v4(0x7f000001u, (uint16_t)lo);
        idx = run(k.prog, k.len);
        packet_v6(lo6, (uint16_t)lo);
        idx6 = run(k.prog, k.len);
        if (idx < k.n) {
            k.probe_port[k.nprobe] = lo;
            k.probe_fd[k.nprobe][0] = k.group[idx];
            k.probe_fd[k.nprobe++][1] = idx6 < k.n ? k.group[idx6] : -1;
        }
    }
    k.attaches++;
    return 0;
}

/* Where client c goes under the program in force: an fd, or -1 for the
 * kernel's own hash (an index past the end). */
static int
window_fd(uint32_t c)
{
    uint32_t idx;

    uint32_t w[4] = {0x20010db8u, 0x77u, c * 7919u, c};

    if (c % 2) /* IPv6 clients too: their own section of the program */
        packet_v6(w, (uint16_t)(40000 + c));
    else
        packet_v4(0x0a000000u + c * 7919u, (uint16_t)(40000 + c));
    idx = run(k.prog, k.len);
    return idx < k.n ? k.group[idx] : -1;
}

static void
m_close(int fd)
{
    int before[200];

    for (uint32_t c = 0; c < 200 && k.len > 0; c++)
        before[c] = window_fd(c);
    for (size_t i = 0; i < k.n; i++)
        if (k.group[i] == fd) {
            k.group[i] = k.group[--k.n];
            sample_window();
            /* Until the next attach: a client that changes socket (the
             * kernel's hash can give a canary's client to the active
             * generation and back), a probe sent to another generation. */
            for (uint32_t c = 0; c < 200 && k.len > 0 && k.n > 0; c++) {
                int now = window_fd(c), other = 0;
                for (size_t j = 0; j < k.n && now < 0; j++)
                    other |= k.group[j] != before[c]; /* the hash may pick it */
                k.regen +=
                    before[c] != fd && (now < 0 ? other : now != before[c]);
            }
            for (size_t j = 0; j < k.nprobe && k.n > 0; j++) {
                static const uint32_t lo6[4] = {0, 0, 0, 1};
                for (int v6 = 0; v6 < 2; v6++) { /* from 127.0.0.1 and ::1 */
                    uint32_t idx;
                    int other = 0, was = k.probe_fd[j][v6];
                    if (was == fd || was < 0)
                        continue; /* its own generation is leaving */
                    if (v6)
                        packet_v6(lo6, (uint16_t)k.probe_port[j]);
                    else
                        packet_v4(0x7f000001u, (uint16_t)k.probe_port[j]);
                    idx = run(k.prog, k.len);
                    for (size_t m2 = 0; m2 < k.n && idx >= k.n; m2++)
                        other |= k.group[m2] != was; /* the hash */
                    k.misprobed += idx >= k.n ? other : k.group[idx] != was;
                }
            }
            return;
        }
}

/* What a socket holds, as a test sets it: fd and its count; 0 for others. */
static struct {
    int fd, n;
} held[8];

static int
m_held(int fd)
{
    for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
        if (held[i].fd == fd && fd != 0)
            return held[i].n;
    return 0;
}

static int
m_queued(int fd)
{
    assert_false(dgram);
    return m_held(fd);
}

static int
m_received(int fd)
{
    assert_true(dgram);
    return m_held(fd);
}

static const struct steer_ops model = {m_open,  m_listen, m_attach,
                                       m_close, m_queued, m_received};

static int
setup(void **state)
{
    (void)state;
    memset(&k, 0, sizeof(k));
    memset(held, 0, sizeof(held));
    k.next_fd = 100;
    dgram = 0;
    return 0;
}

/* The same, for UDP groups. */
static int
setup_udp(void **state)
{
    setup(state);
    dgram = 1;
    return 0;
}

static struct steer *
open_group(void)
{
    struct addr a;
    struct steer *s;

    assert_int_equal(addr_parse(dgram ? "udp:127.0.0.1:8080" : "127.0.0.1:8080",
                                &a, NULL, 0),
                     0);
    assert_int_equal(steer_open(&a, 128, 0, &model, &s), 0);
    return s;
}

/* The module's mirror of the group is the kernel's. */
static void
assert_mirror(const struct steer *s)
{
    assert_int_equal(s->n, k.n);
    for (size_t i = 0; i < k.n; i++)
        assert_int_equal(s->m[i].fd, k.group[i]);
}

/* Who the plan says may get clients: those sockets, for the window check. */
static void
note_clients(const struct steer *s, const struct steer_plan *p)
{
    k.nclient = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->r[i].share > 0)
            k.nclient += steer_fds(s, p->r[i].gen, &k.client_fd[k.nclient],
                                   64 - k.nclient);
}

/* Where the program in force sends a client, as a generation (0: none). */
static unsigned
gen_of_v4(const struct steer *s, uint32_t src, uint16_t sport)
{
    uint32_t idx;

    packet_v4(src, sport);
    idx = run(k.prog, k.len);
    if (idx >= k.n)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].fd == k.group[idx])
            return s->m[i].owner == STEER_GEN || s->m[i].owner == STEER_EXTRA
                       ? s->m[i].gen
                       : 0;
    return 0;
}

/* Every client reaches gen, every probe its own generation. */
static void
assert_routes(const struct steer *s, struct steer_plan *p, unsigned gen)
{
    for (uint32_t c = 0; c < 500; c++)
        assert_int_equal(gen_of_v4(s, 0x7f000001u + c * 104729u,
                                   (uint16_t)(32768 + c)), gen);
    for (size_t i = 0; i < p->n; i++) {
        unsigned g = p->r[i].gen;
        for (int t = 0; t < 3; t++) {
            unsigned port = steer_plan_probe_port(p, g);
            if (steer_fd(s, g) >= 0)
                assert_int_equal(gen_of_v4(s, 0x7f000001u, (uint16_t)port), g);
        }
    }
}

/* Roll after roll: join, promote, leave; nothing misrouted at any moment. */
static void
test_rolls(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    assert_int_equal(steer_plan_add(&p, 1), 0);
    assert_int_equal(steer_join(s, &p, 1), 0);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    note_clients(s, &p);
    assert_routes(s, &p, 1);
    for (unsigned g = 2; g < 60; g++) {
        assert_int_equal(steer_plan_add(&p, g), 0);
        assert_int_equal(steer_join(s, &p, g), 0);
        assert_mirror(s);
        assert_routes(s, &p, g - 1); /* the starting one: its probes only */
        steer_plan_promote(&p, g);
        note_clients(s, &p); /* what the program about to be attached says */
        assert_int_equal(steer_apply(s, &p), 0);
        assert_routes(s, &p, g);
        steer_plan_remove(&p, g - 1);
        assert_int_equal(steer_leave(s, &p, g - 1), 0);
        assert_mirror(s);
        assert_routes(s, &p, g);
        assert_int_equal(s->n, 1); /* no placeholder left in a plain roll */
        assert_int_equal(steer_fd(s, g - 1), -1);
    }
    assert_int_equal(k.misrouted, 0);
    steer_close(s);
    assert_int_equal(k.n, 0);
}

/* Where a datagram with this payload from a client goes, as a generation. */
static unsigned
gen_of_payload(const struct steer *s, const uint8_t *b, size_t len)
{
    memcpy(payload, b, len);
    payload_len = len;
    return gen_of_v4(s, 0x0a000001u, 40000);
}

/* A QUIC packet: short header (type -1) with dcid0 at byte 1, or long
 * header of version ver and type (its bits 4-5), a DCID of dcidlen bytes
 * starting with dcid0. */
static size_t
quic_packet(uint8_t *b, int type, uint32_t ver, uint8_t dcidlen, uint8_t dcid0)
{
    memset(b, 0xee, 40);
    if (type < 0) {
        b[0] = 0x40;
        b[1] = dcid0;
        return 30;
    }
    b[0] = (uint8_t)(0xc0 | type << 4);
    put32(&b[1], ver);
    b[5] = dcidlen;
    b[6] = dcid0;
    return 40;
}

/*
 * flows = quic: a connection's packets go to the generation whose cookie
 * starts the connection ID the server chose, draining ones included;
 * Initial and 0-RTT packets, a starting generation's cookie, anything
 * short or strange follow the plan; no load past the payload's end.
 */
static void
test_quic_flows(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    uint8_t b[64];
    uint8_t c1, c2, other;
    size_t n;

    (void)state;
    s->quic = 1;
    steer_plan_init(&p, 61000, 61999);
    assert_int_equal(steer_plan_add(&p, 1), 0);
    assert_int_equal(steer_join(s, &p, 1), 0);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    assert_int_equal(steer_plan_add(&p, 2), 0);
    assert_int_equal(steer_join(s, &p, 2), 0);
    c1 = steer_plan_find(&p, 1)->cookie;
    c2 = steer_plan_find(&p, 2)->cookie;
    assert_int_not_equal(c1, c2);
    other = (uint8_t)(c1 ^ c2 ^ 0x5a);
    /* Gen 2 starts: its cookie reaches nothing of it. */
    n = quic_packet(b, -1, 0, 0, c2);
    assert_int_equal(gen_of_payload(s, b, n), 1);
    steer_plan_promote(&p, 2);
    assert_int_equal(steer_apply(s, &p), 0);
    /* Short header: by cookie; an unknown one by the plan. */
    n = quic_packet(b, -1, 0, 0, c1);
    assert_int_equal(gen_of_payload(s, b, n), 1);
    n = quic_packet(b, -1, 0, 0, c2);
    assert_int_equal(gen_of_payload(s, b, n), 2);
    n = quic_packet(b, -1, 0, 0, other);
    assert_int_equal(gen_of_payload(s, b, n), 2);
    /* Handshake, v1 (type 2) and v2 (type 3): by cookie. */
    n = quic_packet(b, 2, 1, 8, c1);
    assert_int_equal(gen_of_payload(s, b, n), 1);
    n = quic_packet(b, 3, 0x6b3343cfu, 8, c1);
    assert_int_equal(gen_of_payload(s, b, n), 1);
    /* Initial (v1 type 0, v2 type 1) and 0-RTT (v1 type 1, v2 type 2): the
     * plan, whatever the client put in its DCID. */
    for (int t = 0; t < 2; t++) {
        n = quic_packet(b, t, 1, 8, c1);
        assert_int_equal(gen_of_payload(s, b, n), 2);
        n = quic_packet(b, t + 1, 0x6b3343cfu, 8, c1);
        assert_int_equal(gen_of_payload(s, b, n), 2);
    }
    /* Another version, an empty DCID, short payloads: the plan. */
    n = quic_packet(b, 2, 0xff00001du, 8, c1);
    assert_int_equal(gen_of_payload(s, b, n), 2);
    n = quic_packet(b, 2, 1, 0, c1);
    assert_int_equal(gen_of_payload(s, b, n), 2);
    for (size_t len = 0; len < 7; len++) {
        quic_packet(b, 2, 1, 8, c1);
        assert_int_equal(gen_of_payload(s, b, len), 2);
        quic_packet(b, -1, 0, 0, c1);
        assert_int_equal(gen_of_payload(s, b, len), len >= 2 ? 1u : 2u);
    }
    /* Gen 1 gone: its cookie means nothing any more. */
    steer_plan_remove(&p, 1);
    assert_int_equal(steer_leave(s, &p, 1), 0);
    n = quic_packet(b, -1, 0, 0, c1);
    assert_int_equal(gen_of_payload(s, b, n), 2);
    payload_len = 0;
    steer_close(s);
}

/* Cookies: a new generation's is no other's, and comes back as late as can
 * be. */
static void
test_quic_cookies(void **state)
{
    struct steer_plan p;
    unsigned seen[256] = {0};

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    for (unsigned g = 1; g <= 600; g++) {
        assert_int_equal(steer_plan_add(&p, g), 0);
        for (size_t i = 1; i < p.n; i++)
            assert_int_not_equal(p.r[i].cookie, p.r[0].cookie);
        if (g <= 256)
            assert_int_equal(seen[p.r[0].cookie]++, 0);
        if (p.n == STEER_MAX_GENS)
            steer_plan_remove(&p, p.r[p.n - 1].gen);
    }
}

/*
 * Three generations and random order: joins, promotions, failures and
 * leaves as a master could make them, each checked, the windows too.
 */
static void
test_random_order(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    unsigned next = 1, active = 0;
    size_t maxn = 0;
    unsigned live[8];
    size_t nlive = 0;

    (void)state;
    srand(7);
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    for (int step = 0; step < 5000; step++) {
        int op = rand() % 3;
        if (op == 0 && nlive < 3) { /* a roll starts */
            assert_int_equal(steer_plan_add(&p, next), 0);
            assert_int_equal(steer_join(s, &p, next), 0);
            live[nlive++] = next++;
        } else if (op == 1 && nlive > 0 && live[nlive - 1] != active) {
            /* the newest is promoted */
            active = live[nlive - 1];
            steer_plan_promote(&p, active);
            note_clients(s, &p); /* what the program about to be attached says */
            assert_int_equal(steer_apply(s, &p), 0);
        } else if (op == 2 && nlive > 1 && active != 0) {
            /* one that gets no clients exits (drained or failed) */
            size_t i = (size_t)rand() % nlive;
            if (live[i] == active)
                continue;
            steer_plan_remove(&p, live[i]);
            assert_int_equal(steer_leave(s, &p, live[i]), 0);
            memmove(&live[i], &live[i + 1], (nlive - i - 1) * sizeof(live[0]));
            nlive--;
        }
        assert_mirror(s);
        /* placeholders: one per generation gone while the active one was
         * last, at most the three that coexist */
        assert_true(s->n <= nlive + 3);
        maxn = s->n > maxn ? s->n : maxn;
        if (active != 0)
            assert_routes(s, &p, active);
    }
    print_message("group size at most %zu over 5,000 steps; in the windows "
                  "of closes: %u probes to another socket, %u clients "
                  "changed socket\n",
                  maxn, k.misprobed, k.regen);
    assert_int_equal(k.misrouted, 0);
    assert_int_equal(k.misprobed, 0);
    steer_close(s);
}

/* A socket that still gets clients cannot leave: the plan changes first. */
static void
test_leave_busy(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    steer_plan_add(&p, 1);
    steer_join(s, &p, 1);
    steer_plan_promote(&p, 1);
    steer_apply(s, &p);
    steer_plan_add(&p, 2);
    steer_join(s, &p, 2);
    assert_int_equal(steer_leave(s, &p, 1), -EBUSY);
    assert_int_equal(steer_fd(s, 1) >= 0, 1);
    steer_close(s);
}

/*
 * A listener the active plan lacks (a reload removed it), restored by the
 * next reload while the generation that served it lives: that generation
 * is the listener's default. Once it is gone from the plan, its socket
 * leaves all the same (no EBUSY: it would stay in the group for good, its
 * queue never accepted) and the clients go to the one member left.
 */
static void
test_leave_restored_listener(void **state)
{
    struct steer *s = open_group(); /* the listener b */
    struct steer_plan p;

    (void)state;
    steer_plan_init(&p, 23000, 23999);
    steer_plan_add(&p, 1);
    assert_int_equal(steer_join(s, &p, 1), 0);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    steer_plan_add(&p, 2); /* its plan has no b: it never joins */
    steer_plan_promote(&p, 2);
    assert_int_equal(steer_apply(s, &p), 0);
    assert_int_equal(gen_of_v4(s, 0x0a010101u, 40000), 1); /* no one else */
    steer_plan_add(&p, 3);                                 /* b is back */
    assert_int_equal(steer_join(s, &p, 3), 0);
    assert_int_equal(gen_of_v4(s, 0x0a010101u, 40000), 1);
    /* gen 1 exits before gen 3 is ready */
    steer_plan_remove(&p, 1);
    k.nclient = 1;
    k.client_fd[0] = steer_fd(s, 3);
    assert_int_equal(steer_leave(s, &p, 1), 0);
    assert_int_equal(steer_fd(s, 1), -1);
    assert_mirror(s);
    assert_int_equal(k.n, 1);
    assert_int_equal(gen_of_v4(s, 0x0a010101u, 40000), 3);
    assert_int_equal(k.misrouted, 0);
    steer_close(s);
}

/*
 * A generation leaves during a canary: the active and the canary both get
 * clients, the canary last. Closing the leaving one must not move the
 * canary while the program in force still names its old index: the
 * kernel's hash would then give canary clients to the active generation
 * and active ones to the canary, for a moment, however sticky the shares.
 */
static void
test_leave_during_canary(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;

    (void)state;
    steer_plan_init(&p, 23000, 23999);
    k.plan = &p;
    steer_plan_add(&p, 1);
    steer_join(s, &p, 1);
    steer_plan_promote(&p, 1);
    steer_apply(s, &p);
    steer_plan_add(&p, 2);
    steer_join(s, &p, 2);
    steer_plan_promote(&p, 2); /* gen 1 drains */
    steer_apply(s, &p);
    steer_plan_add(&p, 3);
    assert_int_equal(steer_join(s, &p, 3), 0);
    steer_plan_find(&p, 2)->share = 9000;
    steer_plan_find(&p, 3)->share = 1000;
    steer_plan_find(&p, 3)->serving = 1;
    note_clients(s, &p);
    assert_int_equal(steer_apply(s, &p), 0);
    /* gen 1 exits */
    steer_plan_remove(&p, 1);
    assert_int_equal(steer_leave(s, &p, 1), 0);
    assert_mirror(s);
    print_message("gen 1 left during the canary: %u of 200 clients changed "
                  "socket in the window, %u probes went elsewhere\n",
                  k.regen, k.misprobed);
    assert_int_equal(k.regen, 0);
    assert_int_equal(k.misprobed, 0);
    assert_int_equal(k.misrouted, 0);
    /* Roll after roll the same way: the canary is promoted, the next one
     * starts, the one before exits during its canary. Placeholders stay
     * bounded; nothing misrouted, no probe or client moved in a window. */
    for (unsigned g = 3; g < 40; g++) {
        steer_plan_promote(&p, g);
        note_clients(s, &p);
        assert_int_equal(steer_apply(s, &p), 0);
        steer_plan_add(&p, g + 1);
        assert_int_equal(steer_join(s, &p, g + 1), 0);
        steer_plan_find(&p, g)->share = 9000;
        steer_plan_find(&p, g + 1)->share = 1000;
        steer_plan_find(&p, g + 1)->serving = 1;
        note_clients(s, &p);
        assert_int_equal(steer_apply(s, &p), 0);
        steer_plan_remove(&p, g - 1);
        assert_int_equal(steer_leave(s, &p, g - 1), 0);
        assert_mirror(s);
        assert_true(s->n <= 4);
    }
    print_message("37 more such rolls: group size %zu, %u clients changed "
                  "socket, %u probes elsewhere\n",
                  s->n, k.regen, k.misprobed);
    assert_int_equal(k.regen + k.misprobed + k.misrouted, 0);
    steer_close(s);
}

/* Shares: a sticky, monotonic slice of addresses, IPv4 and IPv6. */
static void
test_shares(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    unsigned in5 = 0, in25 = 0, lost = 0;
    static unsigned char at5[4000];

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    steer_plan_add(&p, 1);
    steer_join(s, &p, 1);
    steer_plan_promote(&p, 1);
    steer_plan_add(&p, 2);
    steer_join(s, &p, 2);
    steer_plan_find(&p, 1)->share = 9500;
    steer_plan_find(&p, 2)->share = 500;
    assert_int_equal(steer_apply(s, &p), 0);
    for (uint32_t c = 0; c < 4000; c++) {
        uint32_t a = 0x7f000000u | c;
        unsigned g = gen_of_v4(s, a, 40000);
        at5[c] = g == 2;
        in5 += g == 2;
        /* the model of the hash says the same */
        assert_int_equal(g == 2, steer_hash(a) < 500);
    }
    steer_plan_find(&p, 1)->share = 7500;
    steer_plan_find(&p, 2)->share = 2500;
    assert_int_equal(steer_apply(s, &p), 0);
    for (uint32_t c = 0; c < 4000; c++) {
        unsigned g = gen_of_v4(s, 0x7f000000u | c, 40001);
        in25 += g == 2;
        lost += at5[c] && g != 2;
    }
    assert_true(in5 > 4000 * 3 / 100 && in5 < 4000 * 7 / 100);
    assert_true(in25 > 4000 * 22 / 100 && in25 < 4000 * 28 / 100);
    assert_int_equal(lost, 0);
    /* IPv6: the four words xored, then the same hash. */
    {
        unsigned v6in = 0;
        for (uint32_t c = 0; c < 2000; c++) {
            uint32_t w[4] = {0x20010db8u, 0, c * 2654435761u, c};
            uint32_t idx, h = w[0] ^ w[1] ^ w[2] ^ w[3];
            packet_v6(w, 40000);
            idx = run(k.prog, k.len);
            assert_true(idx < k.n);
            assert_int_equal(k.group[idx] == steer_fd(s, 2), steer_hash(h) < 2500);
            v6in += k.group[idx] == steer_fd(s, 2);
        }
        assert_true(v6in > 2000 * 20 / 100 && v6in < 2000 * 30 / 100);
    }
    steer_close(s);
}

/* canary_clients: those networks reach the newest serving generation,
 * IPv4 and IPv6, whatever their hash; the others follow the shares. */
static void
test_canary_clients(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    char err[128];
    unsigned in = 0, other = 0;

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    steer_plan_add(&p, 1);
    steer_join(s, &p, 1);
    steer_plan_promote(&p, 1);
    steer_plan_add(&p, 2);
    steer_join(s, &p, 2);
    steer_plan_find(&p, 1)->share = 9900;
    steer_plan_find(&p, 2)->share = 100;
    steer_plan_find(&p, 2)->serving = 1;
    assert_int_equal(canary_parse_cidrs("127.5.0.0/16 2001:db8:1::/48", p.cidrs,
                                        CANARY_MAX_CIDRS, &p.ncidrs, err,
                                        sizeof(err)), 0);
    assert_int_equal(steer_apply(s, &p), 0);
    for (uint32_t c = 0; c < 2000; c++) {
        assert_int_equal(gen_of_v4(s, 0x7f050000u | c, 40000), 2);
        other += gen_of_v4(s, 0x7f060000u | c, 40000) == 2;
    }
    assert_true(other < 2000 * 3 / 100); /* 1% share, not the network */
    for (uint32_t c = 0; c < 500; c++) {
        uint32_t w[4] = {0x20010db8u, 0x00010000u | (c & 0xffff), c * 7u, c};
        uint32_t o[4] = {0x20010db8u, 0x00020000u, c * 7u, c};
        uint32_t idx;
        packet_v6(w, 40000);
        idx = run(k.prog, k.len);
        in += k.group[idx] == steer_fd(s, 2);
        packet_v6(o, 40000);
        idx = run(k.prog, k.len);
        assert_int_equal(k.group[idx] == steer_fd(s, 2), steer_hash(o[0] ^ o[1] ^ o[2] ^ o[3]) < 100);
    }
    assert_int_equal(in, 500);
    /* rolled back: the canary may serve no more, its clients go back */
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    for (uint32_t c = 0; c < 200; c++)
        assert_int_equal(gen_of_v4(s, 0x7f050000u | c, 40000), 1);
    steer_close(s);
}

/* Where the program in force sends an IPv6 packet, as a generation. */
static unsigned
gen_of_v6(const struct steer *s, const uint32_t src[4], const uint32_t dst[4],
          uint16_t sport)
{
    uint32_t idx;

    packet_v6_to(src, dst, sport);
    idx = run(k.prog, k.len);
    if (idx >= k.n)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].fd == k.group[idx])
            return s->m[i].owner == STEER_GEN || s->m[i].owner == STEER_EXTRA
                       ? s->m[i].gen
                       : 0;
    return 0;
}

/*
 * A client cannot choose its generation by its source port: a probe block
 * routes only the host's own connections (a loopback source, or the
 * destination address itself); a client from elsewhere on a port of a
 * starting or kept generation's block follows the shares. IPv4 and IPv6.
 */
static void
test_probe_sources(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    static const uint32_t far4[] = {0x0a010203u, 0xc0a80009u, 0xcb007107u,
                                    0x7effffffu, 0x80000001u, 0x0a000006u};
    static const uint32_t far6[][4] = {{0x20010db8u, 0, 0, 7},
                                       {0, 0, 0, 2},
                                       {0, 0, 1, 1},
                                       {0xfe800000u, 0, 0, 1},
                                       {0x20010db8u, 0x5u, 0, 0x6u}};
    static const uint32_t lo6[4] = {0, 0, 0, 1};
    unsigned lo, hi, wrong = 0, probes = 0;

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    steer_plan_add(&p, 1);
    steer_join(s, &p, 1);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    steer_plan_add(&p, 2); /* starting: its probes only */
    assert_int_equal(steer_join(s, &p, 2), 0);
    for (int kept = 0; kept < 2; kept++) {
        /* kept: gen 2 promoted, gen 1 kept with no share (keep_previous) */
        unsigned want = kept ? 2 : 1;
        for (unsigned g = 1; g <= 2; g++) {
            assert_int_equal(steer_plan_probe_range(&p, g, &lo, &hi), 0);
            for (unsigned port = lo; port <= hi; port++) {
                for (size_t c = 0; c < sizeof(far4) / sizeof(far4[0]); c++)
                    wrong += gen_of_v4(s, far4[c], (uint16_t)port) != want;
                for (size_t c = 0; c < sizeof(far6) / sizeof(far6[0]); c++)
                    wrong +=
                        gen_of_v6(s, far6[c], dst6, (uint16_t)port) != want;
                /* the host's own: loopback, or from the address itself */
                assert_int_equal(gen_of_v4(s, 0x7f000001u, (uint16_t)port), g);
                assert_int_equal(gen_of_v4(s, 0x7f0a0b0cu, (uint16_t)port), g);
                assert_int_equal(gen_of_v4(s, dst4, (uint16_t)port), g);
                assert_int_equal(gen_of_v6(s, lo6, dst6, (uint16_t)port), g);
                assert_int_equal(gen_of_v6(s, dst6, dst6, (uint16_t)port), g);
                probes += 5;
            }
        }
        steer_plan_promote(&p, 2);
        assert_int_equal(steer_apply(s, &p), 0);
    }
    print_message("clients from elsewhere on probe ports: %u misrouted; "
                  "%u probes right\n",
                  wrong, probes);
    assert_int_equal(wrong, 0);
    steer_close(s);
}

/* --- the plan as a specification ----------------------------------------- */

struct client {
    int v6;
    uint32_t src[4], dst[4]; /* IPv4: word 0 */
    uint16_t sport;
};

/*
 * Where plan p means a client to go over members m[0..n), as an index,
 * written from the plan's rules rather than from the program: the host's
 * own connections (a loopback source, or the destination itself) from a
 * probe block go to its generation; canary networks to the newest member
 * that may serve; then the shares by the address hash, newest first, the
 * oldest with a share taking the rest; with no share, the newest member
 * that may serve, else the reserved socket, else the newest member.
 */
static int
intended(const struct steer_member *m, size_t n, const struct steer_plan *p,
         const struct client *c)
{
    int idx[STEER_MAX_GENS], newest = -1, own;
    unsigned total = 0, cum = 0, h;
    uint32_t fold =
        c->v6 ? c->src[0] ^ c->src[1] ^ c->src[2] ^ c->src[3] : c->src[0];

    /* A generation of several members: the one steer_flow_hash picks of
     * them in the order of their descriptors. */
    for (size_t i = 0; i < p->n; i++) {
        int sorted[STEER_MAX_MEMBERS];
        size_t nk = 0;
        for (size_t j = 0; j < n; j++)
            if ((m[j].owner == STEER_GEN || m[j].owner == STEER_EXTRA) &&
                m[j].gen == p->r[i].gen)
                sorted[nk++] = (int)j;
        for (size_t a = 0; a < nk; a++) /* by descriptor */
            for (size_t b = a + 1; b < nk; b++)
                if (m[sorted[b]].fd < m[sorted[a]].fd) {
                    int t = sorted[a];
                    sorted[a] = sorted[b];
                    sorted[b] = t;
                }
        idx[i] = nk == 0   ? -1
                 : nk == 1 ? sorted[0]
                           : sorted[steer_flow_hash(fold, c->sport) % nk];
        if (idx[i] >= 0)
            total += p->r[i].share;
    }
    if (c->v6)
        own = (c->src[0] == 0 && c->src[1] == 0 && c->src[2] == 0 &&
               c->src[3] == 1) ||
              memcmp(c->src, c->dst, sizeof(c->src)) == 0;
    else
        own = c->src[0] >> 24 == 127 || c->src[0] == c->dst[0];
    for (size_t i = 0; i < p->n && own && p->probe_size > 0; i++) {
        unsigned lo = p->probe_lo + (unsigned)p->r[i].block * p->probe_size;
        if (idx[i] >= 0 && p->r[i].block >= 0 && c->sport >= lo &&
            c->sport < lo + p->probe_size)
            return idx[i];
    }
    for (size_t i = 0; i < p->n && newest < 0; i++)
        if (idx[i] >= 0 && p->r[i].serving)
            newest = idx[i];
    for (size_t k2 = 0; k2 < p->ncidrs && newest >= 0; k2++) {
        const struct canary_cidr *cc = &p->cidrs[k2];
        int in = (cc->family == AF_INET6) == c->v6;
        for (unsigned w = 0; w < (c->v6 ? 4u : 1u) && in; w++)
            in = (c->src[w] & canary_cidr_mask(cc->prefix, w)) == cc->addr[w];
        if (in)
            return newest;
    }
    h = steer_hash(fold);
    for (size_t i = 0; i < p->n && total > 0; i++) {
        if (idx[i] < 0 || p->r[i].share == 0)
            continue;
        cum += p->r[i].share;
        if (cum >= total || h < (uint64_t)cum * STEER_SHARE_ALL / total)
            return idx[i];
    }
    for (size_t i = 0; i < p->n && total == 0; i++)
        if (idx[i] >= 0 && p->r[i].serving)
            return idx[i];
    for (size_t j = 0; j < n; j++)
        if (m[j].owner == STEER_RESERVED)
            return (int)j;
    for (size_t i = 0; i < p->n; i++)
        if (idx[i] >= 0)
            return idx[i];
    return 0;
}

/* What the compiled program returns for c. */
static uint32_t
run_client(const struct sock_filter *f, size_t len, const struct client *c)
{
    if (c->v6)
        packet_v6_to(c->src, c->dst, c->sport);
    else
        packet_v4_to(c->src[0], c->dst[0], c->sport);
    return run(f, len);
}

static uint32_t
rnd32(void)
{
    return (uint32_t)rand() << 16 ^ (uint32_t)rand();
}

/* A random client of plan p: often the host's own, in a canary network or
 * on a probe port, so that every rule gets its share of cases. */
static void
random_client(const struct steer_plan *p, struct client *c)
{
    int r = rand() % 100;

    memset(c, 0, sizeof(*c));
    c->v6 = rand() % 2;
    for (int w = 0; w < 4; w++)
        c->dst[w] = rnd32();
    if (!c->v6)
        c->dst[0] = 0x0a000000u | (rnd32() & 0xffffff);
    for (int w = 0; w < 4; w++)
        c->src[w] = c->v6 ? rnd32() : (w ? 0 : rnd32());
    if (r < 20) { /* loopback */
        if (c->v6)
            c->src[0] = c->src[1] = c->src[2] = 0, c->src[3] = 1;
        else
            c->src[0] = 0x7f000000u | (rnd32() & 0xffffff);
    } else if (r < 35) { /* the destination itself */
        memcpy(c->src, c->dst, sizeof(c->src));
    } else if (r < 40 && c->v6) { /* near ::1, not it */
        c->src[0] = c->src[1] = c->src[2] = 0;
        c->src[3] = (uint32_t)(rand() % 4) * 2;
    } else if (r < 65 && p->ncidrs > 0) { /* in (or next to) a network */
        const struct canary_cidr *cc = &p->cidrs[(size_t)rand() % p->ncidrs];
        if ((cc->family == AF_INET6) == c->v6)
            for (unsigned w = 0; w < (c->v6 ? 4u : 1u); w++) {
                uint32_t mask = canary_cidr_mask(cc->prefix, w);
                c->src[w] = cc->addr[w] | (c->src[w] & ~mask);
                if (rand() % 8 == 0)
                    c->src[w] ^= 1u << (rand() % 32);
            }
    }
    if (rand() % 2 && p->probe_size > 0)
        c->sport =
            (uint16_t)(p->probe_lo +
                       (unsigned)(rand() %
                                  (STEER_PROBE_BLOCKS * p->probe_size + 2)) -
                       1);
    else
        c->sport = (uint16_t)rand();
}

/* A random plan: up to 8 generations, shares, serving flags, probe blocks
 * (some handed out in turn after removals), canary networks of both
 * families; members in a random order, with placeholders, some missing. */
static void
random_plan(struct steer_plan *p, struct steer_member *m, size_t *n, int more)
{
    unsigned lo = 1024 + (unsigned)rand() % 60000,
             size = 64 + (unsigned)rand() % 4000;
    unsigned g = 1 + (unsigned)rand() % 50,
             ngen = (unsigned)rand() % (STEER_MAX_GENS + 1);
    size_t nm = 0;
    int extra;

    if (lo + size > 65535)
        size = 65535 - lo;
    steer_plan_init(p, lo, lo + size - 1);
    for (int pre = rand() % 12; pre > 0; pre--) { /* rotate the blocks */
        steer_plan_add(p, 1000 + (unsigned)pre);
        steer_plan_remove(p, 1000 + (unsigned)pre);
    }
    for (unsigned i = 0; i < ngen; i++)
        assert_int_equal(steer_plan_add(p, g + i), 0);
    for (size_t i = 0; i < p->n; i++) {
        p->r[i].share =
            rand() % 3 ? 0 : (unsigned)rand() % (STEER_SHARE_ALL + 1);
        p->r[i].serving = rand() % 2;
        if (rand() % 4 == 0)
            p->r[i].block = -1;
        if (rand() % 5 && nm < STEER_MAX_MEMBERS) /* a member here */
            m[nm++] =
                (struct steer_member){100 + (int)nm, STEER_GEN, p->r[i].gen};
        /* more: some generations with up to 3 more members */
        extra = more && nm > 0 && m[nm - 1].gen == p->r[i].gen ? rand() % 4 : 0;
        for (; extra > 0 && nm < STEER_MAX_MEMBERS; extra--)
            m[nm++] =
                (struct steer_member){100 + (int)nm, STEER_EXTRA, p->r[i].gen};
    }
    while (nm < STEER_MAX_MEMBERS && rand() % 3 == 0)
        m[nm++] = (struct steer_member){100 + (int)nm, STEER_PLACEHOLDER, 0};
    if (rand() % 4 == 0 && nm < STEER_MAX_MEMBERS)
        m[nm++] = (struct steer_member){100 + (int)nm, STEER_RESERVED, 0};
    for (size_t i = nm; i > 1; i--) { /* any order */
        size_t j = (size_t)rand() % i;
        struct steer_member t = m[i - 1];
        m[i - 1] = m[j];
        m[j] = t;
    }
    *n = nm;
    p->ncidrs = (size_t)(rand() % 3 ? rand() % (CANARY_MAX_CIDRS + 1) : 0);
    for (size_t i = 0; i < p->ncidrs; i++) {
        struct canary_cidr *cc = &p->cidrs[i];
        cc->family = rand() % 2 ? AF_INET6 : AF_INET;
        cc->prefix = (unsigned)rand() % (cc->family == AF_INET6 ? 129 : 33);
        memset(cc->addr, 0, sizeof(cc->addr));
        for (unsigned w = 0; w < (cc->family == AF_INET6 ? 4u : 1u); w++)
            cc->addr[w] = rnd32() & canary_cidr_mask(cc->prefix, w);
    }
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Every program against its plan: random plans x random clients, the
 * program as the kernel runs it vs where the plan says the client goes.
 * Bounded in time (secs), whatever the machine's speed. more: generations
 * of several members too.
 */
static void
follow_plans(int more, unsigned seed, double secs)
{
    static struct sock_filter insns[STEER_MAX_INSNS];
    double t0 = now_s();
    unsigned plans = 0, clients = 0, wrong = 0;
    size_t longest = 0;

    srand(seed);
    while (plans < 200000 && now_s() - t0 < secs) {
        struct steer_member m[STEER_MAX_MEMBERS];
        struct steer_plan p;
        struct sock_fprog prog;
        unsigned pinned;
        size_t n;

        random_plan(&p, m, &n, more);
        assert_int_equal(
            steer_compile(m, n, &p, insns, STEER_MAX_INSNS, &prog, &pinned), 0);
        check_prog(prog.filter, prog.len);
        longest = prog.len > longest ? prog.len : longest;
        plans++;
        for (int c = 0; c < 64; c++) {
            struct client cl;
            uint32_t got;
            int want;
            random_client(&p, &cl);
            got = run_client(prog.filter, prog.len, &cl);
            want = intended(m, n, &p, &cl);
            clients++;
            if (got != (uint32_t)want && wrong++ < 5)
                print_message("plan %u: v6=%d src=%08x.. sport=%u: program %u, "
                              "plan %d\n",
                              plans, cl.v6, cl.src[0], cl.sport, got, want);
            /* a member that gets a client is pinned: it must not move */
            if (got < n && !cl.v6 && cl.src[0] >> 24 != 127 &&
                cl.src[0] != cl.dst[0])
                assert_true(pinned & (1u << got));
        }
    }
    print_message("%u plans, %u clients: %u misrouted; longest program %zu "
                  "instructions\n",
                  plans, clients, wrong, longest);
    assert_true(plans >= 100);
    assert_int_equal(wrong, 0);
}

static void
test_programs_follow_plans(void **state)
{
    (void)state;
    follow_plans(0, 18, 3.0);
}

/*
 * The largest plan the limits allow fits the kernel's: 8 generations with
 * shares and probe blocks, 16 members, 16 canary networks of /128 (the
 * longest to match); the case too: 16 IPv6 networks, 3 generations.
 */
static void
test_program_limits(void **state)
{
    static struct sock_filter insns[STEER_MAX_INSNS];
    static const char *nets[] = {
        "2001:db8:1::1/128 2001:db8:2::2/128 2001:db8:3::3/128 "
        "2001:db8:4::4/128 "
        "2001:db8:5::5/128 2001:db8:6::6/128 2001:db8:7::7/128 "
        "2001:db8:8::8/128 "
        "2001:db8:9::9/128 2001:db8:a::a/128 2001:db8:b::b/128 "
        "2001:db8:c::c/128 "
        "2001:db8:d::d/128 2001:db8:e::e/128 2001:db8:f::f/128 "
        "2001:db8:10::10/128",
        "10.0.0.1/32 10.0.0.2/32 10.0.0.3/32 10.0.0.4/32 10.0.0.5/32 "
        "10.0.0.6/32 "
        "10.0.0.7/32 10.0.0.8/32 2001:db8:9::9/128 2001:db8:a::a/128 "
        "2001:db8:b::b/128 2001:db8:c::c/128 2001:db8:d::d/128 "
        "2001:db8:e::e/128 "
        "2001:db8:f::f/128 2001:db8:10::10/128"};
    char err[128];

    (void)state;
    for (size_t v = 0; v < 2; v++) {
        struct steer_member m[STEER_MAX_MEMBERS];
        struct steer_plan p;
        struct sock_fprog prog;
        unsigned pinned;

        steer_plan_init(&p, 23000, 23999);
        for (unsigned g = 1; g <= STEER_MAX_GENS; g++) {
            assert_int_equal(steer_plan_add(&p, g), 0);
            m[g - 1] = (struct steer_member){100 + (int)g, STEER_GEN, g};
        }
        for (size_t i = 0; i < p.n; i++) {
            p.r[i].share = STEER_SHARE_ALL / STEER_MAX_GENS;
            p.r[i].serving = 1;
        }
        for (size_t j = STEER_MAX_GENS; j < STEER_MAX_MEMBERS; j++)
            m[j] = (struct steer_member){200 + (int)j, STEER_PLACEHOLDER, 0};
        assert_int_equal(canary_parse_cidrs(nets[v], p.cidrs, CANARY_MAX_CIDRS,
                                            &p.ncidrs, err, sizeof(err)),
                         0);
        assert_int_equal(p.ncidrs, CANARY_MAX_CIDRS);
        assert_int_equal(steer_compile(m, STEER_MAX_MEMBERS, &p, insns,
                                       STEER_MAX_INSNS, &prog, &pinned),
                         0);
        check_prog(prog.filter, prog.len);
        print_message("worst case %s: %u instructions (kernel limit %d)\n",
                      v ? "8 IPv4 + 8 IPv6 networks" : "16 IPv6 networks",
                      prog.len, BPF_MAXINSNS);
        /* every network's client reaches the newest generation */
        for (size_t i = 0; i < p.ncidrs; i++) {
            struct client c = {p.cidrs[i].family == AF_INET6, {0}, {0}, 40000};
            memcpy(c.src, p.cidrs[i].addr, sizeof(c.src));
            c.dst[0] = 0x0a090909u;
            assert_int_equal(run_client(prog.filter, prog.len, &c),
                             STEER_MAX_GENS - 1); /* gen 8 */
        }
    }
    /* through a group: 3 generations, 16 IPv6 networks, back-to-back */
    {
        struct steer *s = open_group();
        struct steer_plan p;
        steer_plan_init(&p, 23000, 23999);
        assert_int_equal(canary_parse_cidrs(nets[0], p.cidrs, CANARY_MAX_CIDRS,
                                            &p.ncidrs, err, sizeof(err)),
                         0);
        for (unsigned g = 1; g <= 6; g++) {
            assert_int_equal(steer_plan_add(&p, g), 0);
            assert_int_equal(steer_join(s, &p, g), 0);
            if (g > 1) {
                steer_plan_find(&p, g)->share = 500;
                steer_plan_find(&p, g)->serving = 1;
                steer_plan_find(&p, g - 1)->share = 9500;
                assert_int_equal(steer_apply(s, &p), 0);
            }
            steer_plan_promote(&p, g);
            assert_int_equal(steer_apply(s, &p), 0);
            if (g > 2) {
                steer_plan_remove(&p, g - 2);
                assert_int_equal(steer_leave(s, &p, g - 2), 0);
            }
        }
        steer_close(s);
    }
}

/* Probe ports: blocks of the range, rotating, none for an unknown gen. */
static void
test_probe_ports(void **state)
{
    struct steer_plan p;
    unsigned a, b;

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    steer_plan_add(&p, 4);
    steer_plan_add(&p, 5);
    a = steer_plan_probe_port(&p, 4);
    b = steer_plan_probe_port(&p, 4);
    assert_true(a >= 61000 && a < 61125);
    assert_int_equal(b, a + 1);
    a = steer_plan_probe_port(&p, 5);
    assert_true(a >= 61125 && a < 61250);
    assert_int_equal(steer_plan_probe_port(&p, 9), 0);
    for (int i = 0; i < 200; i++)
        assert_true(steer_plan_probe_port(&p, 5) < 61250);
    /* blocks go in turn: one freed comes back after every other */
    steer_plan_remove(&p, 4);
    steer_plan_add(&p, 6);
    a = steer_plan_probe_port(&p, 6);
    assert_true(a >= 61250 && a < 61375);
    for (unsigned g = 7; g <= 12; g++)
        assert_int_equal(steer_plan_add(&p, g), 0);
    assert_true(steer_plan_probe_port(&p, 11) >= 61875);
    assert_true(steer_plan_probe_port(&p, 12) < 61125);
    assert_int_equal(steer_plan_probe_range(&p, 12, &a, &b), 0);
    assert_int_equal(a, 61000);
    assert_int_equal(b, 61124);
    assert_int_equal(steer_plan_add(&p, 99), -ENOSPC);
}

/* --- generations of several members -------------------------------------- */

/* Client i from elsewhere: an address and a source port made of i, one in
 * four IPv6; none of them on a probe port (61000-61999) or in 10.5/16. */
static void
some_client(uint32_t i, struct client *c)
{
    uint32_t r = i * 2654435761u;

    r ^= r >> 13;
    memset(c, 0, sizeof(*c));
    c->v6 = i % 4 == 3;
    if (c->v6) {
        c->src[0] = 0x20010db8u;
        c->src[1] = 0x00090000u | (r & 0xffff);
        c->src[2] = i;
        c->src[3] = r;
        memcpy(c->dst, dst6, sizeof(c->dst));
    } else {
        c->src[0] = 0x0b000000u | (r & 0xffffff);
        c->dst[0] = dst4;
    }
    c->sport = (uint16_t)(1024 + (r >> 8) % 50000);
}

/* The socket the program in force gives c; -1: past the end. */
static int
fd_of(const struct client *c)
{
    uint32_t idx = run_client(k.prog, k.len, c);

    return idx < k.n ? k.group[idx] : -1;
}

/* Which of fds[0..n) fd is, or -1. */
static int
which(const int *fds, size_t n, int fd)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] == fd)
            return (int)i;
    return -1;
}

/* gen joins with 1 + more members; their descriptors in fds, the first
 * first. */
static void
join_with(struct steer *s, struct steer_plan *p, unsigned gen, size_t more,
          int *fds)
{
    assert_int_equal(steer_plan_add(p, gen), 0);
    assert_int_equal(steer_join(s, p, gen), 0);
    fds[0] = steer_fd(s, gen);
    for (size_t i = 1; i <= more; i++) {
        assert_int_equal(steer_join_more(s, p, gen, &fds[i]), 0);
        assert_int_not_equal(fds[i], fds[0]);
    }
    assert_mirror(s);
}

/*
 * A generation of 3 members (its server binds once per thread): the
 * clients spread over all 3, each a fair part; one address with many
 * source ports too. The module lists all 3, its first first.
 */
static void
test_members_spread(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    int fds[3], got[8];
    unsigned count[3] = {0}, ports[3] = {0};

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    join_with(s, &p, 1, 0, fds);
    steer_plan_promote(&p, 1);
    note_clients(s, &p);
    assert_int_equal(steer_apply(s, &p), 0);
    /* threads bind after the generation serves: each gets its part once
     * the program is swapped */
    assert_int_equal(steer_join_more(s, &p, 1, &fds[1]), 0);
    assert_int_equal(steer_join_more(s, &p, 1, &fds[2]), 0);
    assert_mirror(s);
    assert_int_equal(k.n, 3);
    assert_int_equal(steer_fds(s, 1, got, 8), 3);
    assert_int_equal(got[0], fds[0]);
    assert_int_equal(steer_fd(s, 1), fds[0]);
    assert_true(which(got, 3, fds[1]) >= 0 && which(got, 3, fds[2]) >= 0);
    assert_int_equal(steer_fds(s, 1, got, 1), 3); /* how many, past cap */
    for (uint32_t i = 0; i < 6000; i++) {
        struct client c;
        int w;
        some_client(i, &c);
        w = which(fds, 3, fd_of(&c));
        assert_true(w >= 0); /* a member of gen 1, never past the end */
        count[w]++;
    }
    for (uint32_t port = 1024; port < 1324; port++) {
        struct client c;
        some_client(8, &c);
        c.sport = (uint16_t)port;
        ports[which(fds, 3, fd_of(&c))]++;
    }
    print_message("6,000 clients over 3 members: %u %u %u; one address, 300 "
                  "ports: %u %u %u\n",
                  count[0], count[1], count[2], ports[0], ports[1], ports[2]);
    for (int i = 0; i < 3; i++) {
        assert_true(count[i] >= 1800 && count[i] <= 2200);
        assert_true(ports[i] >= 60);
    }
    assert_int_equal(k.misrouted, 0);
    steer_close(s);
}

/* Each of the first n clients still reaches the socket it reached before. */
static void
assert_clients_stay(const int *before, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct client c;
        some_client(i, &c);
        assert_int_equal(fd_of(&c), before[i]);
    }
}

/*
 * One client (address, port) reaches the same member of its generation
 * while that generation's set of members is unchanged: whatever others
 * join and leave, and when the kernel moves one of its members to another
 * index (the last member moving into a leaving one's slot).
 */
static void
test_members_sticky(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    int one[1], fds[3], f3[3], more;
    static int before[3000];

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    join_with(s, &p, 1, 0, one);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    join_with(s, &p, 2, 2, fds); /* the group: gen 1, then gen 2's 3 */
    steer_plan_promote(&p, 2);
    note_clients(s, &p);
    assert_int_equal(steer_apply(s, &p), 0);
    for (uint32_t i = 0; i < 3000; i++) {
        struct client c;
        some_client(i, &c);
        before[i] = fd_of(&c);
        assert_true(which(fds, 3, before[i]) >= 0);
        assert_int_equal(fd_of(&c), before[i]); /* the same, run again */
    }
    /* gen 1 leaves from index 0: gen 2's last member moves there */
    steer_plan_remove(&p, 1);
    assert_int_equal(steer_leave(s, &p, 1), 0);
    assert_mirror(s);
    assert_int_equal(k.group[0], fds[2]);
    assert_clients_stay(before, 3000);
    /* gen 3 starts with 3 members, one more, one of them leaves, then all */
    join_with(s, &p, 3, 2, f3);
    assert_int_equal(steer_join_more(s, &p, 3, &more), 0);
    assert_clients_stay(before, 3000);
    assert_int_equal(steer_leave_one(s, &p, f3[1]), 0);
    steer_plan_remove(&p, 3);
    assert_int_equal(steer_leave(s, &p, 3), 0);
    assert_mirror(s);
    assert_int_equal(steer_fds(s, 3, NULL, 0), 0);
    assert_clients_stay(before, 3000);
    assert_int_equal(k.misrouted + k.regen + k.misprobed, 0);
    steer_close(s);
}

/*
 * One member leaves (its process exited): the kernel moves the last
 * member into its slot; every client of its generation still reaches a
 * member of that generation (one of the others), every client of the
 * other generation the very socket it reached before; nothing misrouted
 * in the windows of the closes. Its generation's last member leaves as
 * steer_leave does (-EBUSY while it gets clients).
 */
static void
test_members_leave_one(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    int f1[3], f2[2];
    static int before[3000];
    static unsigned gen_before[3000];
    unsigned moved = 0, attaches;

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    join_with(s, &p, 1, 2, f1);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    join_with(s, &p, 2, 1, f2); /* the group: a b c d e */
    steer_plan_find(&p, 1)->share = 5000;
    steer_plan_find(&p, 2)->share = 5000;
    steer_plan_find(&p, 2)->serving = 1;
    note_clients(s, &p);
    assert_int_equal(steer_apply(s, &p), 0);
    for (uint32_t i = 0; i < 3000; i++) {
        struct client c;
        some_client(i, &c);
        before[i] = fd_of(&c);
        gen_before[i] = which(f1, 3, before[i]) >= 0 ? 1 : 2;
        assert_true(which(f1, 3, before[i]) >= 0 ||
                    which(f2, 2, before[i]) >= 0);
    }
    /* gen 1's first, at index 0, leaves: e moves into its slot */
    assert_int_equal(steer_leave_one(s, &p, f1[0]), 0);
    assert_mirror(s);
    assert_int_equal(k.n, 4);
    assert_int_equal(k.group[0], f2[1]);
    assert_int_equal(steer_fd(s, 1), f1[1]); /* the next by descriptor */
    assert_int_equal(steer_fds(s, 1, NULL, 0), 2);
    for (uint32_t i = 0; i < 3000; i++) {
        struct client c;
        int now;
        some_client(i, &c);
        now = fd_of(&c);
        if (gen_before[i] == 1) {
            assert_true(now == f1[1] || now == f1[2]);
            moved += now != before[i];
        } else {
            assert_int_equal(now, before[i]);
        }
    }
    print_message("gen 1's first member left: %u of gen 1's clients changed "
                  "member (its own and a reshuffle), gen 2's all stayed; "
                  "in the windows: %u misrouted, %u changed socket, %u "
                  "probes elsewhere\n",
                  moved, k.misrouted, k.regen, k.misprobed);
    assert_int_equal(k.misrouted + k.regen + k.misprobed, 0);
    /* gen 2's first leaves: its clients go to e, gen 1's stay */
    for (uint32_t i = 0; i < 3000; i++) {
        struct client c;
        some_client(i, &c);
        before[i] = fd_of(&c);
    }
    note_clients(s, &p);
    assert_int_equal(steer_leave_one(s, &p, f2[0]), 0);
    assert_mirror(s);
    for (uint32_t i = 0; i < 3000; i++) {
        struct client c;
        some_client(i, &c);
        assert_int_equal(fd_of(&c), gen_before[i] == 2 ? f2[1] : before[i]);
    }
    assert_int_equal(k.misrouted + k.regen + k.misprobed, 0);
    /* an fd that is no member: nothing happens */
    attaches = k.attaches;
    assert_int_equal(steer_leave_one(s, &p, 9999), 0);
    assert_int_equal(k.attaches, attaches);
    /* gen 2's last still gets clients: as steer_leave, -EBUSY */
    assert_int_equal(steer_leave_one(s, &p, f2[1]), -EBUSY);
    assert_int_equal(steer_fd(s, 2), f2[1]);
    steer_plan_promote(&p, 1);
    note_clients(s, &p);
    assert_int_equal(steer_apply(s, &p), 0);
    steer_plan_remove(&p, 2);
    assert_int_equal(steer_leave_one(s, &p, f2[1]), 0);
    assert_int_equal(steer_fd(s, 2), -1);
    assert_mirror(s);
    /* the only generation, serving, leaves whole: its extras close, its
     * first socket stays, reserved for the next, as for one member */
    assert_int_equal(steer_leave(s, &p, 1), 0);
    assert_int_equal(k.n, 1);
    assert_int_equal(s->m[0].owner, STEER_RESERVED);
    assert_int_equal(k.misrouted + k.misprobed, 0);
    steer_close(s);
    assert_int_equal(k.n, 0);
}

/* Roll after roll, each generation with 1 to 3 members: the old one
 * leaves whole; no placeholder stays when the new one has several
 * members (one of them takes the last one's part while it moves), at most
 * one for each member that left when it has one, until the next roll;
 * nothing misrouted. */
static void
test_members_rolls(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    int fds[3];

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    join_with(s, &p, 1, 1, fds);
    steer_plan_promote(&p, 1);
    note_clients(s, &p);
    assert_int_equal(steer_apply(s, &p), 0);
    for (unsigned g = 2; g < 40; g++) {
        join_with(s, &p, g, g % 3, fds);
        assert_routes(s, &p, g - 1);
        steer_plan_promote(&p, g);
        note_clients(s, &p);
        assert_int_equal(steer_apply(s, &p), 0);
        assert_routes(s, &p, g);
        steer_plan_remove(&p, g - 1);
        assert_int_equal(steer_leave(s, &p, g - 1), 0);
        assert_mirror(s);
        assert_routes(s, &p, g);
        if (g % 3 > 0)
            assert_int_equal(s->n, g % 3 + 1);
        else
            assert_true(s->n <= 1 + (g - 1) % 3 + 1);
        assert_int_equal(steer_fds(s, g - 1, NULL, 0), 0);
    }
    assert_int_equal(k.misrouted + k.misprobed, 0);
    steer_close(s);
}

/*
 * Shares and canary networks between a generation of one member and one of
 * two, either way round: the proportions are the plan's, whom a
 * generation gets depends on the address alone (as with one member), and
 * the two members of one split its clients.
 */
static void
test_members_shares(void **state)
{
    char err[128];

    (void)state;
    for (int newer_more = 0; newer_more < 2; newer_more++) {
        struct steer *s = open_group();
        struct steer_plan p;
        int f1[2], f2[2];
        size_t n1 = newer_more ? 1 : 2, n2 = newer_more ? 2 : 1;
        unsigned m1[2] = {0}, m2[2] = {0}, cidr[2] = {0}, in2 = 0;

        steer_plan_init(&p, 61000, 61999);
        join_with(s, &p, 1, n1 - 1, f1);
        steer_plan_promote(&p, 1);
        join_with(s, &p, 2, n2 - 1, f2);
        steer_plan_find(&p, 1)->share = 7500;
        steer_plan_find(&p, 2)->share = 2500;
        steer_plan_find(&p, 2)->serving = 1;
        assert_int_equal(canary_parse_cidrs("10.5.0.0/16 2001:db8:1::/48",
                                            p.cidrs, CANARY_MAX_CIDRS,
                                            &p.ncidrs, err, sizeof(err)),
                         0);
        assert_int_equal(steer_apply(s, &p), 0);
        for (uint32_t i = 0; i < 8000; i++) {
            struct client c;
            int fd, w1, w2;
            uint32_t fold;
            some_client(i, &c);
            fold = c.v6 ? c.src[0] ^ c.src[1] ^ c.src[2] ^ c.src[3] : c.src[0];
            fd = fd_of(&c);
            w1 = which(f1, n1, fd);
            w2 = which(f2, n2, fd);
            assert_true(w1 >= 0 || w2 >= 0);
            /* the generation: by the address's hash alone */
            assert_int_equal(w2 >= 0, steer_hash(fold) < 2500);
            in2 += w2 >= 0;
            if (w1 >= 0)
                m1[w1]++;
            else
                m2[w2]++;
        }
        for (uint32_t i = 0; i < 2000; i++) { /* the canary networks */
            struct client c;
            int w;
            some_client(i, &c);
            if (c.v6)
                c.src[1] = 0x00010000u | (c.src[1] & 0xffff);
            else
                c.src[0] = 0x0a050000u | (c.src[0] & 0xffff);
            w = which(f2, n2, fd_of(&c));
            assert_true(w >= 0);
            cidr[w]++;
        }
        print_message("gen 1 of %zu member(s), gen 2 of %zu: 75%%/25%% gave "
                      "%u / %u of 8,000 (per member %u %u / %u %u); canary "
                      "networks' 2,000 on gen 2's: %u %u\n",
                      n1, n2, 8000 - in2, in2, m1[0], m1[1], m2[0], m2[1],
                      cidr[0], cidr[1]);
        assert_true(in2 > 8000 * 22 / 100 && in2 < 8000 * 28 / 100);
        if (n2 == 2) {
            assert_true(m2[0] > in2 * 4 / 10 && m2[1] > in2 * 4 / 10);
            assert_true(cidr[0] > 700 && cidr[1] > 700);
        } else {
            assert_true(m1[0] > (8000 - in2) * 4 / 10 &&
                        m1[1] > (8000 - in2) * 4 / 10);
            assert_int_equal(cidr[0], 2000);
        }
        steer_close(s);
    }
}

/*
 * Probes from a generation's block reach only that generation's members
 * (spread over them as the ports rotate), from loopback or the address
 * itself; a client from elsewhere on those ports follows the plan.
 */
static void
test_members_probes(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    int f1[2], f2[3];
    static const uint32_t lo6[4] = {0, 0, 0, 1};
    unsigned lo, hi, hits[2][3] = {{0}}, far = 0;

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    join_with(s, &p, 1, 1, f1);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    join_with(s, &p, 2, 2, f2); /* starting: its probes only */
    for (unsigned g = 1; g <= 2; g++) {
        const int *fds = g == 1 ? f1 : f2;
        size_t n = g == 1 ? 2 : 3;
        assert_int_equal(steer_plan_probe_range(&p, g, &lo, &hi), 0);
        for (unsigned port = lo; port <= hi; port++) {
            struct client own[5] = {{0, {0x7f000001u}, {dst4}, (uint16_t)port},
                                    {0, {0x7f090807u}, {dst4}, (uint16_t)port},
                                    {0, {dst4}, {dst4}, (uint16_t)port},
                                    {1, {0}, {0}, (uint16_t)port},
                                    {1, {0}, {0}, (uint16_t)port}};
            struct client c;
            memcpy(own[3].src, lo6, sizeof(lo6));
            memcpy(own[3].dst, dst6, sizeof(dst6));
            memcpy(own[4].src, dst6, sizeof(dst6));
            memcpy(own[4].dst, dst6, sizeof(dst6));
            for (int i = 0; i < 5; i++) {
                int w = which(fds, n, fd_of(&own[i]));
                assert_true(w >= 0);
                hits[g - 1][w]++;
            }
            some_client(port, &c);
            c.sport = (uint16_t)port;
            far += which(f1, 2, fd_of(&c)) < 0;
        }
    }
    print_message("probes over gen 1's 2 members: %u %u; gen 2's 3: %u %u "
                  "%u; clients from elsewhere on probe ports off the plan: "
                  "%u\n",
                  hits[0][0], hits[0][1], hits[1][0], hits[1][1], hits[1][2],
                  far);
    for (int w = 0; w < 2; w++)
        assert_true(hits[0][w] > 0);
    for (int w = 0; w < 3; w++)
        assert_true(hits[1][w] > 0);
    assert_int_equal(far, 0);
    steer_close(s);
}

/*
 * STEER_MAX_MEMBERS, placeholders included, the last place kept for a
 * leave's placeholder and STEER_ROLL_ROOM for new generations: extras
 * -ENOSPC at 13, nothing changed; two new generations still join (a roll,
 * a roll during it), a third not; every member can still leave, one at a
 * time, its generation serving; one more member for a generation without
 * one: -ENOENT. The largest plan of several
 * members per generation fits the kernel's limit.
 */
static void
test_members_limits(void **state)
{
    static struct sock_filter insns[STEER_MAX_INSNS];
    struct steer *s = open_group();
    struct steer_plan p;
    int fds[STEER_MAX_MEMBERS], fd;
    unsigned used = 0, attaches;
    char err[256];

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    join_with(s, &p, 1, 0, fds);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    join_with(s, &p, 2, STEER_MAX_MEMBERS - 5, &fds[1]); /* 12 */
    steer_plan_find(&p, 1)->share = 5000;
    steer_plan_find(&p, 2)->share = 5000;
    steer_plan_find(&p, 2)->serving = 1;
    note_clients(s, &p);
    assert_int_equal(steer_apply(s, &p), 0);
    attaches = k.attaches;
    assert_int_equal(steer_join_more(s, &p, 2, &fd), -ENOSPC);
    assert_int_equal(fd, -1);
    assert_int_equal(steer_join_more(s, &p, 1, &fd), -ENOSPC);
    assert_int_equal(k.n, STEER_MAX_MEMBERS - 3);
    assert_int_equal(k.attaches, attaches);
    /* A roll, and a roll during it, still find their places. */
    assert_int_equal(steer_plan_add(&p, 3), 0);
    assert_int_equal(steer_join(s, &p, 3), 0);
    assert_int_equal(steer_plan_add(&p, 4), 0);
    assert_int_equal(steer_join(s, &p, 4), 0);
    assert_int_equal(steer_plan_add(&p, 5), 0);
    assert_int_equal(steer_join(s, &p, 5), -ENOSPC);
    steer_plan_remove(&p, 5);
    steer_plan_remove(&p, 4);
    steer_plan_remove(&p, 3);
    assert_int_equal(steer_apply(s, &p), 0);
    assert_int_equal(steer_leave(s, &p, 4), 0);
    assert_int_equal(steer_leave(s, &p, 3), 0);
    assert_mirror(s);
    assert_int_equal(k.n, STEER_MAX_MEMBERS - 3);
    assert_int_equal(steer_fds(s, 2, NULL, 0), STEER_MAX_MEMBERS - 4);
    for (uint32_t i = 0; i < 3200; i++) {
        struct client c;
        int w;
        some_client(i, &c);
        w = which(fds, STEER_MAX_MEMBERS - 3, fd_of(&c));
        assert_true(w >= 0);
        used |= 1u << w;
    }
    assert_int_equal(used, (1u << (STEER_MAX_MEMBERS - 3)) - 1);
    /* gen 2's members leave one by one: a leave that needs a placeholder
     * finds room */
    for (int i = 1; i < STEER_MAX_MEMBERS - 4; i++) {
        assert_int_equal(steer_leave_one(s, &p, fds[i]), 0);
        assert_mirror(s);
    }
    assert_int_equal(steer_fds(s, 2, NULL, 0), 1);
    assert_int_equal(k.misrouted + k.misprobed + k.regen, 0);
    steer_close(s);
    s = open_group();
    steer_plan_init(&p, 61000, 61999);
    assert_int_equal(steer_plan_add(&p, 1), 0);
    assert_int_equal(steer_join_more(s, &p, 1, &fd), -ENOENT);
    assert_int_equal(k.n, 1);
    steer_close(s);
    /* the worst case: 8 generations of 2, 16 IPv6 networks of /128 */
    {
        struct steer_member m[STEER_MAX_MEMBERS];
        struct sock_fprog prog;
        unsigned pinned, wrong = 0;
        const char *nets =
            "2001:db8:1::1/128 2001:db8:2::2/128 2001:db8:3::3/128 "
            "2001:db8:4::4/128 2001:db8:5::5/128 2001:db8:6::6/128 "
            "2001:db8:7::7/128 2001:db8:8::8/128 2001:db8:9::9/128 "
            "2001:db8:a::a/128 2001:db8:b::b/128 2001:db8:c::c/128 "
            "2001:db8:d::d/128 2001:db8:e::e/128 2001:db8:f::f/128 "
            "2001:db8:10::10/128";

        steer_plan_init(&p, 23000, 23999);
        for (unsigned g = 1; g <= STEER_MAX_GENS; g++) {
            assert_int_equal(steer_plan_add(&p, g), 0);
            m[2 * g - 2] = (struct steer_member){100 + (int)g, STEER_GEN, g};
            m[2 * g - 1] = (struct steer_member){200 + (int)g, STEER_EXTRA, g};
        }
        for (size_t i = 0; i < p.n; i++) {
            p.r[i].share = STEER_SHARE_ALL / STEER_MAX_GENS;
            p.r[i].serving = 1;
        }
        assert_int_equal(canary_parse_cidrs(nets, p.cidrs, CANARY_MAX_CIDRS,
                                            &p.ncidrs, err, sizeof(err)),
                         0);
        assert_int_equal(steer_compile(m, STEER_MAX_MEMBERS, &p, insns,
                                       STEER_MAX_INSNS, &prog, &pinned),
                         0);
        check_prog(prog.filter, prog.len);
        print_message("worst case of 8 generations of 2 members, 16 IPv6 "
                      "networks: %u instructions (kernel limit %d)\n",
                      prog.len, BPF_MAXINSNS);
        assert_int_equal(pinned, (1u << STEER_MAX_MEMBERS) - 1);
        srand(20);
        for (int i = 0; i < 20000; i++) {
            struct client c;
            random_client(&p, &c);
            wrong += run_client(prog.filter, prog.len, &c) !=
                     (uint32_t)intended(m, STEER_MAX_MEMBERS, &p, &c);
        }
        assert_int_equal(wrong, 0);
    }
}

/* flows = quic: a cookie names a generation, not one of its members: no
 * second member, nothing changed. */
static void
test_members_quic(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    unsigned attaches;
    int fd = 0;

    (void)state;
    s->quic = 1;
    steer_plan_init(&p, 61000, 61999);
    assert_int_equal(steer_plan_add(&p, 1), 0);
    assert_int_equal(steer_join(s, &p, 1), 0);
    attaches = k.attaches;
    assert_int_equal(steer_join_more(s, &p, 1, &fd), -EOPNOTSUPP);
    assert_int_equal(fd, -1);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.attaches, attaches);
    assert_int_equal(steer_fds(s, 1, NULL, 0), 1);
    steer_close(s);
}

/* What a generation holds is what all its members hold: a drain waits for
 * every one of them. */
static void
test_members_queued(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    int f1[3], f2[1];

    (void)state;
    steer_plan_init(&p, 61000, 61999);
    join_with(s, &p, 1, 2, f1);
    steer_plan_promote(&p, 1);
    assert_int_equal(steer_apply(s, &p), 0);
    join_with(s, &p, 2, 0, f2);
    assert_int_equal(steer_queued(s, 1), 0);
    held[0].fd = f1[2];
    held[0].n = 300;
    assert_int_equal(steer_queued(s, 1), 300); /* not the first's: 0 */
    held[1].fd = f1[1];
    held[1].n = 45;
    held[2].fd = f2[0];
    held[2].n = 7;
    assert_int_equal(steer_queued(s, 1), 345);
    assert_int_equal(steer_queued(s, 2), 7);
    assert_int_equal(steer_queued(s, 9), 0);
    held[3].fd = f1[0];
    held[3].n = -EBADF;
    assert_int_equal(steer_queued(s, 1), -EBADF);
    steer_close(s);
}

/*
 * Random order with several members: generations start with 1 to 3,
 * members join and leave one at a time (a thread's process exits), whole
 * generations leave; the mirror is the kernel's, every client reaches a
 * member of the active generation, every probe its own generation,
 * nothing misrouted in any close's window.
 */
static void
test_members_random_order(void **state)
{
    struct steer *s = open_group();
    struct steer_plan p;
    unsigned next = 1, active = 0, live[8], ops[5] = {0};
    size_t nlive = 0, maxn = 0;

    (void)state;
    srand(21);
    steer_plan_init(&p, 61000, 61999);
    k.plan = &p;
    k.s = s;
    for (int step = 0; step < 4000; step++) {
        int op = rand() % 5, fds[STEER_MAX_MEMBERS], fd, rc;
        if (op == 0 && nlive < 3) { /* a roll starts */
            assert_int_equal(steer_plan_add(&p, next), 0);
            rc = steer_join(s, &p, next);
            assert_true(rc == 0 || rc == -ENOSPC);
            if (rc < 0) { /* the group is full: this roll fails */
                steer_plan_remove(&p, next++);
                continue;
            }
            for (int x = rand() % 3; x > 0; x--) {
                rc = steer_join_more(s, &p, next, &fd);
                assert_true(rc == 0 || rc == -ENOSPC);
            }
            live[nlive++] = next++;
        } else if (op == 1 && nlive > 0 && live[nlive - 1] != active) {
            active = live[nlive - 1];
            steer_plan_promote(&p, active);
            note_clients(s, &p);
            assert_int_equal(steer_apply(s, &p), 0);
        } else if (op == 2 && nlive > 1 && active != 0) {
            size_t i = (size_t)rand() % nlive;
            if (live[i] == active)
                continue;
            steer_plan_remove(&p, live[i]);
            assert_int_equal(steer_leave(s, &p, live[i]), 0);
            memmove(&live[i], &live[i + 1], (nlive - i - 1) * sizeof(live[0]));
            nlive--;
        } else if (op == 3 && nlive > 0) { /* a thread binds */
            rc = steer_join_more(s, &p, live[(size_t)rand() % nlive], &fd);
            assert_true(rc == 0 || rc == -ENOSPC);
            note_clients(s, &p);
        } else if (op == 4 && nlive > 0) { /* a member's process exits */
            unsigned g = live[(size_t)rand() % nlive];
            size_t n = steer_fds(s, g, fds, STEER_MAX_MEMBERS);
            if (n < 2)
                continue;
            assert_int_equal(steer_leave_one(s, &p, fds[(size_t)rand() % n]),
                             0);
            assert_int_equal(steer_fds(s, g, NULL, 0), n - 1);
            note_clients(s, &p);
        } else {
            continue;
        }
        ops[op]++;
        assert_mirror(s);
        maxn = s->n > maxn ? s->n : maxn;
        if (active != 0)
            assert_routes(s, &p, active);
    }
    print_message("ops %u %u %u %u %u; group size at most %zu; in the "
                  "windows of closes: %u misrouted, %u probes elsewhere, %u "
                  "clients changed socket\n",
                  ops[0], ops[1], ops[2], ops[3], ops[4], maxn, k.misrouted,
                  k.misprobed, k.regen);
    assert_true(ops[3] > 100 && ops[4] > 100);
    assert_int_equal(k.misrouted, 0);
    assert_int_equal(k.misprobed, 0);
    steer_close(s);
}

/* Random plans with generations of several members: the program picks
 * the member the specification (intended) says. */
static void
test_members_follow_plans(void **state)
{
    (void)state;
    follow_plans(1, 19, 2.0);
}

/* From a new socket of family v6, one datagram to a; its source port in
 * *port. Returns the member of fds[0..n) that got it, -1: none in 1 s. */
static int
kernel_send(const struct addr *a, int v6, const int *fds, size_t n,
            unsigned *port)
{
    int cl = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct pollfd pf[STEER_MAX_MEMBERS];
    int at = -1;
    char b[4];

    assert_true(cl >= 0);
    assert_int_equal(
        sendto(cl, "x", 1, 0, (const struct sockaddr *)&a->ss, a->len), 1);
    assert_int_equal(getsockname(cl, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                     : ((struct sockaddr_in *)&ss)->sin_port);
    for (size_t i = 0; i < n; i++)
        pf[i] = (struct pollfd){fds[i], POLLIN, 0};
    if (poll(pf, n, 1000) > 0)
        for (size_t i = 0; i < n; i++)
            if (pf[i].revents & POLLIN) {
                assert_int_equal(recv(fds[i], b, sizeof(b), 0), 1);
                at = (int)i;
            }
    close(cl);
    return at;
}

/*
 * The real kernel, loopback UDP (IPv4 and IPv6): a generation of 3
 * members gets every datagram on the member steer_flow_hash names (the
 * members in the order of their descriptors); then its first member
 * leaves from index 0, the kernel moves the last into its slot, and every
 * datagram reaches the member the mirror names among the 2 left.
 */
static void
test_members_kernel(void **state)
{
    (void)state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct addr a;
        struct steer *s;
        struct steer_plan p;
        int fds[3], rest[2], first;
        unsigned got[3] = {0}, wrong = 0, wrong2 = 0, port;
        size_t nrest = 0;
        uint32_t src = v6 ? 1u : 0x7f000001u; /* ::1's words xored */

        assert_int_equal(
            addr_parse(v6 ? "udp:[::1]:0" : "udp:127.0.0.1:0", &a, NULL, 0), 0);
        assert_int_equal(steer_open(&a, 0, 1, &steer_kernel, &s), 0);
        steer_plan_init(&p, 61000, 61999);
        assert_int_equal(steer_plan_add(&p, 1), 0);
        assert_int_equal(steer_join(s, &p, 1), 0);
        steer_plan_promote(&p, 1);
        assert_int_equal(steer_apply(s, &p), 0);
        first = fds[0] = steer_fd(s, 1);
        assert_int_equal(steer_join_more(s, &p, 1, &fds[1]), 0);
        assert_int_equal(steer_join_more(s, &p, 1, &fds[2]), 0);
        for (int i = 0; i < 3; i++) /* the pick's order: by descriptor */
            for (int j = i + 1; j < 3; j++)
                if (fds[j] < fds[i]) {
                    int t = fds[i];
                    fds[i] = fds[j];
                    fds[j] = t;
                }
        for (int c = 0; c < 600; c++) {
            int at = kernel_send(&s->addr, v6, fds, 3, &port);
            assert_true(at >= 0);
            got[at]++;
            wrong += at != (int)(steer_flow_hash(src, (uint16_t)port) % 3);
        }
        assert_int_equal(steer_leave_one(s, &p, first), 0);
        assert_int_equal(s->n, 2);
        for (int i = 0; i < 3; i++)
            if (fds[i] != first)
                rest[nrest++] = fds[i];
        for (int c = 0; c < 200; c++) {
            int at = kernel_send(&s->addr, v6, rest, 2, &port);
            wrong2 += at != (int)(steer_flow_hash(src, (uint16_t)port) % 2);
        }
        print_message("kernel, %s: 600 datagrams over 3 members %u %u %u, %u "
                      "off the model; after the first left, 200: %u off\n",
                      v6 ? "::1" : "127.0.0.1", got[0], got[1], got[2], wrong,
                      wrong2);
        assert_int_equal(wrong + wrong2, 0);
        assert_true(got[0] > 100 && got[1] > 100 && got[2] > 100);
        steer_close(s);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rolls, setup),
        cmocka_unit_test_setup(test_random_order, setup),
        /* A UDP group: the same program and order, no listen(). */
        cmocka_unit_test_setup(test_rolls, setup_udp),
        cmocka_unit_test_setup(test_random_order, setup_udp),
        cmocka_unit_test_setup(test_leave_during_canary, setup_udp),
        cmocka_unit_test_setup(test_quic_flows, setup_udp),
        cmocka_unit_test(test_quic_cookies),
        cmocka_unit_test_setup(test_leave_busy, setup),
        cmocka_unit_test_setup(test_leave_restored_listener, setup),
        cmocka_unit_test_setup(test_leave_during_canary, setup),
        cmocka_unit_test_setup(test_shares, setup),
        cmocka_unit_test_setup(test_canary_clients, setup),
        cmocka_unit_test_setup(test_probe_ports, setup),
        cmocka_unit_test_setup(test_probe_sources, setup),
        cmocka_unit_test_setup(test_program_limits, setup),
        cmocka_unit_test_setup(test_programs_follow_plans, setup),
        /* Generations of several members, TCP and UDP. */
        cmocka_unit_test_setup(test_members_spread, setup),
        cmocka_unit_test_setup(test_members_spread, setup_udp),
        cmocka_unit_test_setup(test_members_sticky, setup_udp),
        cmocka_unit_test_setup(test_members_leave_one, setup),
        cmocka_unit_test_setup(test_members_leave_one, setup_udp),
        cmocka_unit_test_setup(test_members_rolls, setup_udp),
        cmocka_unit_test_setup(test_members_shares, setup_udp),
        cmocka_unit_test_setup(test_members_probes, setup_udp),
        cmocka_unit_test_setup(test_members_limits, setup_udp),
        cmocka_unit_test_setup(test_members_quic, setup_udp),
        cmocka_unit_test_setup(test_members_queued, setup),
        cmocka_unit_test_setup(test_members_queued, setup_udp),
        cmocka_unit_test_setup(test_members_random_order, setup),
        cmocka_unit_test_setup(test_members_random_order, setup_udp),
        cmocka_unit_test_setup(test_members_follow_plans, setup),
        cmocka_unit_test(test_members_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
