/* test_steer_state.c: the steering plan written and read back as across an
 * upgrade's exec: the same programs compiled from it, the same probe ports
 * handed out next, every bad field refused by name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "steer_state.h"

static struct sock_filter insns_a[STEER_MAX_INSNS], insns_b[STEER_MAX_INSNS];

/* p as its reader leaves it: the entries past n and ncidrs are not part
 * of the plan (steer_plan_remove leaves the last one behind). */
static struct steer_plan
normalized(const struct steer_plan *p)
{
    struct steer_plan q = *p;

    memset(&q.r[q.n], 0, (STEER_MAX_GENS - q.n) * sizeof(q.r[0]));
    memset(&q.cidrs[q.ncidrs], 0,
           (CANARY_MAX_CIDRS - q.ncidrs) * sizeof(q.cidrs[0]));
    return q;
}

/* p written, through the document's text, read back into *q; the document
 * of q is the document of p, and so is every field. */
static void
round_trip(const struct steer_plan *p, struct steer_plan *q)
{
    json_t *doc = steer_state_write(p), *parsed, *again;
    char *text, *back, err[256] = "";
    struct steer_plan want = normalized(p);

    assert_non_null(doc);
    text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    parsed = json_loads(text, 0, NULL);
    assert_non_null(parsed);
    memset(q, 0xa5, sizeof(*q)); /* whatever was there before */
    if (steer_state_read(parsed, q, err, sizeof(err)) != 0)
        fail_msg("read back: %s\nof: %s", err, text);
    again = steer_state_write(q);
    back = json_dumps(again, JSON_COMPACT);
    if (!json_equal(doc, again))
        fail_msg("written:\n%s\nread and written again:\n%s", text, back);
    if (memcmp(&want, q, sizeof(want)) != 0)
        fail_msg("the plan read differs from the one written: %s", text);
    free(text);
    free(back);
    json_decref(doc);
    json_decref(parsed);
    json_decref(again);
}

/* steer_compile over members m[0..n) gives the same instructions and
 * pinned mask from p and q; their length. */
static size_t
same_program(const struct steer_member *m, size_t n, const struct steer_plan *p,
             const struct steer_plan *q)
{
    struct sock_fprog a, b;
    unsigned pa = 0, pb = 0;

    memset(insns_a, 0, sizeof(insns_a));
    memset(insns_b, 0x5a, sizeof(insns_b));
    assert_int_equal(steer_compile(m, n, p, insns_a, STEER_MAX_INSNS, &a, &pa),
                     0);
    assert_int_equal(steer_compile(m, n, q, insns_b, STEER_MAX_INSNS, &b, &pb),
                     0);
    assert_int_equal(a.len, b.len);
    assert_true(a.len > 0);
    if (memcmp(insns_a, insns_b, a.len * sizeof(insns_a[0])) != 0)
        fail_msg("the programs of %zu members differ", n);
    assert_int_equal(pa, pb);
    return a.len;
}

/* Whether p and q compile to other instructions over m[0..n). */
static int
differs(const struct steer_member *m, size_t n, const struct steer_plan *p,
        const struct steer_plan *q)
{
    struct sock_fprog a, b;
    unsigned pa, pb;

    assert_int_equal(steer_compile(m, n, p, insns_a, STEER_MAX_INSNS, &a, &pa),
                     0);
    assert_int_equal(steer_compile(m, n, q, insns_b, STEER_MAX_INSNS, &b, &pb),
                     0);
    return a.len != b.len ||
           memcmp(insns_a, insns_b, a.len * sizeof(insns_a[0])) != 0;
}

/* The next 20 probe ports of every generation (and of one not in the
 * plan) are the same from p and from q. */
static void
same_ports(struct steer_plan *p, struct steer_plan *q)
{
    for (int call = 0; call < 20; call++) {
        for (size_t i = 0; i < p->n; i++)
            assert_int_equal(steer_plan_probe_port(p, p->r[i].gen),
                             steer_plan_probe_port(q, p->r[i].gen));
        assert_int_equal(steer_plan_probe_port(p, 999),
                         steer_plan_probe_port(q, 999));
    }
}

/*
 * Three generations: 1 kept (may serve, no share), 2 the old one with the
 * rest, 3 a canary with 5% and the canary_clients of both families; probes
 * sent to each, gen 1's past the end of its block (its counter wrapped).
 */
