/* steer.c: reuseport groups, their index bookkeeping and the cBPF program that steers. */
#include "steer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

/* --- the plan ------------------------------------------------------------ */

void
steer_plan_init(struct steer_plan *p, unsigned lo, unsigned hi)
{
    memset(p, 0, sizeof(*p));
    p->probe_lo = (uint16_t)lo;
    p->probe_size = (uint16_t)(hi >= lo ? (hi - lo + 1) / STEER_PROBE_BLOCKS : 0);
}

struct steer_route *
steer_plan_find(const struct steer_plan *p, unsigned gen)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->r[i].gen == gen)
            return (struct steer_route *)&p->r[i];
    return NULL;
}

int
steer_plan_add(struct steer_plan *p, unsigned gen)
{
    unsigned used = 0;
    int block = -1;

    if (steer_plan_find(p, gen) != NULL)
        return 0;
    if (p->n == STEER_MAX_GENS)
        return -ENOSPC;
    for (size_t i = 0; i < p->n; i++)
        if (p->r[i].block >= 0)
            used |= 1u << p->r[i].block;
    /* In turn, not the lowest free: a block comes back into use as late as
     * can be, so a port names one generation for as long as can be. */
    for (unsigned t = 0; t < STEER_PROBE_BLOCKS && p->probe_size > 0; t++) {
        unsigned b = (p->next_block + t) % STEER_PROBE_BLOCKS;
        if (!(used & (1u << b))) {
            block = (int)b;
            p->next_block = b + 1;
            break;
        }
    }
    memmove(&p->r[1], &p->r[0], p->n * sizeof(p->r[0]));
    p->r[0] = (struct steer_route){gen, 0, 0, block, 0, 0};
    /* A cookie no other generation has, in turn: a value comes back into
     * use as late as can be, as a probe block does. */
    for (unsigned t = 0; t < 256; t++) {
        unsigned c = (p->next_cookie + t) & 0xff, taken = 0;
        for (size_t i = 1; i <= p->n && !taken; i++)
            taken = p->r[i].cookie == c;
        if (!taken) {
            p->r[0].cookie = (uint8_t)c;
            p->next_cookie = c + 1;
            break;
        }
    }
    p->n++;
    return 0;
}

void
steer_plan_remove(struct steer_plan *p, unsigned gen)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->r[i].gen == gen) {
            memmove(&p->r[i], &p->r[i + 1], (p->n - i - 1) * sizeof(p->r[0]));
            p->n--;
            return;
        }
}

void
steer_plan_promote(struct steer_plan *p, unsigned gen)
{
    int newer = 1; /* routes are newest first */

    for (size_t i = 0; i < p->n; i++) {
        p->r[i].share = p->r[i].gen == gen ? STEER_SHARE_ALL : 0;
        if (p->r[i].gen == gen) {
            p->r[i].serving = 1;
            p->r[i].flows = 1;
            newer = 0;
        } else if (newer) {
            p->r[i].serving = 0;
        }
    }
}

unsigned
steer_plan_probe_port(struct steer_plan *p, unsigned gen)
{
    struct steer_route *r = steer_plan_find(p, gen);

    if (r == NULL || r->block < 0 || p->probe_size == 0)
        return 0;
    /* Rotate through the block: a port a probe just used may still be
     * tied to its last connection. */
    return p->probe_lo + (unsigned)r->block * p->probe_size +
           p->rot[r->block]++ % p->probe_size;
}

int
steer_plan_probe_range(const struct steer_plan *p, unsigned gen, unsigned *lo,
                       unsigned *hi)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->r[i].gen == gen && p->r[i].block >= 0 && p->probe_size > 0) {
            *lo = p->probe_lo + (unsigned)p->r[i].block * p->probe_size;
            *hi = *lo + p->probe_size - 1;
            return 0;
        }
    return -ENOENT;
}

int
steer_probe_ports_check(unsigned lo, unsigned hi, const char *range_file,
                        char *err, size_t errlen)
{
    const char *path =
        range_file ? range_file : "/proc/sys/net/ipv4/ip_local_port_range";
    FILE *f = fopen(path, "re");
    unsigned elo, ehi;
    int n;

    if (f == NULL)
        return 0;
    n = fscanf(f, "%u %u", &elo, &ehi);
    fclose(f);
    if (n != 2 || lo > ehi || hi < elo)
        return 0;
    snprintf(err, errlen,
             "%u-%u overlaps the kernel's ephemeral ports "
             "%u-%u (%s): a local client's connection could be taken for "
             "a probe; choose probe_ports outside them",
             lo, hi, elo, ehi, path);
    return -EINVAL;
}

/* --- the program --------------------------------------------------------- */

unsigned
steer_hash(uint32_t h)
{
    /* A 32-bit mix (low bias): neighbouring addresses spread out. */
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h % STEER_SHARE_ALL;
}

uint32_t
steer_flow_hash(uint32_t a, uint16_t port)
{
    /* Other constants than steer_hash's: which member a client gets does
     * not follow from which generation it gets. */
    uint32_t h = a ^ port * 0x9e3779b1U;

    h ^= h >> 16;
    h *= 0x85ebca6bU;
    h ^= h >> 13;
    h *= 0xc2b2ae35U;
    h ^= h >> 16;
    return h;
}

struct prog {
    struct sock_filter *in;
    size_t n, cap;
    int overflow;
};

static size_t
emit(struct prog *g, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
    if (g->n == g->cap) {
        g->overflow = 1;
        return g->n;
    }
    g->in[g->n] = (struct sock_filter){code, jt, jf, k};
    return g->n++;
}

