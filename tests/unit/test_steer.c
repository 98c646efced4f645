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

#include <cmocka.h>
#include <netinet/in.h>

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
    int probe_fd[STEER_MAX_GENS];
    size_t nprobe;
    unsigned misprobed; /* probes sent elsewhere in a close's window */
    unsigned regen;     /* clients whose socket changed in a close's window */
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
        unsigned lo, hi;
        uint32_t idx;
        if (steer_plan_probe_range(k.plan, k.plan->r[i].gen, &lo, &hi) < 0)
            continue;
        packet_v4(0x7f000001u, (uint16_t)lo);
        idx = run(k.prog, k.len);
        if (idx < k.n) {
            k.probe_port[k.nprobe] = lo;
            k.probe_fd[k.nprobe++] = k.group[idx];
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
                if (k.probe_fd[j] == fd)
                    continue; /* its own generation is leaving */
                for (int v6 = 0; v6 < 2; v6++) { /* from 127.0.0.1 and ::1 */
                    uint32_t idx;
                    int other = 0;
                    if (v6)
                        packet_v6(lo6, (uint16_t)k.probe_port[j]);
                    else
                        packet_v4(0x7f000001u, (uint16_t)k.probe_port[j]);
                    idx = run(k.prog, k.len);
                    for (size_t m2 = 0; m2 < k.n && idx >= k.n; m2++)
                        other |= k.group[m2] != k.probe_fd[j]; /* the hash */
                    k.misprobed += idx >= k.n ? other
                                              : k.group[idx] != k.probe_fd[j];
                }
            }
            return;
        }
}

static int
m_queued(int fd)
{
    (void)fd;
    assert_false(dgram);
    return 0;
}

static int
m_received(int fd)
{
    (void)fd;
    assert_true(dgram);
    return 0;
}

static const struct steer_ops model = {m_open,  m_listen, m_attach,
                                       m_close, m_queued, m_received};

static int
setup(void **state)
{
    (void)state;
    memset(&k, 0, sizeof(k));
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
        if (p->r[i].share > 0 && steer_fd(s, p->r[i].gen) >= 0)
            k.client_fd[k.nclient++] = steer_fd(s, p->r[i].gen);
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
            return s->m[i].owner == STEER_GEN ? s->m[i].gen : 0;
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
            return s->m[i].owner == STEER_GEN ? s->m[i].gen : 0;
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

    for (size_t i = 0; i < p->n; i++) {
        idx[i] = -1;
        for (size_t j = 0; j < n; j++)
            if (m[j].owner == STEER_GEN && m[j].gen == p->r[i].gen)
                idx[i] = (int)j;
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
    h = steer_hash(c->v6 ? c->src[0] ^ c->src[1] ^ c->src[2] ^ c->src[3]
                         : c->src[0]);
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
random_plan(struct steer_plan *p, struct steer_member *m, size_t *n)
{
    unsigned lo = 1024 + (unsigned)rand() % 60000,
             size = 64 + (unsigned)rand() % 4000;
    unsigned g = 1 + (unsigned)rand() % 50,
             ngen = (unsigned)rand() % (STEER_MAX_GENS + 1);
    size_t nm = 0;

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
        if (rand() % 5) /* a member here */
            m[nm++] =
                (struct steer_member){100 + (int)nm, STEER_GEN, p->r[i].gen};
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
 * Bounded in time (3 s), whatever the machine's speed.
 */
static void
test_programs_follow_plans(void **state)
{
    static struct sock_filter insns[STEER_MAX_INSNS];
    double t0 = now_s();
    unsigned plans = 0, clients = 0, wrong = 0;
    size_t longest = 0;

    (void)state;
    srand(18);
    while (plans < 200000 && now_s() - t0 < 3.0) {
        struct steer_member m[STEER_MAX_MEMBERS];
        struct steer_plan p;
        struct sock_fprog prog;
        unsigned pinned;
        size_t n;

        random_plan(&p, m, &n);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
