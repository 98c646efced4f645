/* steer_state.c: the steering plan written as JSON before an upgrade's exec
 * and read back, every field checked, by the new image. */
#include "steer_state.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "state.h"

/* --- writing ------------------------------------------------------------- */

static json_t *
route(const struct steer_route *r)
{
    json_t *o = json_object();
    int f = o == NULL;

    if (f)
        return NULL;
    state_put(o, "gen", state_num(r->gen), &f);
    state_put(o, "share", state_num(r->share), &f);
    state_put(o, "serving", state_num(r->serving), &f);
    state_put(o, "block", state_num(r->block), &f);
    state_put(o, "cookie", state_num(r->cookie), &f);
    state_put(o, "flows", state_num(r->flows), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
cidr(const struct canary_cidr *c)
{
    json_t *o = json_object();
    int f = o == NULL;
    unsigned words[4];

    if (f)
        return NULL;
    for (unsigned w = 0; w < 4; w++)
        words[w] = c->addr[w];
    state_put(o, "family", state_num(c->family), &f);
    state_put(o, "addr", state_numbers(words, 4), &f);
    state_put(o, "prefix", state_num(c->prefix), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
steer_state_write(const struct steer_plan *p)
{
    json_t *o = json_object(), *r = json_array(), *c = json_array();
    int f = o == NULL || r == NULL || c == NULL;

    for (size_t i = 0; !f && i < p->n; i++)
        if (json_array_append_new(r, route(&p->r[i])) < 0)
            f = 1;
    for (size_t i = 0; !f && i < p->ncidrs; i++)
        if (json_array_append_new(c, cidr(&p->cidrs[i])) < 0)
            f = 1;
    if (f) {
        json_decref(o);
        json_decref(r);
        json_decref(c);
        return NULL;
    }
    state_put(o, "r", r, &f);
    state_put(o, "probe_lo", state_num(p->probe_lo), &f);
    state_put(o, "probe_size", state_num(p->probe_size), &f);
    state_put(o, "rot", state_numbers(p->rot, STEER_PROBE_BLOCKS), &f);
    state_put(o, "next_block", state_num(p->next_block), &f);
    state_put(o, "next_cookie", state_num(p->next_cookie), &f);
    state_put(o, "cidrs", c, &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* --- reading ------------------------------------------------------------- */

#define U32 0xffffffffLL
#define PORTS 65536LL /* 0..65535 */

/* o[key], an array of at most max entries (exactly max when exact). */
static const json_t *
array(struct state_rd *r, const json_t *o, const char *key, size_t max,
      int exact)
{
    const json_t *a = json_object_get(o, key);
    size_t n;

    if (exact && json_is_array(a) && json_array_size(a) != max) {
        state_fault(r, key, "%zu entries, not %zu", json_array_size(a), max);
        return NULL;
    }
    return state_array(r, o, key, max, &n);
}

/* a[i] as an integer in lo..hi, named key[i]. */
static long long
entry(struct state_rd *r, const json_t *a, const char *key, size_t i,
      long long lo, long long hi)
{
    const json_t *v = json_array_get(a, i);
    char name[32];
    long long n;

    snprintf(name, sizeof(name), "%s[%zu]", key, i);
    if (!json_is_integer(v)) {
        state_fault(r, name, "not an integer");
        return 0;
    }
    n = (long long)json_integer_value(v);
    if (n < lo || n > hi) {
        state_fault(r, name, "%lld is not one of %lld..%lld", n, lo, hi);
        return 0;
    }
    return n;
}

/* The routes, newest first: r's entries in p, their sum of shares kept. */
static void
read_routes(struct state_rd *r, const json_t *o, struct steer_plan *p)
{
    const json_t *a = array(r, o, "r", STEER_MAX_GENS, 0);
    unsigned total = 0;

    for (size_t i = 0; a != NULL && i < json_array_size(a) && !r->failed; i++) {
        const json_t *e = json_array_get(a, i);
        struct steer_route *t = &p->r[i];

        snprintf(r->path, sizeof(r->path), "steering.r[%zu]", i);
        if (!json_is_object(e)) {
            state_fault(r, "", "not an object");
            break;
        }
        t->gen = (unsigned)state_get(r, e, "gen", 1, U32);
        t->share = (unsigned)state_get(r, e, "share", 0, STEER_SHARE_ALL);
        t->serving = (int)state_get(r, e, "serving", 0, 1);
        t->block = (int)state_get(r, e, "block", -1, STEER_PROBE_BLOCKS - 1);
        /* The state of an image before QUIC flows has none: a cookie no
         * other route has, and flows for those that got clients once. */
        t->cookie = json_object_get(e, "cookie") != NULL
                        ? (uint8_t)state_get(r, e, "cookie", 0, 255)
                        : (uint8_t)i;
        t->flows = json_object_get(e, "flows") != NULL
                       ? (int)state_get(r, e, "flows", 0, 1)
                       : t->serving || t->share > 0;
        for (size_t j = 0; j < i && !r->failed; j++)
            if (p->r[j].cookie == t->cookie)
                state_fault(r, "cookie", "%u is r[%zu]'s too", t->cookie, j);
        for (size_t j = 0; j < i && !r->failed; j++)
            if (p->r[j].gen == t->gen)
                state_fault(r, "gen", "%u is r[%zu]'s too", t->gen, j);
        for (size_t j = 0; j < i && !r->failed; j++)
            if (t->block >= 0 && p->r[j].block == t->block)
                state_fault(r, "block", "%d is r[%zu]'s too", t->block, j);
        if (!r->failed && t->block >= 0 && p->probe_size == 0)
            state_fault(r, "block", "%d, but no probe ports (probe_size 0)",
                        t->block);
        /* Shares are parts of STEER_SHARE_ALL, and the master never hands
         * out more (a canary's and the rest): the program scales them by
         * their sum, so beyond the whole each would get less than it says. */
        total += t->share;
        if (!r->failed && total > STEER_SHARE_ALL)
            state_fault(r, "share", "%u brings the shares to %u, above %d",
                        t->share, total, STEER_SHARE_ALL);
        p->n = i + 1;
    }
}

static void
read_cidrs(struct state_rd *r, const json_t *o, struct steer_plan *p)
{
    const json_t *a;

    snprintf(r->path, sizeof(r->path), "steering");
    a = array(r, o, "cidrs", CANARY_MAX_CIDRS, 0);
    for (size_t i = 0; a != NULL && i < json_array_size(a) && !r->failed; i++) {
        const json_t *e = json_array_get(a, i), *w;
        struct canary_cidr *c = &p->cidrs[i];
        unsigned bits;

        snprintf(r->path, sizeof(r->path), "steering.cidrs[%zu]", i);
        if (!json_is_object(e)) {
            state_fault(r, "", "not an object");
            break;
        }
        c->family = (int)state_get(r, e, "family", 0, U32);
        if (!r->failed && c->family != AF_INET && c->family != AF_INET6)
            state_fault(r, "family",
                        "%d is neither AF_INET (%d) nor AF_INET6 (%d)",
                        c->family, AF_INET, AF_INET6);
        bits = c->family == AF_INET6 ? 128 : 32;
        c->prefix = (unsigned)state_get(r, e, "prefix", 0, bits);
        w = array(r, e, "addr", 4, 1);
        for (unsigned k = 0; w != NULL && k < 4 && !r->failed; k++) {
            c->addr[k] = (uint32_t)entry(r, w, "addr", k, 0, U32);
            /* The program compares the masked source with these words: a
             * bit past the prefix would match no client at all. */
            if (!r->failed && (c->addr[k] & ~canary_cidr_mask(c->prefix, k)))
                state_fault(r, "addr", "word %u (0x%08x) has bits past /%u", k,
                            c->addr[k], c->prefix);
        }
        p->ncidrs = i + 1;
    }
}

int
steer_state_read(const json_t *o, struct steer_plan *p, char *err,
                 size_t errlen)
{
    struct state_rd r = {.path = "steering", .err = err, .errlen = errlen};
    const json_t *rot;
    unsigned lo, size;

    steer_plan_init(p, 0, 0);
    if (!json_is_object(o)) {
        state_fault(&r, "", "not an object");
        return -EINVAL;
    }
    lo = (unsigned)state_get(&r, o, "probe_lo", 0, PORTS - 1);
    size = (unsigned)state_get(&r, o, "probe_size", 0, PORTS - 1);
    /* Every block within the ports, none at port 0, which
     * steer_plan_probe_port answers for "not steered". */
    if (!r.failed && size > 0 && lo == 0)
        state_fault(&r, "probe_lo", "0 with probe blocks: ports start at 1");
    if (!r.failed && (unsigned long)lo + STEER_PROBE_BLOCKS * size > PORTS)
        state_fault(&r, "probe_size",
                    "%d blocks of %u ports from %u go past port 65535",
                    STEER_PROBE_BLOCKS, size, lo);
    p->probe_lo = (uint16_t)lo;
    p->probe_size = (uint16_t)size;
    rot = array(&r, o, "rot", STEER_PROBE_BLOCKS, 1);
    for (size_t i = 0; rot != NULL && i < STEER_PROBE_BLOCKS && !r.failed; i++)
        p->rot[i] = (unsigned)entry(&r, rot, "rot", i, 0, U32);
    p->next_block =
        (unsigned)state_get(&r, o, "next_block", 0, STEER_PROBE_BLOCKS);
    if (json_object_get(o, "next_cookie") != NULL)
        p->next_cookie = (unsigned)state_get(&r, o, "next_cookie", 0, 256);
    if (!r.failed)
        read_routes(&r, o, p);
    if (!r.failed)
        read_cidrs(&r, o, p);
    if (r.failed) {
        steer_plan_init(p, 0, 0); /* nothing half read */
        return -EINVAL;
    }
    return 0;
}