/* Point the jt (or jf) of insn at to the next instruction to be emitted. */
static void
patch(struct prog *g, size_t at, int jf)
{
    size_t d = g->n - at - 1;

    if (at >= g->cap || d > 255) {
        g->overflow = 1;
        return;
    }
    if (jf)
        g->in[at].jf = (uint8_t)d;
    else
        g->in[at].jt = (uint8_t)d;
}

/* Point the ja at to the next instruction to be emitted (32-bit reach). */
static void
patch_ja(struct prog *g, size_t at)
{
    if (at < g->cap)
        g->in[at].k = (uint32_t)(g->n - at - 1);
}

/* The places a client is sent to a route: a probe block in each family's
 * section, each canary network, each share, the default. */
#define STEER_PICK_JUMPS                                                       \
    (2 * STEER_MAX_GENS + CANARY_MAX_CIDRS + STEER_MAX_GENS + 1)

/*
 * Each route's members here: idx the first (-1: none), mask its members'
 * bits, sel their indices in the order of their descriptors (the order
 * the program picks in: the kernel's moves do not change it), k how many.
 * A route of several members is reached by a ja to its pick, emitted
 * after the rest: jump[] and jroute[] are those ja and their routes.
 */
struct routes {
    int idx[STEER_MAX_GENS];
    unsigned mask[STEER_MAX_GENS];
    uint8_t sel[STEER_MAX_GENS][STEER_MAX_MEMBERS];
    unsigned k[STEER_MAX_GENS];
    int multi; /* a route has several: the program keeps a flow key */
    size_t jump[STEER_PICK_JUMPS], jroute[STEER_PICK_JUMPS], njump;
};

static int
of_gen(const struct steer_member *m, unsigned gen)
{
    return (m->owner == STEER_GEN || m->owner == STEER_EXTRA) && m->gen == gen;
}

static void
routes_find(struct routes *rt, const struct steer_member *m, size_t n,
            const struct steer_plan *p, size_t standin)
{
    memset(rt, 0, sizeof(*rt));
    for (size_t i = 0; i < p->n; i++) {
        rt->idx[i] = -1;
        for (size_t j = 0; j < n; j++) {
            size_t at;
            if (!of_gen(&m[j], p->r[i].gen))
                continue;
            /* in order of descriptors */
            for (at = rt->k[i]; at > 0 && m[rt->sel[i][at - 1]].fd > m[j].fd;
                 at--)
                rt->sel[i][at] = rt->sel[i][at - 1];
            rt->sel[i][at] = (uint8_t)j;
            rt->k[i]++;
            rt->mask[i] |= j != standin ? 1u << j : 0;
        }
        /* The stand-in's flows go to the next member, the others' stay. */
        for (size_t t = 0; t < rt->k[i] && rt->k[i] > 1; t++)
            if (rt->sel[i][t] == standin)
                rt->sel[i][t] = rt->sel[i][(t + 1) % rt->k[i]];
        if (rt->k[i] > 0)
            rt->idx[i] = rt->sel[i][0];
        rt->multi |= rt->k[i] > 1;
    }
}

/* The client goes to route i's member; one of them, when it has several. */
static void
emit_to(struct prog *g, struct routes *rt, size_t i)
{
    if (rt->k[i] <= 1) {
        emit(g, BPF_RET | BPF_K, 0, 0, (uint32_t)rt->idx[i]);
        return;
    }
    if (rt->njump == STEER_PICK_JUMPS) {
        g->overflow = 1;
        return;
    }
    rt->jroute[rt->njump] = i;
    rt->jump[rt->njump++] = emit(g, BPF_JMP | BPF_JA, 0, 0, 0);
}

/*
 * The flow key of a client in M[1], when a route has several members: its
 * source port times a constant, xored with its address as the shares hash
 * it (IPv6: the four words xored). The pick mixes it (steer_flow_hash).
 */
static void
emit_flow_key(struct prog *g, const struct routes *rt, int v6)
{
    if (!rt->multi)
        return;
    if (!v6) {
        emit(g, BPF_LDX | BPF_B | BPF_MSH, 0, 0, (uint32_t)SKF_NET_OFF);
        emit(g, BPF_LD | BPF_H | BPF_IND, 0, 0, (uint32_t)SKF_NET_OFF);
    } else {
        emit(g, BPF_LD | BPF_H | BPF_ABS, 0, 0, (uint32_t)(SKF_NET_OFF + 40));
    }
    emit(g, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x9e3779b1U);
    for (uint32_t w = 0; w < (v6 ? 4u : 1u); w++) {
        emit(g, BPF_MISC | BPF_TAX, 0, 0, 0);
        emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0,
             (uint32_t)SKF_NET_OFF + (v6 ? 8 + 4 * w : 12));
        emit(g, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    }
    emit(g, BPF_ST, 0, 0, 1);
}

/* Whether any route of the plan has a probe block and a member here. */
static int
any_probes(const struct routes *rt, const struct steer_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (rt->idx[i] >= 0 && p->r[i].block >= 0 && p->probe_size > 0)
            return 1;
    return 0;
}

/* With the source port in A: each probe block goes to its route. */
static void
emit_probes(struct prog *g, struct routes *rt, const struct steer_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        unsigned lo;

        if (rt->idx[i] < 0 || p->r[i].block < 0 || p->probe_size == 0)
            continue;
        lo = p->probe_lo + (unsigned)p->r[i].block * p->probe_size;
        emit(g, BPF_JMP | BPF_JGE | BPF_K, 0, 2, lo);
        emit(g, BPF_JMP | BPF_JGE | BPF_K, 1, 0, lo + p->probe_size);
        emit_to(g, rt, i);
    }
}