static void
busy_plan(struct steer_plan *p)
{
    char err[128] = "";

    steer_plan_init(p, 23000, 23999); /* 8 blocks of 125 */
    assert_int_equal(steer_plan_add(p, 1), 0);
    steer_plan_promote(p, 1);
    assert_int_equal(steer_plan_add(p, 2), 0);
    steer_plan_promote(p, 2);
    assert_int_equal(steer_plan_add(p, 3), 0);
    steer_plan_find(p, 2)->share = STEER_SHARE_ALL - 500;
    steer_plan_find(p, 3)->share = 500;
    steer_plan_find(p, 3)->serving = 1;
    if (canary_parse_cidrs("10.1.0.0/16 192.168.7.9 2001:db8:1::/48 ::1",
                           p->cidrs, CANARY_MAX_CIDRS, &p->ncidrs, err,
                           sizeof(err)) != 0)
        fail_msg("%s", err);
    for (int i = 0; i < 130; i++)
        steer_plan_probe_port(p, 1);
    for (int i = 0; i < 3; i++)
        steer_plan_probe_port(p, 2);
    for (int i = 0; i < 7; i++)
        steer_plan_probe_port(p, 3);
}

/* Groups as the kernel may order them: a placeholder, the reserved first
 * socket, a generation not in every group. */
static const struct steer_member order1[] = {
    {10, STEER_GEN, 1}, {11, STEER_GEN, 2}, {12, STEER_GEN, 3}};
static const struct steer_member order2[] = {{20, STEER_GEN, 3},
                                             {21, STEER_PLACEHOLDER, 0},
                                             {22, STEER_GEN, 1},
                                             {23, STEER_GEN, 2}};
static const struct steer_member order3[] = {{30, STEER_RESERVED, 0},
                                             {31, STEER_GEN, 2}};

static void
a_canary_compiles_the_same_program_after(void **state)
{
    struct steer_plan p, q, other;

    (void)state;
    busy_plan(&p);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.ncidrs, 4);
    assert_int_equal(p.rot[0], 130);
    round_trip(&p, &q);
    assert_int_equal(q.r[0].gen, 3);
    assert_int_equal(q.r[0].share, 500);
    assert_int_equal(q.r[0].block, 2);
    assert_int_equal(q.r[2].serving, 1);
    assert_int_equal(q.cidrs[2].family, AF_INET6);
    assert_int_equal(q.cidrs[2].prefix, 48);
    assert_int_equal(q.cidrs[2].addr[1], 0x00010000u);
    assert_int_equal(q.cidrs[3].addr[3], 1);
    assert_int_equal(q.next_block, 3);
    same_program(order1, 3, &p, &q);
    same_program(order2, 4, &p, &q);
    same_program(order3, 2, &p, &q);
    /* The comparison sees what a field left behind would change: without
     * the networks, or with other shares, the program is another. */
    other = p;
    other.ncidrs = 0;
    assert_true(differs(order2, 4, &p, &other));
    other = p;
    other.r[0].share = 600;
    other.r[1].share = STEER_SHARE_ALL - 600;
    assert_true(differs(order1, 3, &p, &other));
    same_ports(&p, &q);
    assert_int_equal(p.rot[0], 150);
}

/* A block freed and the next one handed out: the turn goes on where it
 * was (block 4, not the lowest free, 1), and so do the programs. */
static void
blocks_go_on_in_turn(void **state)
{
    struct steer_plan p, q;
    unsigned lo, hi, lo2, hi2;
    const struct steer_member m[] = {{1, STEER_GEN, 5},
                                     {2, STEER_GEN, 3},
                                     {3, STEER_GEN, 4},
                                     {4, STEER_PLACEHOLDER, 0},
                                     {5, STEER_GEN, 1}};

    (void)state;
    steer_plan_init(&p, 40000, 40799);
    for (unsigned g = 1; g <= 4; g++)
        assert_int_equal(steer_plan_add(&p, g), 0);
    steer_plan_promote(&p, 4);
    for (int i = 0; i < 11; i++)
        steer_plan_probe_port(&p, 2);
    steer_plan_remove(&p, 2);
    round_trip(&p, &q);
    assert_int_equal(steer_plan_add(&p, 5), 0);
    assert_int_equal(steer_plan_add(&q, 5), 0);
    assert_int_equal(steer_plan_find(&q, 5)->block, 4);
    assert_int_equal(steer_plan_probe_range(&p, 5, &lo, &hi), 0);
    assert_int_equal(steer_plan_probe_range(&q, 5, &lo2, &hi2), 0);
    assert_int_equal(lo, lo2);
    assert_int_equal(hi, hi2);
    same_program(m, 5, &p, &q);
    same_ports(&p, &q);
    /* gen 2's block, handed out again, goes on from its counter */
    for (unsigned g = 6; g <= 9; g++) {
        assert_int_equal(steer_plan_add(&p, g), 0);
        assert_int_equal(steer_plan_add(&q, g), 0);
    }
    assert_int_equal(steer_plan_find(&q, 9)->block, 1);
    assert_int_equal(steer_plan_probe_port(&q, 9), 40100 + 11);
    assert_int_equal(steer_plan_probe_port(&p, 9), 40100 + 11);
}