/*
 * Probe blocks route only the host's own connections: a client elsewhere
 * chooses its source port, so a block alone would let it pick a starting,
 * draining or kept generation. The host's own: a loopback source
 * (127.0.0.0/8, ::1), or one equal to the destination (a probe of a
 * managed address that is not loopback leaves from that address; the
 * kernel drops such a source arriving from outside as a martian).
 */
static void
emit_probe_gate(struct prog *g, struct routes *rt, const struct steer_plan *p,
                int v6)
{
    size_t to_probes[2], not_lo[4], not_self[4], n_lo = 0, n_self = 0, n_tp = 0;

    if (!any_probes(rt, p))
        return;
    if (!v6) {
        emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + 12);
        emit(g, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0xff000000u);
        to_probes[n_tp++] =
            emit(g, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0x7f000000u);
        emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + 16);
        emit(g, BPF_MISC | BPF_TAX, 0, 0, 0);
        emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + 12);
        not_self[n_self++] = emit(g, BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 0);
    } else {
        /* ::1 */
        for (uint32_t w = 0; w < 4; w++) {
            emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                 (uint32_t)SKF_NET_OFF + 8 + 4 * w);
            not_lo[n_lo] = emit(g, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, w == 3);
            if (w == 3)
                to_probes[n_tp++] = not_lo[n_lo];
            n_lo++;
        }
        for (size_t j = 0; j < n_lo; j++)
            patch(g, not_lo[j], 1);
        /* the source is the destination: word by word */
        for (uint32_t w = 0; w < 4; w++) {
            emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                 (uint32_t)SKF_NET_OFF + 24 + 4 * w);
            emit(g, BPF_MISC | BPF_TAX, 0, 0, 0);
            emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                 (uint32_t)SKF_NET_OFF + 8 + 4 * w);
            not_self[n_self++] = emit(g, BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 0);
        }
    }
    /* the host's own: the source port decides */
    for (size_t j = 0; j < n_tp; j++)
        patch(g, to_probes[j], 0);
    if (!v6) {
        emit(g, BPF_LDX | BPF_B | BPF_MSH, 0, 0, (uint32_t)SKF_NET_OFF);
        emit(g, BPF_LD | BPF_H | BPF_IND, 0, 0, (uint32_t)SKF_NET_OFF);
    } else {
        emit(g, BPF_LD | BPF_H | BPF_ABS, 0, 0, (uint32_t)(SKF_NET_OFF + 40));
    }
    emit_probes(g, rt, p);
    /* no block of its port, or not the host's own: on to the address */
    for (size_t j = 0; j < n_self; j++)
        patch(g, not_self[j], 1);
}

/*
 * The canary clients (source in a CIDR) go to route target. IPv4: the
 * address is in A, kept in M[0]; IPv6: its words are loaded one by one.
 */
static void
emit_cidrs(struct prog *g, struct routes *rt, const struct steer_plan *p,
           int v6, int target)
{
    if (target < 0)
        return;
    if (!v6)
        emit(g, BPF_ST, 0, 0, 0);
    for (size_t i = 0; i < p->ncidrs; i++) {
        const struct canary_cidr *c = &p->cidrs[i];
        unsigned words = 0, done = 0;

        if ((c->family == AF_INET6) != v6)
            continue;
        for (unsigned w = 0; w < (v6 ? 4u : 1u); w++)
            words += canary_cidr_mask(c->prefix, w) != 0;
        for (unsigned w = 0; w < (v6 ? 4u : 1u); w++) {
            uint32_t mask = canary_cidr_mask(c->prefix, w);
            if (mask == 0)
                continue;
            done++;
            if (v6)
                emit(g, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                     (uint32_t)SKF_NET_OFF + 8 + 4 * w);
            else
                emit(g, BPF_LD | BPF_MEM, 0, 0, 0);
            emit(g, BPF_ALU | BPF_AND | BPF_K, 0, 0, mask);
            /* not in it: past this network's other words and its ret
             * (or its ja to the pick: one instruction too) */
            emit(g, BPF_JMP | BPF_JEQ | BPF_K, 0,
                 (uint8_t)(3 * (words - done) + 1), c->addr[w]);
        }
        emit_to(g, rt, (size_t)target);
    }
    if (!v6)
        emit(g, BPF_LD | BPF_MEM, 0, 0, 0);
}

/* A ^= A >> s, with X as scratch. */
static void
emit_xorshift(struct prog *g, uint32_t s)
{
    emit(g, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(g, BPF_ALU | BPF_RSH | BPF_K, 0, 0, s);
    emit(g, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
}

/*
 * After the rest, for each route of several members that a client can be
 * sent to: its pick, steer_flow_hash of the flow key mod k, the k members
 * in the order of their descriptors; each ja to it patched.
 */
static void
emit_picks(struct prog *g, struct routes *rt, const struct steer_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        int used = 0;

        for (size_t j = 0; j < rt->njump; j++)
            if (rt->jroute[j] == i) {
                patch_ja(g, rt->jump[j]);
                used = 1;
            }
        if (!used)
            continue;
        emit(g, BPF_LD | BPF_MEM, 0, 0, 1);
        emit_xorshift(g, 16);
        emit(g, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x85ebca6bU);
        emit_xorshift(g, 13);
        emit(g, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0xc2b2ae35U);
        emit_xorshift(g, 16);
        emit(g, BPF_ALU | BPF_MOD | BPF_K, 0, 0, rt->k[i]);
        for (unsigned t = 0; t + 1 < rt->k[i]; t++) {
            emit(g, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, t);
            emit(g, BPF_RET | BPF_K, 0, 0, rt->sel[i][t]);
        }
        emit(g, BPF_RET | BPF_K, 0, 0, rt->sel[i][rt->k[i] - 1]);
    }
}

/*
 * steer_compile, with member standin (a member of a generation of several;
 * SIZE_MAX: none) given nothing: its part of its generation's pick goes to
 * the next one's, every other flow stays where it goes. It may move then.
 */
static int
compile(const struct steer_member *m, size_t n, const struct steer_plan *p,
        struct sock_filter *insns, size_t cap, struct sock_fprog *prog,
        unsigned *pinned, size_t standin)
{
    struct prog g = {insns, 0, cap, 0};
    struct routes rt;
    unsigned total = 0, cum = 0;
    int dflt = -1, dr = -1, newest = -1;
    size_t to_v6, v4_done;

    if (n > STEER_MAX_MEMBERS)
        return -E2BIG;
    /* Each route's members here, if it has any. */
    routes_find(&rt, m, n, p, standin);
    for (size_t i = 0; i < p->n; i++)
        if (rt.idx[i] >= 0)
            total += p->r[i].share;
    /* Where a client goes past every threshold (dr: a route, else dflt):
     * the oldest generation with a share; where no share applies here,
     * the newest member that may serve, else the socket reserved for the
     * first generation, else the newest (in a group that a reload added,
     * only the starting generation can ever accept). */
    for (size_t i = 0; i < p->n && dr < 0; i++)
        if (rt.idx[i] >= 0 && !total && p->r[i].serving)
            dr = (int)i;
    for (size_t i = 0; i < p->n && total; i++)
        if (rt.idx[i] >= 0 && p->r[i].share > 0)
            dr = (int)i; /* the oldest with a share takes the rest */
    for (size_t j = 0; j < n && dr < 0 && dflt < 0; j++)
        if (m[j].owner == STEER_RESERVED)
            dflt = (int)j;
    for (size_t i = 0; i < p->n && dr < 0 && dflt < 0; i++)
        if (rt.idx[i] >= 0)
            dr = (int)i;
    if (dr >= 0)
        dflt = rt.idx[dr]; /* for what is not IP: its first member */
    if (dflt < 0)
        dflt = 0;
    *pinned = dr >= 0 ? rt.mask[dr] : 1u << dflt;
    for (size_t i = 0; i < p->n && newest < 0 && p->ncidrs > 0; i++)
        if (rt.idx[i] >= 0 && p->r[i].serving)
            newest = (int)i;
    if (newest >= 0)
        *pinned |= rt.mask[newest];

    /* The ethertype: IPv4, IPv6 (clients of either on a dual-stack group),
     * else the default. The sections are long: reach them with ja, whose
     * offset has 32 bits, not with a conditional jump's 8. */
    emit(&g, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL));
    emit(&g, BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 0x0800);
    emit(&g, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0x86dd);
    emit(&g, BPF_RET | BPF_K, 0, 0, (uint32_t)dflt);
    to_v6 = emit(&g, BPF_JMP | BPF_JA, 0, 0, 0);
    /* IPv4: probes by the TCP source port after the IP header, then the
     * address. */
    emit_flow_key(&g, &rt, 0);
    emit_probe_gate(&g, &rt, p, 0);
    emit(&g, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_NET_OFF + 12));
    emit_cidrs(&g, &rt, p, 0, newest);
    v4_done = emit(&g, BPF_JMP | BPF_JA, 0, 0, 0);
    /* IPv6 (no extension headers before TCP): the four words xored. */
    patch_ja(&g, to_v6);
    emit_flow_key(&g, &rt, 1);
    emit_probe_gate(&g, &rt, p, 1);
    emit_cidrs(&g, &rt, p, 1, newest);
    emit(&g, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)(SKF_NET_OFF + 8));
    for (uint32_t off = 12; off <= 20; off += 4) {
        emit(&g, BPF_MISC | BPF_TAX, 0, 0, 0);
        emit(&g, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + off);
        emit(&g, BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    }
    patch_ja(&g, v4_done);
    /* The hash of the address (steer_hash), then the shares, newest first:
     * a client under a threshold stays under a larger one. */
    emit_xorshift(&g, 16);
    emit(&g, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x7feb352dU);
    emit_xorshift(&g, 15);
    emit(&g, BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0x846ca68bU);
    emit_xorshift(&g, 16);
    emit(&g, BPF_ALU | BPF_MOD | BPF_K, 0, 0, STEER_SHARE_ALL);
    for (size_t i = 0; i < p->n && total > 0; i++) {
        if (rt.idx[i] < 0 || p->r[i].share == 0)
            continue;
        cum += p->r[i].share;
        *pinned |= rt.mask[i];
        if (cum >= total)
            break; /* the rest: the default */
        emit(&g, BPF_JMP | BPF_JGE | BPF_K, 1, 0,
             (uint32_t)((uint64_t)cum * STEER_SHARE_ALL / total));
        emit_to(&g, &rt, i);
    }
    /* Past every threshold. */
    if (dr >= 0)
        emit_to(&g, &rt, (size_t)dr);
    else
        emit(&g, BPF_RET | BPF_K, 0, 0, (uint32_t)dflt);
    emit_picks(&g, &rt, p);
    if (g.overflow)
        return -E2BIG;
    prog->len = (unsigned short)g.n;
    prog->filter = insns;
    return 0;
}

int
steer_compile(const struct steer_member *m, size_t n,
              const struct steer_plan *p, struct sock_filter *insns,
              size_t cap, struct sock_fprog *prog, unsigned *pinned)
{
    return compile(m, n, p, insns, cap, prog, pinned, SIZE_MAX);
}