/* No generation yet, probes not steered, a full plan at the ports' end. */
static void
edges_carry_over(void **state)
{
    struct steer_plan p, q;
    const struct steer_member m[] = {{1, STEER_RESERVED, 0}};
    struct steer_member full[STEER_MAX_GENS];
    char nets[CANARY_MAX_CIDRS * 24] = "", err[128] = "";
    unsigned lo;

    (void)state;
    steer_plan_init(&p, 0, 0);
    round_trip(&p, &q);
    same_program(m, 1, &p, &q);
    steer_plan_init(&p, 30000, 29999); /* no probe ports */
    assert_int_equal(steer_plan_add(&p, 7), 0);
    assert_int_equal(p.r[0].block, -1);
    round_trip(&p, &q);
    same_ports(&p, &q);
    steer_plan_init(&p, 57536, 65535); /* the last block ends at 65535 */
    for (unsigned g = 1; g <= STEER_MAX_GENS; g++) {
        assert_int_equal(steer_plan_add(&p, 100 * g), 0);
        full[g - 1] = (struct steer_member){(int)g, STEER_GEN, 100 * g};
        p.r[0].share = STEER_SHARE_ALL / STEER_MAX_GENS;
        p.r[0].serving = 1;
        p.rot[g - 1] = 0xfffffffeu; /* about to wrap */
    }
    for (unsigned i = 0; i < CANARY_MAX_CIDRS; i++)
        snprintf(nets + strlen(nets), sizeof(nets) - strlen(nets),
                 i % 2 ? "10.%u.0.0/16 " : "2001:db8:%u::/47 ", i);
    if (canary_parse_cidrs(nets, p.cidrs, CANARY_MAX_CIDRS, &p.ncidrs, err,
                           sizeof(err)) != 0)
        fail_msg("%s", err);
    round_trip(&p, &q);
    same_program(full, STEER_MAX_GENS, &p, &q);
    same_ports(&p, &q);
    lo = steer_plan_probe_port(&q, 100 * STEER_MAX_GENS); /* block 7 */
    assert_true(lo >= 64536 && lo <= 65535);
    assert_int_equal(steer_plan_probe_port(&p, 100 * STEER_MAX_GENS), lo);
}

static void
add_member(struct steer_member *m, size_t *n, enum steer_owner owner,
           unsigned gen)
{
    m[*n] = (struct steer_member){(int)*n + 3, owner, gen};
    (*n)++;
}

/* Plans made by random sequences of what the master does to its plan,
 * each carried over and compiled over a random order of its members. */
static void
random_plans_carry_over(void **state)
{
    (void)state;
    srand(19);
    for (int round = 0; round < 300; round++) {
        struct steer_plan p, q;
        struct steer_member m[STEER_MAX_MEMBERS];
        /* ports from 1 up, as probe_ports allows; some with none */
        unsigned lo = 1 + (unsigned)(rand() % 60000);
        unsigned hi = rand() % 4 ? lo + 63 + (unsigned)(rand() % 2000) : lo - 1;
        unsigned next = 1;
        size_t n = 0;

        if (hi > 65535)
            hi = 65535;
        steer_plan_init(&p, lo, hi);
        for (int op = 0; op < 40; op++) {
            int what = rand() % 6;
            unsigned g = p.n ? p.r[(size_t)rand() % p.n].gen : 0;

            if (what <= 1)
                (void)steer_plan_add(&p, next++);
            else if (what == 2 && g)
                steer_plan_remove(&p, g);
            else if (what == 3 && g)
                steer_plan_promote(&p, g);
            else if (what == 4 && p.n >= 2) { /* a canary step */
                unsigned bps = 1 + (unsigned)rand() % (STEER_SHARE_ALL - 1);
                for (size_t i = 0; i < p.n; i++)
                    p.r[i].share = 0;
                p.r[0].share = bps;
                p.r[0].serving = 1;
                p.r[p.n - 1].share = STEER_SHARE_ALL - bps;
            } else if (what == 5 && g)
                for (int k = rand() % 300; k > 0; k--)
                    steer_plan_probe_port(&p, g);
        }
        p.ncidrs = (size_t)rand() % (CANARY_MAX_CIDRS + 1);
        for (size_t i = 0; i < p.ncidrs; i++) {
            struct canary_cidr *c = &p.cidrs[i];
            c->family = rand() % 2 ? AF_INET : AF_INET6;
            c->prefix = (unsigned)rand() % (c->family == AF_INET ? 33 : 129);
            for (unsigned w = 0; w < 4; w++)
                c->addr[w] = ((uint32_t)rand() << 16 ^ (uint32_t)rand()) &
                             canary_cidr_mask(c->prefix, w) &
                             (c->family == AF_INET && w > 0 ? 0 : ~0u);
        }
        round_trip(&p, &q);
        /* The group: its generations (some not in it), a placeholder or
         * the reserved socket, in an order of its own. */
        for (size_t i = 0; i < p.n; i++)
            if (rand() % 4)
                add_member(m, &n, STEER_GEN, p.r[i].gen);
        if (rand() % 3 == 0)
            add_member(m, &n, STEER_PLACEHOLDER, 0);
        if (n == 0 || rand() % 4 == 0)
            add_member(m, &n, STEER_RESERVED, 0);
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)rand() % (i + 1);
            struct steer_member t = m[i];
            m[i] = m[j];
            m[j] = t;
        }
        same_program(m, n, &p, &q);
        same_ports(&p, &q);
    }
}