size_t
steer_compile_quic(const struct steer_member *m, size_t n,
                   const struct steer_plan *p, struct sock_filter *insns,
                   size_t cap, unsigned *pinned)
{
    struct prog g = {insns, 0, cap, 0};
    /* The jumps to the plan after the prelude, each by its jf. */
    size_t to_plan[6], nplan = 0, v1, v2_done, to_table, at;

    /* The payload starts at offset 0; a load past its end would end the
     * program with 0, the first member: check the length first. */
    emit(&g, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
    to_plan[nplan++] = emit(&g, BPF_JMP | BPF_JGE | BPF_K, 0, 0, 2);
    emit(&g, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(&g, BPF_LD | BPF_B | BPF_ABS, 0, 0, 0);
    at = emit(&g, BPF_JMP | BPF_JSET | BPF_K, 0, 0, 0x80);
    /* Short header: the connection ID the server chose is at byte 1. */
    emit(&g, BPF_LD | BPF_B | BPF_ABS, 0, 0, 1);
    to_table = emit(&g, BPF_JMP | BPF_JA, 0, 0, 0);
    patch(&g, at, 0);
    /* Long header: a Handshake packet of version 1 (type 2) or 2 (type
     * 3) names it at byte 6, after its length at byte 5. Initial and
     * 0-RTT packets carry one the client chose. */
    emit(&g, BPF_MISC | BPF_TXA, 0, 0, 0);
    to_plan[nplan++] = emit(&g, BPF_JMP | BPF_JGE | BPF_K, 0, 0, 7);
    emit(&g, BPF_LD | BPF_W | BPF_ABS, 0, 0, 1);
    v1 = emit(&g, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
    to_plan[nplan++] = emit(&g, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0x6b3343cfu);
    emit(&g, BPF_LD | BPF_IMM, 0, 0, 0x30); /* v2: type 3 */
    v2_done = emit(&g, BPF_JMP | BPF_JA, 0, 0, 0);
    patch(&g, v1, 0);
    emit(&g, BPF_LD | BPF_IMM, 0, 0, 0x20); /* v1: type 2 */
    patch_ja(&g, v2_done);
    emit(&g, BPF_MISC | BPF_TAX, 0, 0, 0);
    emit(&g, BPF_LD | BPF_B | BPF_ABS, 0, 0, 0);
    emit(&g, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0x30);
    to_plan[nplan++] = emit(&g, BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 0);
    emit(&g, BPF_LD | BPF_B | BPF_ABS, 0, 0, 5);
    /* an empty connection ID: the plan */
    to_plan[nplan++] = emit(&g, BPF_JMP | BPF_JGT | BPF_K, 0, 0, 0);
    emit(&g, BPF_LD | BPF_B | BPF_ABS, 0, 0, 6);
    /* The cookie in A: the member of its generation, if it got clients
     * once (a starting one has no connection) and has one here. */
    patch_ja(&g, to_table);
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < n && p->r[i].flows; j++)
            if (m[j].owner == STEER_GEN && m[j].gen == p->r[i].gen) {
                emit(&g, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, p->r[i].cookie);
                emit(&g, BPF_RET | BPF_K, 0, 0, (uint32_t)j);
                *pinned |= 1u << j;
            }
    for (size_t j = 0; j < nplan; j++)
        patch(&g, to_plan[j], 1);
    return g.overflow ? 0 : g.n;
}

/* --- the group ----------------------------------------------------------- */

/* The program of plan p, member standin given nothing (see compile). */
static int
attach_standin(struct steer *s, const struct steer_plan *p, size_t standin)
{
    struct sock_filter insns[STEER_MAX_INSNS];
    struct sock_fprog prog;
    unsigned pinned, flows = 0;
    size_t pre = 0;
    int rc;

    memset(&prog, 0, sizeof(prog)); /* its padding goes to the kernel too */
    if (s->n == 0)
        return 0;
    if (s->quic && (pre = steer_compile_quic(s->m, s->n, p, insns,
                                             STEER_MAX_INSNS, &flows)) == 0)
        return -E2BIG;
    rc = compile(s->m, s->n, p, insns + pre, STEER_MAX_INSNS - pre, &prog,
                 &pinned, standin);
    if (rc < 0)
        return rc;
    pinned |= flows;
    prog.len = (unsigned short)(prog.len + pre);
    prog.filter = insns;
    /* Through a member that listens: every member does. */
    rc = s->ops->attach(s->m[0].fd, &prog);
    if (rc < 0)
        return rc;
    s->pinned = pinned;
    /* A member that gets probes must not move either: a probe whose SYN
     * arrives in a close's window (one sent again, or processed late)
     * would reach another generation and pass or fail its check for it. */
    s->probed = 0;
    for (size_t i = 0; i < p->n && p->probe_size > 0; i++)
        if (p->r[i].block >= 0)
            for (size_t j = 0; j < s->n; j++)
                if (of_gen(&s->m[j], p->r[i].gen) && j != standin)
                    s->probed |= 1u << j;
    s->swaps++;
    return 0;
}

static int
attach(struct steer *s, const struct steer_plan *p)
{
    return attach_standin(s, p, SIZE_MAX);
}

/* A new member at the end of the group: the program sends it nothing. */
static int
append(struct steer *s, enum steer_owner owner, unsigned gen)
{
    int fd, rc;

    if (s->n == STEER_MAX_MEMBERS)
        return -ENOSPC;
    rc = s->ops->open(&s->addr, s->nonblocking, s->n == 0, &fd);
    if (rc < 0)
        return rc;
    rc = s->addr.dgram ? 0 : s->ops->listen(fd, (int)s->backlog);
    if (rc < 0) {
        s->ops->close(fd);
        return rc;
    }
    s->m[s->n++] = (struct steer_member){fd, owner, gen};
    return 0;
}

/* Bit from of mask moves to bit to (from's member took to's place). */
static unsigned
move_bit(unsigned mask, size_t from, size_t to)
{
    unsigned had = mask & (1u << from);

    mask &= ~(1u << from) & ~(1u << to);
    return had ? mask | 1u << to : mask;
}

/* Member i leaves; the kernel puts the last one in its place. */
static void
remove_at(struct steer *s, size_t i)
{
    s->ops->close(s->m[i].fd);
    s->m[i] = s->m[s->n - 1];
    s->n--;
    /* The last member's pins move with it. */
    s->pinned = move_bit(s->pinned, s->n, i);
    s->probed = move_bit(s->probed, s->n, i);
}

/*
 * Whether member i may change its index now: it gets no client and no
 * probe under the program in force.
 */
static int
movable(const struct steer *s, size_t i)
{
    return !((s->pinned | s->probed) & (1u << i));
}

/*
 * Whether closing i could let the last member move at once: the program in
 * force then sends the last one's connections past the end, where the
 * kernel picks any member by its own hash. Harmless only if every member
 * but i gets clients anyway, and the last gets no probes unless it is the
 * only member left (a probe must reach its own generation).
 */
static int
all_pinned_but(const struct steer *s, size_t i)
{
    if ((s->probed & (1u << (s->n - 1))) && s->n > 2)
        return 0;
    for (size_t j = 0; j < s->n; j++)
        if (j != i && !(s->pinned & (1u << j)))
            return 0;
    return 1;
}

/*
 * Make the last member movable without a placeholder: if its generation
 * has another member, a program that gives the last one's clients and
 * probes to that one, for the moment it moves. 0, or -EAGAIN when it
 * cannot (it is its generation's only member), or the attach's error.
 */
static int
free_last(struct steer *s, const struct steer_plan *p)
{
    size_t last = s->n - 1;

    if (!of_gen(&s->m[last], s->m[last].gen))
        return -EAGAIN; /* a placeholder, the reserved socket */
    for (size_t j = 0; j < last; j++)
        if (of_gen(&s->m[j], s->m[last].gen))
            return attach_standin(s, p, last);
    return -EAGAIN;
}

/*
 * Placeholders exist only so that a member that gets clients is never the
 * one the kernel moves. Close them again once the last member may move, or
 * every member left would get clients (see steer_leave): after a join, a
 * leave and a swap. One stands for each generation that left while the
 * one getting clients was last, until that one may move.
 */
static void
collect(struct steer *s, const struct steer_plan *p)
{
    for (;;) {
        size_t j, last = s->n - 1;

        for (j = 0; j < s->n; j++)
            if (s->m[j].owner == STEER_PLACEHOLDER)
                break;
        if (j == s->n)
            return;
        /* A last member that gets clients may still move, if one of its
         * generation takes them for that moment. */
        if (!movable(s, last) && !all_pinned_but(s, j) && free_last(s, p) < 0)
            return;
        remove_at(s, s->m[last].owner == STEER_PLACEHOLDER ? last : j);
    }
}

int
steer_open(const struct addr *a, long backlog, int nonblocking,
           const struct steer_ops *ops, struct steer **out)
{
    struct steer *s = calloc(1, sizeof(*s));
    struct steer_plan none;
    int rc;

    *out = NULL;
    if (s == NULL)
        return -ENOMEM;
    s->addr = *a;
    s->backlog = backlog;
    s->nonblocking = nonblocking;
    s->ops = ops;
    rc = append(s, STEER_RESERVED, 0);
    if (rc == 0) {
        steer_plan_init(&none, 0, 0);
        if (attach(s, &none) < 0)
            rc = -ENOPROTOOPT; /* the kernel refused the program */
    }
    if (rc < 0) {
        steer_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void
steer_close(struct steer *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        s->ops->close(s->m[i].fd);
    free(s);
}

int
steer_join(struct steer *s, const struct steer_plan *p, unsigned gen)
{
    int rc;

    if (steer_fd(s, gen) >= 0)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].owner == STEER_RESERVED) {
            /* The first generation takes the socket opened at start: its
             * queue already holds whoever connected before it ran. */
            s->m[i].owner = STEER_GEN;
            s->m[i].gen = gen;
            return attach(s, p);
        }
    if (s->n + 1 >= STEER_MAX_MEMBERS)
        return -ENOSPC; /* the last place: for a leave's placeholder */
    rc = append(s, STEER_GEN, gen);
    if (rc < 0)
        return rc;
    collect(s, p);
    return attach(s, p);
}

/*
 * Member i, to which the program in force sends nothing, leaves: the
 * kernel puts the last one in its place. Between that and the next
 * attach, the program in force sends the last one's clients to an index
 * past the end, and the kernel then picks any member by its own hash:
 * harmless if every member left gets clients anyway, else the last must
 * get none: under a program that gives its part to another member of its
 * generation (free_last), or a placeholder.
 */
static int
leave_at(struct steer *s, const struct steer_plan *p, size_t i)
{
    size_t last = s->n - 1;
    int rc;

    if (i != last && !movable(s, last) && !all_pinned_but(s, i)) {
        rc = free_last(s, p);
        if (rc == -EAGAIN)
            rc = append(s, STEER_PLACEHOLDER, 0);
        if (rc < 0)
            return rc; /* it stays until the next try */
    }
    remove_at(s, i);
    collect(s, p);
    return attach(s, p);
}

/* How many members gen has; in *first the index of its first (STEER_GEN),
 * in *extra the highest index of another. */
static size_t
count_gen(const struct steer *s, unsigned gen, size_t *first, size_t *extra)
{
    size_t k = 0;

    *first = s->n;
    for (size_t i = 0; i < s->n; i++)
        if (of_gen(&s->m[i], gen) &&
            (*first == s->n || s->m[i].owner == STEER_GEN))
            *first = i;
    for (size_t i = 0; i < s->n; i++)
        if (of_gen(&s->m[i], gen)) {
            k++;
            if (i != *first)
                *extra = i;
        }
    return k;
}

/*
 * Extra member i (not gen's last) leaves. If it gets clients or probes,
 * first a program that gives them to gen's others, i as a placeholder:
 * then it moves nothing that is routed when it closes.
 */
static int
leave_extra(struct steer *s, const struct steer_plan *p, size_t i)
{
    int rc;

    s->m[i].owner = STEER_PLACEHOLDER;
    if (!movable(s, i) && (rc = attach(s, p)) < 0) {
        s->m[i].owner = STEER_EXTRA; /* the program in force still has it */
        return rc;
    }
    return leave_at(s, p, i);
}

int
steer_leave(struct steer *s, const struct steer_plan *p, unsigned gen)
{
    size_t i = 0, extra = 0, k = count_gen(s, gen, &i, &extra);
    unsigned mine = 0;
    int rc;

    if (k == 0)
        return 0;
    for (size_t j = 0; j < s->n; j++)
        mine |= of_gen(&s->m[j], gen) ? 1u << j : 0;
    /* The plan no longer has gen, yet the program in force may still send
     * it clients: as the default of a listener that the active plan lacks
     * (a reload removed it; another restored it while gen lived). Route
     * them by the plan first, or its sockets could never leave. */
    if (((s->pinned | s->probed) & mine) && s->n > k &&
        steer_plan_find(p, gen) == NULL && (rc = attach(s, p)) < 0)
        return rc;
    if (((s->pinned | s->probed) & mine) && s->n > k)
        return -EBUSY; /* it still gets clients: the plan must change first */
    /* Its extras first, the last in the kernel's order first (it moves
     * nothing), one program swap each. */
    for (; k > 1; k = count_gen(s, gen, &i, &extra))
        if ((rc = leave_extra(s, p, extra)) < 0)
            return rc;
    if (s->n == 1) {
        /* The last socket on the address: keep it listening for the next
         * generation, as a shared socket would stay. */
        s->m[0].owner = STEER_RESERVED;
        return attach(s, p);
    }
    return leave_at(s, p, i);
}

int
steer_leave_one(struct steer *s, const struct steer_plan *p, int fd)
{
    size_t i, first = 0, extra = 0;
    unsigned gen;

    for (i = 0; i < s->n; i++)
        if (s->m[i].fd == fd &&
            (s->m[i].owner == STEER_GEN || s->m[i].owner == STEER_EXTRA))
            break;
    if (i == s->n)
        return 0;
    gen = s->m[i].gen;
    if (count_gen(s, gen, &first, &extra) == 1)
        return steer_leave(s, p, gen);
    if (s->m[i].owner == STEER_GEN) {
        /* Another becomes gen's first: the one of the lowest descriptor,
         * the first the program picks among them. */
        size_t next = s->n;
        for (size_t j = 0; j < s->n; j++)
            if (j != i && of_gen(&s->m[j], gen) &&
                (next == s->n || s->m[j].fd < s->m[next].fd))
                next = j;
        s->m[next].owner = STEER_GEN;
        s->m[i].owner = STEER_EXTRA;
    }
    return leave_extra(s, p, i);
}

int
steer_join_more(struct steer *s, const struct steer_plan *p, unsigned gen,
                int *fd)
{
    int rc;

    *fd = -1;
    if (s->quic)
        return -EOPNOTSUPP;
    if (steer_fd(s, gen) < 0)
        return -ENOENT;
    /* Keep the last place for the placeholder a leave may need (it leaves
     * as many members as it found): a process's exit must not wait for a
     * place in the group; and STEER_ROLL_ROOM places for new generations:
     * a server with many threads must not make its next roll fail. */
    if (s->n + 1 + STEER_ROLL_ROOM >= STEER_MAX_MEMBERS)
        return -ENOSPC;
    rc = append(s, STEER_EXTRA, gen);
    if (rc < 0)
        return rc;
    *fd = s->m[s->n - 1].fd;
    collect(s, p);
    return attach(s, p);
}

int
steer_apply(struct steer *s, const struct steer_plan *p)
{
    size_t n;
    int rc = attach(s, p);

    /* A promotion makes the old active one movable: placeholders that
     * stood for it may go now rather than at the next join. */
    if (rc < 0 || (n = s->n, collect(s, p), s->n == n))
        return rc;
    return attach(s, p);
}

int
steer_fd(const struct steer *s, unsigned gen)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].owner == STEER_GEN && s->m[i].gen == gen)
            return s->m[i].fd;
    return -1;
}

size_t
steer_fds(const struct steer *s, unsigned gen, int *fds, size_t cap)
{
    size_t k = 0;
    int first = steer_fd(s, gen);

    if (first < 0)
        return 0;
    if (cap > 0)
        fds[k] = first;
    k++;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].owner == STEER_EXTRA && s->m[i].gen == gen) {
            if (k < cap)
                fds[k] = s->m[i].fd;
            k++;
        }
    return k;
}

int
steer_queued(const struct steer *s, unsigned gen)
{
    long sum = 0;

    for (size_t i = 0; i < s->n; i++) {
        int q;

        if (!of_gen(&s->m[i], gen))
            continue;
        q = s->addr.dgram ? s->ops->received(s->m[i].fd)
                          : s->ops->queued(s->m[i].fd);
        if (q < 0)
            return q;
        sum += q;
    }
    return sum > INT_MAX ? INT_MAX : (int)sum;
}

int
steer_set_backlog(struct steer *s, long backlog)
{
    int rc = 0, r;

    if (s->addr.dgram) {
        s->backlog = backlog; /* a datagram socket has none */
        return 0;
    }
    /* listen() again only changes the backlog: no member moves. */
    for (size_t i = 0; i < s->n; i++)
        if ((r = s->ops->listen(s->m[i].fd, (int)backlog)) < 0)
            rc = r;
    if (rc == 0)
        s->backlog = backlog;
    return rc;
}