/* --- refusals ------------------------------------------------------------ */

/* o's entry at path ("r/1/share": keys and indexes by '/'), replaced by
 * the JSON text v (NULL: removed). */
static void
set(json_t *o, const char *path, const char *v)
{
    char buf[64], *key, *rest;
    json_t *val = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    key = buf;
    while ((rest = strchr(key, '/')) != NULL) {
        *rest = '\0';
        o = json_is_array(o) ? json_array_get(o, strtoul(key, NULL, 10))
                             : json_object_get(o, key);
        assert_non_null(o);
        key = rest + 1;
    }
    if (v != NULL) {
        val = json_loads(v, JSON_DECODE_ANY, NULL);
        assert_non_null(val);
    }
    if (json_is_array(o)) {
        assert_non_null(val);
        assert_int_equal(json_array_set_new(o, strtoul(key, NULL, 10), val), 0);
    } else if (val != NULL) {
        assert_int_equal(json_object_set_new(o, key, val), 0);
    } else {
        assert_int_equal(json_object_del(o, key), 0);
    }
}

/* The busy plan's document with path set to v is refused with want, and
 * the plan read into is the empty one, nothing half read. */
static void
refused(const char *path, const char *v, const char *want)
{
    struct steer_plan p, empty;
    json_t *doc;
    char err[256] = "";

    busy_plan(&p);
    doc = steer_state_write(&p);
    assert_non_null(doc);
    set(doc, path, v);
    assert_int_equal(steer_state_read(doc, &p, err, sizeof(err)), -EINVAL);
    if (strcmp(err, want) != 0)
        fail_msg("%s = %s: got \"%s\", wanted \"%s\"", path, v ? v : "(none)",
                 err, want);
    steer_plan_init(&empty, 0, 0);
    assert_memory_equal(&p, &empty, sizeof(p));
    json_decref(doc);
}

#define ROUTE "{\"gen\": %d, \"share\": 0, \"serving\": 0, \"block\": -1}"
#define NET "{\"family\": 2, \"addr\": [0, 0, 0, 0], \"prefix\": 0}"