int
steer_set_nonblocking(struct steer *s, int on)
{
    for (size_t i = 0; i < s->n; i++) {
        int fl = fcntl(s->m[i].fd, F_GETFL);
        if (fl < 0 || fcntl(s->m[i].fd, F_SETFL,
                            on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0)
            return -errno;
    }
    s->nonblocking = on;
    return 0;
}

/* --- the kernel ---------------------------------------------------------- */

/*
 * The first UDP member must be alone on its address, yet join a group at
 * bind(), where a datagram socket makes one (a listener does at listen():
 * see k_open). A socket without SO_REUSEPORT binds first, to find the
 * address free (and the port, for port 0), then makes way for the member:
 * only a process of handoff's own user that binds the port with
 * SO_REUSEPORT in that moment could still join.
 */
static int
udp_claim(struct addr *a)
{
    int fd = socket(addr_family(a), SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;
    int one = 1;
    socklen_t len = sizeof(a->ss);

    if (fd < 0)
        return -errno;
    if ((addr_family(a) == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
        bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
        getsockname(fd, (struct sockaddr *)&a->ss, &len) < 0)
        e = -errno;
    else
        a->len = len;
    close(fd);
    return e;
}

static int
k_open(struct addr *a, int nonblocking, int exclusive, int *out)
{
    int family = addr_family(a), one = 1, dgram = a->dgram, rc;
    int fd;

    if (dgram && exclusive && (rc = udp_claim(a)) < 0)
        return rc;
    fd = socket(family,
                (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC |
                    (nonblocking ? SOCK_NONBLOCK : 0),
                0);
    if (fd < 0)
        return -errno;
    /* Not for UDP: SO_REUSEADDR there would let any user's socket with it
     * bind the address too and take its datagrams. */
    if (dgram) {
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
            (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                                              &one, sizeof(one)) < 0) ||
            bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) <
                   0 ||
               (!exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
                                         sizeof(one)) < 0) ||
               (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                                                 &one, sizeof(one)) < 0) ||
               bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
               (exclusive && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
                                        sizeof(one)) < 0)) {
        int e = errno;
        close(fd);
        return -e;
    }
    /* Port 0: the kernel chose; every later member binds the same port. */
    a->len = sizeof(a->ss);
    if (getsockname(fd, (struct sockaddr *)&a->ss, &a->len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    a->dgram = dgram;
    *out = fd;
    return 0;
}

static int
k_listen(int fd, int backlog)
{
    return listen(fd, backlog) < 0 ? -errno : 0;
}

static int
k_attach(int fd, const struct sock_fprog *prog)
{
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, prog,
                      sizeof(*prog)) < 0 ? -errno : 0;
}

static void
k_close(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0;
    socklen_t tl = sizeof(type);

    /* The group holds the socket, not the fd: a process that outlives its
     * worker with a copy (a child, a sanitizer's tracer; dnsmasq's TCP
     * children hold its UDP socket) would keep it a member, and the
     * kernel's order would no longer be the mirror's. shutdown() through
     * any copy takes a listener out of the group at once (its queue, empty
     * by now, goes with it, as with a close). A datagram socket stays in
     * it when shut down; connect() takes it out. Its peer is loopback port
     * 1, which only a privileged sender can send from: a copy left reads
     * nothing more (port 0 would match every sender). */
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
        type == SOCK_DGRAM &&
        getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 lo = {.sin6_family = AF_INET6,
                                      .sin6_port = htons(1),
                                      .sin6_addr = IN6ADDR_LOOPBACK_INIT};
            (void)connect(fd, (struct sockaddr *)&lo, sizeof(lo));
        } else {
            struct sockaddr_in lo = {.sin_family = AF_INET,
                                     .sin_port = htons(1),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            (void)connect(fd, (struct sockaddr *)&lo, sizeof(lo));
        }
    }
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

static int
k_queued(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    /* On a listener, tcpi_unacked is its accept queue's length. */
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return -errno;
    return (int)ti.tcpi_unacked;
}

int
steer_received(int fd, long *drops)
{
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof(mem);

    /* The bytes queued, every datagram's: FIONREAD tells the first's. */
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
        return -errno;
    if (drops != NULL)
        *drops = len > SK_MEMINFO_DROPS * sizeof(mem[0])
                     ? (long)mem[SK_MEMINFO_DROPS]
                     : -1;
    return (int)mem[SK_MEMINFO_RMEM_ALLOC];
}

static int
k_received(int fd)
{
    return steer_received(fd, NULL);
}

const struct steer_ops steer_kernel = {k_open,  k_listen, k_attach,
                                       k_close, k_queued, k_received};