static void
bad_fields_are_refused_by_name(void **state)
{
    struct steer_plan p;
    char err[256] = "", many[2048] = "[";
    json_t *a = json_array();

    (void)state;
    assert_int_equal(steer_state_read(a, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "steering: not an object");
    json_decref(a);
    /* the routes */
    refused("r/1/share", "10001",
            "steering.r[1].share: 10001 is not one of 0..10000");
    refused("r/1/share", "9600",
            "steering.r[1].share: 9600 brings the shares to 10100, above "
            "10000");
    refused("r/2/share", "1",
            "steering.r[2].share: 1 brings the shares to 10001, above 10000");
    refused("r/1/share", "\"9500\"", "steering.r[1].share: not an integer");
    refused("r/1/gen", "0", "steering.r[1].gen: 0 is not one of 1..4294967295");
    refused("r/2/gen", "3", "steering.r[2].gen: 3 is r[0]'s too");
    refused("r/1/gen", NULL, "steering.r[1].gen: missing");
    refused("r/0/serving", "2", "steering.r[0].serving: 2 is not one of 0..1");
    refused("r/1/block", "8", "steering.r[1].block: 8 is not one of -1..7");
    refused("r/1/block", "-2", "steering.r[1].block: -2 is not one of -1..7");
    refused("r/2/block", "2", "steering.r[2].block: 2 is r[0]'s too");
    refused("r/1", "7", "steering.r[1]: not an object");
    refused("r", "{}", "steering.r: not an array");
    refused("r", NULL, "steering.r: missing");
    for (int i = 1; i <= STEER_MAX_GENS + 1; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s" ROUTE,
                 i > 1 ? ", " : "", i);
    strcat(many, "]");
    refused("r", many, "steering.r: 9 entries, at most 8");
    /* the probe ports */
    refused("probe_size", "0",
            "steering.r[0].block: 2, but no probe ports (probe_size 0)");
    refused("probe_size", "8192",
            "steering.probe_size: 8 blocks of 8192 ports from 23000 go past "
            "port 65535");
    refused("probe_lo", "64537",
            "steering.probe_size: 8 blocks of 125 ports from 64537 go past "
            "port 65535");
    refused("probe_size", "65536",
            "steering.probe_size: 65536 is not one of 0..65535");
    refused("probe_lo", "0",
            "steering.probe_lo: 0 with probe blocks: ports start at 1");
    refused("probe_lo", "-1", "steering.probe_lo: -1 is not one of 0..65535");
    refused("rot", "[0, 0, 0]", "steering.rot: 3 entries, not 8");
    refused("rot", NULL, "steering.rot: missing");
    refused("rot/3", "-1", "steering.rot[3]: -1 is not one of 0..4294967295");
    refused("rot/3", "4294967296",
            "steering.rot[3]: 4294967296 is not one of 0..4294967295");
    refused("rot/0", "null", "steering.rot[0]: not an integer");
    refused("next_block", "9", "steering.next_block: 9 is not one of 0..8");
    refused("next_cookie", "257",
            "steering.next_cookie: 257 is not one of 0..256");
    refused("r/0/cookie", "256",
            "steering.r[0].cookie: 256 is not one of 0..255");
    refused("r/1/flows", "2", "steering.r[1].flows: 2 is not one of 0..1");
    /* the canary clients */
    refused("cidrs/0/family", "3",
            "steering.cidrs[0].family: 3 is neither AF_INET (2) nor AF_INET6 "
            "(10)");
    refused("cidrs/0/prefix", "33",
            "steering.cidrs[0].prefix: 33 is not one of 0..32");
    refused("cidrs/2/prefix", "129",
            "steering.cidrs[2].prefix: 129 is not one of 0..128");
    refused("cidrs/2/family", "2", /* 2001:db8:1::/48 as IPv4 */
            "steering.cidrs[2].prefix: 48 is not one of 0..32");
    refused("cidrs/0/addr/0", "167837697", /* 10.1.0.1 in 10.1.0.0/16 */
            "steering.cidrs[0].addr: word 0 (0x0a010001) has bits past /16");
    refused("cidrs/1/addr/1", "1",
            "steering.cidrs[1].addr: word 1 (0x00000001) has bits past /32");
    refused("cidrs/0/addr", "[1, 2, 3]",
            "steering.cidrs[0].addr: 3 entries, not 4");
    refused("cidrs/0/addr/2", "4294967296",
            "steering.cidrs[0].addr[2]: 4294967296 is not one of "
            "0..4294967295");
    refused("cidrs/3", "[]", "steering.cidrs[3]: not an object");
    refused("cidrs", NULL, "steering.cidrs: missing");
    strcpy(many, "[");
    for (int i = 1; i <= CANARY_MAX_CIDRS + 1; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s" NET,
                 i > 1 ? ", " : "");
    strcat(many, "]");
    refused("cidrs", many, "steering.cidrs: 17 entries, at most 16");
}

/*
 * Every field of struct steer_plan is carried: steer_state_write writes
 * it, steer_state_read reads it, and the round trips above compare the
 * whole structs. A field added changes their size or moves their last
 * field (on this 64-bit build): carry it, then set the new figures here.
 */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct steer_plan), 640);
    assert_int_equal(offsetof(struct steer_plan, ncidrs), 632);
    assert_int_equal(sizeof(struct steer_route), 24);
    assert_int_equal(offsetof(struct steer_route, flows), 20);
    assert_int_equal(sizeof(struct canary_cidr), 24);
    assert_int_equal(offsetof(struct canary_cidr, prefix), 20);
#else
    skip();
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_canary_compiles_the_same_program_after),
        cmocka_unit_test(blocks_go_on_in_turn),
        cmocka_unit_test(edges_carry_over),
        cmocka_unit_test(random_plans_carry_over),
        cmocka_unit_test(bad_fields_are_refused_by_name),
        cmocka_unit_test(every_field_is_carried),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
