/* gens_state.c: the table of generations and plans across an upgrade's exec. */
#include "gens_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "listener_state.h"
#include "source.h"
#include "state.h"
#include "worker_state.h"

#define U32 0xffffffffLL
#define PORT 65535

/* --- what the table holds, each once ------------------------------------ */

/* Pointers seen, in the order first seen. */
struct seen {
    void **v;
    size_t n, cap;
    int nomem;
};

/* p at the end of s (no memory: s->nomem, p dropped). */
static void
seen_push(struct seen *s, void *p)
{
    void **v;

    if (s->nomem)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        if ((v = realloc(s->v, cap * sizeof(*v))) == NULL) {
            s->nomem = 1;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = p;
}

static void
seen_add(struct seen *s, void *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == p)
            return;
    seen_push(s, p);
}

/* The plans something holds: active, reloaded, every generation's. */
static int
plans_of(const struct gens *t, struct seen *plans)
{
    memset(plans, 0, sizeof(*plans));
    seen_add(plans, t->plan);
    seen_add(plans, t->next);
    for (const struct gen *g = t->list; g; g = g->next)
        seen_add(plans, g->plan);
    return plans->nomem ? -ENOMEM : 0;
}

/* For plan_each_listener, which gives each listener once: no search. */
static void
each_add(struct listener *l, void *arg)
{
    seen_push(arg, l);
}

static int
listeners_of(const struct seen *plans, struct seen *e)
{
    memset(e, 0, sizeof(*e));
    plan_each_listener((struct plan *const *)plans->v, plans->n, each_add, e);
    return e->nomem ? -ENOMEM : 0;
}

/* A listener's index in the sorted pointers: the document names each by
 * its place in "listeners". */
struct at {
    const struct listener *l;
    size_t i;
};

static int
at_cmp(const void *a, const void *b)
{
    const struct listener *x = ((const struct at *)a)->l;
    const struct listener *y = ((const struct at *)b)->l;

    return x < y ? -1 : x > y;
}

/* --- writing ------------------------------------------------------------- */

static json_t *
text_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *
start(const struct config *c)
{
    json_t *o = json_object();
    int f = o == NULL;

    if (f)
        return NULL;
    state_put(o, "control", text_or_null(c ? c->control : NULL), &f);
    state_put(o, "metrics", text_or_null(c ? c->metrics : NULL), &f);
    state_put(o, "probe_lo", state_num(c ? c->probe_lo : 0), &f);
    state_put(o, "probe_hi", state_num(c ? c->probe_hi : 0), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
plan(const struct plan *p, const struct at *idx, size_t nidx)
{
    json_t *o = json_object(), *ls = json_array();
    int f = o == NULL || ls == NULL;

    for (size_t i = 0; !f && i < p->nls; i++) {
        struct at key = {p->ls[i], 0};
        const struct at *a = bsearch(&key, idx, nidx, sizeof(*idx), at_cmp);
        f = a == NULL || json_array_append_new(ls, state_num((long long)a->i));
    }
    if (f) {
        json_decref(ls);
        json_decref(o);
        return NULL;
    }
    state_put(o, "id", state_num(p->id), &f);
    state_put(o, "source",
              p->source != NULL ? state_hex(p->source, p->source_len)
                                : json_null(),
              &f);
    state_put(o, "listeners", ls, &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
gen(const struct gen *g)
{
    json_t *o = json_object(), *slots = json_array();
    int f = o == NULL || slots == NULL;

    for (size_t i = 0; !f && i < g->nslots; i++) {
        const struct slot *s = &g->slots[i];
        json_t *w = s->w != NULL ? worker_state_write(s->w) : json_null();
        f = json_array_append_new(
            slots, json_pack("{s:i,s:o*}", "retired", s->retired, "w", w));
        f = f || w == NULL;
    }
    if (f) {
        json_decref(slots);
        json_decref(o);
        return NULL;
    }
    state_put(o, "id", state_num(g->id), &f);
    state_put(o, "plan", state_num(g->plan->id), &f);
    state_put(o, "state", state_num(g->state), &f);
    state_put(o, "started_ns", state_num((long long)g->started_ns), &f);
    state_put(o, "killed", state_num(g->killed), &f);
    state_put(o, "bypassed", state_num(g->bypassed), &f);
    state_put(o, "join_failed", state_num(g->join_failed), &f);
    state_put(o, "slots", slots, &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
gens_state_write(const struct gens *t)
{
    json_t *o = NULL, *ls = NULL, *ps = NULL, *list = NULL;
    struct seen plans;
    struct seen e = {0};
    struct at *idx = NULL;
    int f = 1;

    if (plans_of(t, &plans) < 0 || listeners_of(&plans, &e) < 0)
        goto out;
    if ((idx = calloc(e.n ? e.n : 1, sizeof(*idx))) == NULL)
        goto out;
    for (size_t i = 0; i < e.n; i++)
        idx[i] = (struct at){((struct listener **)e.v)[i], i};
    qsort(idx, e.n, sizeof(*idx), at_cmp);
    o = json_object();
    ls = json_array();
    ps = json_array();
    list = json_array();
    f = o == NULL || ls == NULL || ps == NULL || list == NULL;
    for (size_t i = 0; !f && i < e.n; i++)
        f = json_array_append_new(
                ls, listener_state_write(((struct listener **)e.v)[i])) < 0;
    for (size_t i = 0; !f && i < plans.n; i++)
        f = json_array_append_new(ps, plan(plans.v[i], idx, e.n)) < 0;
    for (const struct gen *g = t->list; !f && g; g = g->next)
        f = json_array_append_new(list, gen(g)) < 0;
    if (f)
        goto out;
    state_put(o, "next_id", state_num(t->next_id), &f);
    state_put(o, "start", start(t->plan ? t->plan->cfg : NULL), &f);
    state_put(o, "listeners", ls, &f);
    state_put(o, "plans", ps, &f);
    state_put(o, "plan", state_num(t->plan ? t->plan->id : 0), &f);
    state_put(o, "next", state_num(t->next ? t->next->id : 0), &f);
    state_put(o, "list", list, &f);
    ls = ps = list = NULL; /* o's now, put or not */
out:
    json_decref(ls);
    json_decref(ps);
    json_decref(list);
    if (f) {
        json_decref(o);
        o = NULL;
    }
    free(idx);
    free(e.v);
    free(plans.v);
    return o;
}

int
gens_state_busy(const struct gens *t, char *why, size_t len)
{
    const struct config *c = t->plan ? t->plan->cfg : NULL;
    const char *keys[] = {"control", "metrics"};
    const char *vals[] = {c ? c->control : NULL, c ? c->metrics : NULL};

    for (const struct gen *g = t->list; g; g = g->next)
        for (size_t i = 0; i < g->nslots; i++)
            if (g->slots[i].w != NULL &&
                worker_state_busy(g->slots[i].w, why, len))
                return 1;
    /* A JSON string is UTF-8; these are a path and an address as typed. */
    for (size_t i = 0; i < 2; i++) {
        json_t *v = vals[i] != NULL ? json_string(vals[i]) : json_null();
        if (v == NULL) {
            snprintf(why, len, "%s: the running value is not UTF-8", keys[i]);
            return 1;
        }
        json_decref(v);
    }
    return 0;
}

/* --- handing the descriptors on ------------------------------------------ */

int
gens_state_inherit(const struct gens *t, int on)
{
    struct seen plans;
    struct seen e = {0};
    size_t nls = 0, done = 0;
    int rc;

    if ((rc = plans_of(t, &plans)) < 0 || (rc = listeners_of(&plans, &e)) < 0)
        goto out;
    for (nls = 0; nls < e.n; nls++)
        if ((rc = listener_state_inherit(((struct listener **)e.v)[nls], on)) <
            0)
            break; /* itself as it was */
    for (const struct gen *g = t->list; g && rc == 0; g = g->next)
        for (size_t i = 0; i < g->nslots && rc == 0; i++)
            if (g->slots[i].w != NULL &&
                (rc = worker_state_inherit(g->slots[i].w, on)) == 0)
                done++;
    if (rc == 0)
        goto out;
    /* All or none: those already changed put back. */
    for (size_t i = 0; i < nls; i++)
        (void)listener_state_inherit(((struct listener **)e.v)[i], !on);
    for (const struct gen *g = t->list; g && done > 0; g = g->next)
        for (size_t i = 0; i < g->nslots && done > 0; i++)
            if (g->slots[i].w != NULL) {
                (void)worker_state_inherit(g->slots[i].w, !on);
                done--;
            }
out:
    free(e.v);
    free(plans.v);
    return rc;
}

/* --- reading ------------------------------------------------------------- */

/* A plan as read: its id, bytes, listeners' indexes, configuration, and
 * once adopted the plan. */
struct rplan {
    unsigned id;
    char *src; /* NULL: no file */
    size_t len;
    size_t *ls;
    size_t nls;
    struct config *cfg;
    struct plan *p;
};

/* The object read, before anything is built from it. */
struct rd {
    struct state_rd r;
    unsigned next_id, plan, next;
    struct config start; /* control, metrics, probe_lo, probe_hi only */
    const json_t *listeners, *list;
    size_t nlisteners, nlist;
    struct rplan *plans;
    size_t nplans;
};

/* A fault whose text may be long (a configuration's message): err whole,
 * not cut to state_fault's line. */
static void fault_long(struct rd *d, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fault_long(struct rd *d, const char *key, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (d->r.failed)
        return;
    d->r.failed = 1;
    n = snprintf(d->r.err, d->r.errlen, "%s%s%s%s: ", d->r.prefix, d->r.path,
                 d->r.path[0] && key[0] ? "." : "", key);
    if (n < 0 || (size_t)n >= d->r.errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(d->r.err + n, d->r.errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void
rd_free(struct rd *d)
{
    for (size_t i = 0; i < d->nplans; i++) {
        free(d->plans[i].src);
        free(d->plans[i].ls);
        config_free(d->plans[i].cfg);
    }
    free(d->plans);
    free(d->start.control);
    free(d->start.metrics);
}

/* o[key], a string or null, copied into *out (NULL for null). */
static void
get_text(struct state_rd *r, const json_t *o, const char *key, char **out)
{
    const json_t *v = json_object_get(o, key);

    *out = NULL;
    if (json_is_null(v))
        return;
    if (!json_is_string(v)) {
        state_fault(r, key,
                    v == NULL ? "missing" : "neither null nor a string");
        return;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        state_fault(r, key, "a NUL byte in it");
        return;
    }
    if ((*out = strdup(json_string_value(v))) == NULL)
        r->nomem = r->failed = 1;
}

/* o[key], null or the bytes in hex, into p. */
static void
get_source(struct state_rd *r, const json_t *o, const char *key,
           struct rplan *p)
{
    const json_t *v = json_object_get(o, key);
    const char *s;
    size_t n;

    if (json_is_null(v))
        return;
    if (!json_is_string(v)) {
        state_fault(r, key,
                    v == NULL ? "missing" : "neither null nor a string");
        return;
    }
    s = json_string_value(v);
    n = json_string_length(v);
    if (n % 2 != 0) {
        state_fault(r, key, "not hex");
        return;
    }
    if ((p->src = malloc(n / 2 + 1)) == NULL) {
        r->nomem = r->failed = 1;
        return;
    }
    if (state_unhex(s, n / 2, p->src) < 0) {
        state_fault(r, key, "not hex");
        return;
    }
    p->src[n / 2] = '\0';
    p->len = n / 2;
}

static struct rplan *
find_plan(const struct rd *d, unsigned id)
{
    for (size_t i = 0; i < d->nplans; i++)
        if (d->plans[i].id == id)
            return &d->plans[i];
    return NULL;
}

/* The plan id o[key] names (0 allowed with zero_ok), as an index into
 * d->plans in *at. */
static unsigned
get_plan(struct rd *d, const json_t *o, const char *key, int zero_ok,
         size_t *at)
{
    unsigned id = (unsigned)state_get(&d->r, o, key, 0, U32);
    struct rplan *p;

    if (d->r.failed || (zero_ok && id == 0))
        return id;
    if ((p = find_plan(d, id)) == NULL) {
        state_fault(&d->r, key, "%u is not a plan's id", id);
        return 0;
    }
    if (at != NULL)
        *at = (size_t)(p - d->plans);
    return id;
}

static void
read_plans(struct rd *d, const json_t *o)
{
    const json_t *ps = state_array(&d->r, o, "plans", 65536, &d->nplans);

    if (d->r.failed)
        return;
    if ((d->plans = calloc(d->nplans ? d->nplans : 1, sizeof(*d->plans))) ==
        NULL) {
        d->nplans = 0;
        d->r.nomem = d->r.failed = 1;
        return;
    }
    for (size_t i = 0; i < d->nplans && !d->r.failed; i++) {
        const json_t *p = json_array_get(ps, i), *ls;
        struct rplan *rp = &d->plans[i];

        snprintf(d->r.path, sizeof(d->r.path), "plans[%zu]", i);
        if (!json_is_object(p)) {
            state_fault(&d->r, "", "not an object");
            break;
        }
        rp->id = (unsigned)state_get(&d->r, p, "id", 1, d->next_id);
        for (size_t j = 0; j < i && !d->r.failed; j++)
            if (d->plans[j].id == rp->id)
                state_fault(&d->r, "id", "%u is plans[%zu]'s too", rp->id, j);
        get_source(&d->r, p, "source", rp);
        ls = state_array(&d->r, p, "listeners", d->nlisteners, &rp->nls);
        if (d->r.failed)
            break;
        if ((rp->ls = calloc(rp->nls ? rp->nls : 1, sizeof(*rp->ls))) == NULL) {
            d->r.nomem = d->r.failed = 1;
            break;
        }
        for (size_t j = 0; j < rp->nls && !d->r.failed; j++) {
            const json_t *v = json_array_get(ls, j);
            long long n = json_integer_value(v);

            snprintf(d->r.path, sizeof(d->r.path), "plans[%zu].listeners[%zu]",
                     i, j);
            if (!json_is_integer(v))
                state_fault(&d->r, "", "not an integer");
            else if (n < 0 || (size_t)n >= d->nlisteners)
                state_fault(&d->r, "", "%lld is not one of 0..%lld", n,
                            (long long)d->nlisteners - 1);
            rp->ls[j] = (size_t)n;
            for (size_t k = 0; k < j && !d->r.failed; k++)
                if (rp->ls[k] == rp->ls[j])
                    state_fault(&d->r, "", "%zu is listeners[%zu] too",
                                rp->ls[j], k);
        }
    }
}

static void
read_start(struct rd *d, const json_t *o)
{
    const json_t *s = json_object_get(o, "start");

    d->r.path[0] = '\0';
    if (!json_is_object(s)) {
        state_fault(&d->r, "start", s == NULL ? "missing" : "not an object");
        return;
    }
    snprintf(d->r.path, sizeof(d->r.path), "start");
    get_text(&d->r, s, "control", &d->start.control);
    get_text(&d->r, s, "metrics", &d->start.metrics);
    d->start.probe_lo = (unsigned)state_get(&d->r, s, "probe_lo", 0, PORT);
    d->start.probe_hi = (unsigned)state_get(&d->r, s, "probe_hi", 0, PORT);
}

/* A worker's pid or channel, where it is in the list. */
struct wkey {
    long long v;
    size_t i, j;
};

static int
wkey_cmp(const void *a, const void *b)
{
    const struct wkey *x = a, *y = b;

    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->i != y->i ? (x->i < y->i ? -1 : 1)
                        : (x->j < y->j ? -1 : x->j > y->j);
}

/* No process or channel given to two workers: the reaper would report one
 * exit twice, a descriptor be watched twice. */
static void
unique(struct rd *d, struct wkey *k, size_t n, const char *key)
{
    if (n < 2)
        return;
    qsort(k, n, sizeof(*k), wkey_cmp);
    for (size_t x = 1; x < n && !d->r.failed; x++)
        if (k[x].v == k[x - 1].v) {
            snprintf(d->r.path, sizeof(d->r.path), "list[%zu].slots[%zu].w",
                     k[x].i, k[x].j);
            state_fault(&d->r, key, "%lld is list[%zu].slots[%zu].w's too",
                        k[x].v, k[x - 1].i, k[x - 1].j);
        }
}

/* The generations' structure, checked before anything is built. */
static void
read_list(struct rd *d, unsigned char *held)
{
    struct wkey *pids = NULL, *chans = NULL;
    size_t nw = 0, cap = 0;

    for (size_t i = 0; i < d->nlist && !d->r.failed; i++) {
        const json_t *g = json_array_get(d->list, i), *slots;
        size_t n, at = 0;
        unsigned id;

        snprintf(d->r.path, sizeof(d->r.path), "list[%zu]", i);
        if (!json_is_object(g)) {
            state_fault(&d->r, "", "not an object");
            return;
        }
        id = (unsigned)state_get(&d->r, g, "id", 1, U32);
        for (size_t j = 0; j < i && !d->r.failed; j++)
            if (json_integer_value(
                    json_object_get(json_array_get(d->list, j), "id")) == id)
                state_fault(&d->r, "id", "%u is list[%zu]'s too", id, j);
        get_plan(d, g, "plan", 0, &at);
        state_get(&d->r, g, "state", GEN_STARTING, GEN_KEPT);
        state_get(&d->r, g, "started_ns", 0, INT64_MAX);
        state_get(&d->r, g, "killed", 0, 1);
        state_get(&d->r, g, "bypassed", 0, 1);
        state_get(&d->r, g, "join_failed", 0, 1);
        slots = state_array(&d->r, g, "slots", STATE_MAX_SLOTS, &n);
        if (!d->r.failed)
            held[at] = 1;
        for (size_t j = 0; j < n && !d->r.failed; j++) {
            const json_t *s = json_array_get(slots, j), *w;

            snprintf(d->r.path, sizeof(d->r.path), "list[%zu].slots[%zu]", i,
                     j);
            if (!json_is_object(s)) {
                state_fault(&d->r, "", "not an object");
                return;
            }
            state_get(&d->r, s, "retired", 0, 1);
            w = json_object_get(s, "w");
            if (!d->r.failed && !json_is_null(w) && !json_is_object(w))
                state_fault(&d->r, "w",
                            w == NULL ? "missing"
                                      : "neither null nor an object");
            if (!json_is_object(w))
                continue;
            /* the rest: worker_state_adopt */
            snprintf(d->r.path, sizeof(d->r.path), "list[%zu].slots[%zu].w", i,
                     j);
            state_get(&d->r, w, "slot", (long long)j, (long long)j);
            if (nw == cap) {
                struct wkey *p2, *c2;
                cap = cap ? 2 * cap : 16;
                p2 = realloc(pids, cap * sizeof(*p2));
                pids = p2 ? p2 : pids;
                c2 = realloc(chans, cap * sizeof(*c2));
                chans = c2 ? c2 : chans;
                if (p2 == NULL || c2 == NULL) {
                    d->r.nomem = d->r.failed = 1;
                    break;
                }
            }
            pids[nw] =
                (struct wkey){state_get(&d->r, w, "pid", 2, 0x7fffffff), i, j};
            chans[nw++] =
                (struct wkey){state_get(&d->r, w, "chan", 3, 0x7fffffff), i, j};
        }
    }
    unique(d, pids, nw, "pid");
    unique(d, chans, nw, "chan");
    free(pids);
    free(chans);
}

/*
 * The whole object read and checked, every plan's configuration built
 * again; nothing opened or adopted. 0, or -EINVAL / -ENOMEM with err.
 */
static int
read_all(struct rd *d, const json_t *o, const struct config_args *args)
{
    unsigned char *held = NULL, *used = NULL;
    const json_t *v;

    if (!json_is_object(o)) {
        state_fault(&d->r, "", "not an object");
        return -EINVAL;
    }
    d->next_id = (unsigned)state_get(&d->r, o, "next_id", 1, U32);
    read_start(d, o);
    d->r.path[0] = '\0';
    d->listeners = state_array(&d->r, o, "listeners", 65536, &d->nlisteners);
    for (size_t i = 0; i < d->nlisteners && !d->r.failed; i++)
        if (!json_is_object(v = json_array_get(d->listeners, i))) {
            snprintf(d->r.path, sizeof(d->r.path), "listeners[%zu]", i);
            state_fault(&d->r, "", "not an object");
        }
    read_plans(d, o);
    d->r.path[0] = '\0';
    d->plan = get_plan(d, o, "plan", 0, NULL);
    d->next = get_plan(d, o, "next", 1, NULL);
    d->list = state_array(&d->r, o, "list", 65536, &d->nlist);
    if (d->r.failed)
        goto out;
    held = calloc(d->nplans + 1, 1);
    used = calloc(d->nlisteners + 1, 1);
    if (held == NULL || used == NULL) {
        d->r.nomem = d->r.failed = 1;
        goto out;
    }
    read_list(d, held);
    /* Everything read is held by something: nothing would be dropped (and
     * a listener closed) as soon as it was adopted. */
    for (size_t i = 0; i < d->nplans && !d->r.failed; i++) {
        snprintf(d->r.path, sizeof(d->r.path), "plans[%zu]", i);
        if (!held[i] && d->plans[i].id != d->plan && d->plans[i].id != d->next)
            state_fault(&d->r, "id",
                        "%u is neither the active plan, the next one nor a "
                        "generation's",
                        d->plans[i].id);
        for (size_t j = 0; j < d->plans[i].nls; j++)
            used[d->plans[i].ls[j]] = 1;
    }
    for (size_t i = 0; i < d->nlisteners && !d->r.failed; i++)
        if (!used[i]) {
            snprintf(d->r.path, sizeof(d->r.path), "listeners[%zu]", i);
            state_fault(&d->r, "", "no plan holds it");
        }
    /* The configurations, as loaded and run. */
    for (size_t i = 0; i < d->nplans && !d->r.failed; i++) {
        struct rplan *p = &d->plans[i];
        char err[CONFIG_ERRLEN];
        const char *keys[3];
        int rc;

        snprintf(d->r.path, sizeof(d->r.path), "plans[%zu]", i);
        if ((rc = source_rebuild(args, p->src, p->len, &p->cfg, err,
                                 sizeof(err))) < 0) {
            if (rc == -ENOMEM)
                d->r.nomem = d->r.failed = 1;
            else
                fault_long(d, "source", "%s", err);
            break;
        }
        /* A reload's configuration runs with the start-only keys handoff
         * started with, as master.c gave it. */
        if ((rc = config_keep_start_keys(&d->start, p->cfg, keys, 3)) < 0) {
            d->r.nomem = d->r.failed = 1;
            break;
        }
        if (p->cfg->nlisten != p->nls)
            state_fault(&d->r, "listeners",
                        "%zu recorded, the configuration has %zu", p->nls,
                        p->cfg->nlisten);
    }
out:
    free(held);
    free(used);
    if (d->r.nomem) {
        snprintf(d->r.err, d->r.errlen, "gens: out of memory");
        return -ENOMEM;
    }
    return d->r.failed ? -EINVAL : 0;
}

int
gens_state_check(const json_t *o, const struct config_args *args, char *err,
                 size_t errlen)
{
    struct rd d = {.r = {.prefix = "gens.", .err = err, .errlen = errlen}};
    int rc = read_all(&d, o, args);

    rd_free(&d);
    return rc;
}

/* --- adopting ------------------------------------------------------------ */

/* An adopted listener let go without closing a descriptor: they still
 * belong to the process. */
static void
drop_listener(struct listener *l)
{
    if (l != NULL)
        free(l->steer); /* not steer_close */
    free(l);
}

/* An adopted worker let go: off the reaper and the loop, its process and
 * channel's descriptor left as they are. */
static void
drop_worker(struct worker_ctx *wc, struct worker *w)
{
    reap_remove(wc->reaper, &w->child);
    handle_close(w->chan->poll);
    free(w->chan);
    free(w);
}

/* Plan i of d over the adopted listeners, each at its place the one the
 * configuration's section there names (its configured address, port 0
 * included): none opened. 0, or -EINVAL / -ENOMEM. */
static int
build_plan(struct rd *d, size_t i, struct listener **adopted)
{
    struct rplan *rp = &d->plans[i];
    struct plan *p = calloc(1, sizeof(*p));

    if (p == NULL ||
        (p->ls = calloc(rp->nls ? rp->nls : 1, sizeof(*p->ls))) == NULL) {
        free(p);
        d->r.nomem = d->r.failed = 1;
        return -ENOMEM;
    }
    /* Not by name: a later reload may have renamed a listener it kept. */
    for (size_t j = 0; j < rp->nls && !d->r.failed; j++) {
        const struct listen_conf *lc = &rp->cfg->listen[j];
        struct listener *l = adopted[rp->ls[j]];

        snprintf(d->r.path, sizeof(d->r.path), "plans[%zu].listeners[%zu]", i,
                 j);
        if (l->addr.len != lc->addr.len ||
            memcmp(&l->addr.ss, &lc->addr.ss, l->addr.len) != 0)
            fault_long(d, "",
                       "listener %s (%s) is not the configuration's %s (%s)",
                       l->name, l->bound_text, lc->name, lc->address);
        p->ls[j] = l;
    }
    if (d->r.failed) {
        free(p->ls);
        free(p);
        return -EINVAL;
    }
    p->nls = rp->nls;
    for (size_t j = 0; j < p->nls; j++)
        listener_ref(p->ls[j]);
    p->refs = 1; /* the adoption's, dropped once the holders have theirs */
    p->id = rp->id;
    p->cfg = rp->cfg;
    p->source = rp->src;
    p->source_len = rp->len;
    rp->cfg = NULL;
    rp->src = NULL;
    rp->p = p;
    return 0;
}

/* Generation i of d's list at the head of t, its slots as recorded, no
 * worker yet. */
static int
build_gen(struct rd *d, struct gens *t, size_t i, uv_loop_t *loop)
{
    const json_t *o = json_array_get(d->list, i);
    const json_t *slots = json_object_get(o, "slots");
    size_t n = json_array_size(slots);
    struct rplan *rp =
        find_plan(d, (unsigned)json_integer_value(json_object_get(o, "plan")));
    struct gen *g;

    g = gens_add(
        t, loop, (unsigned)json_integer_value(json_object_get(o, "id")), rp->p,
        (uint64_t)json_integer_value(json_object_get(o, "started_ns")));
    if (g == NULL || gen_reserve(g, n) < 0) {
        d->r.nomem = d->r.failed = 1;
        return -ENOMEM;
    }
    g->nslots = n; /* SIGTTIN may have added some, none is taken away */
    g->state = (enum gen_state)json_integer_value(json_object_get(o, "state"));
    g->killed = (int)json_integer_value(json_object_get(o, "killed"));
    g->bypassed = (int)json_integer_value(json_object_get(o, "bypassed"));
    g->join_failed = (int)json_integer_value(json_object_get(o, "join_failed"));
    for (size_t j = 0; j < n; j++)
        g->slots[j].retired = (int)json_integer_value(
            json_object_get(json_array_get(slots, j), "retired"));
    return 0;
}

/* Everything adopted so far let go, nothing closed; *t empty. */
static void
undo(struct rd *d, struct gens *t, struct listener **adopted,
     const struct gens_adopt *a)
{
    for (struct gen *g = t->list; g; g = g->next)
        for (size_t i = 0; i < g->nslots; i++)
            if (g->slots[i].w != NULL) {
                drop_worker(a->workers, g->slots[i].w);
                g->slots[i].w = NULL;
            }
    while (t->list != NULL)
        gens_remove(t, t->list);
    for (size_t i = 0; i < d->nplans; i++)
        if (d->plans[i].p != NULL) {
            d->plans[i].p->nls = 0; /* its listeners are not closed */
            plan_unref(d->plans[i].p);
            d->plans[i].p = NULL;
        }
    for (size_t i = 0; i < d->nlisteners; i++)
        drop_listener(adopted[i]);
    memset(t, 0, sizeof(*t));
}

int
gens_state_adopt(struct gens *t, const json_t *o, const struct gens_adopt *a,
                 char *err, size_t errlen)
{
    struct rd d = {.r = {.prefix = "gens.", .err = err, .errlen = errlen}};
    struct listener **adopted = NULL;
    struct gen *g;
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = read_all(&d, o, a->args)) < 0)
        goto out;
    if ((adopted = calloc(d.nlisteners + 1, sizeof(*adopted))) == NULL) {
        rc = -ENOMEM;
        snprintf(err, errlen, "gens: out of memory");
        goto out;
    }
    for (size_t i = 0; i < d.nlisteners; i++) {
        char why[512];

        if ((rc = listener_state_adopt(json_array_get(d.listeners, i),
                                       &adopted[i], why, sizeof(why))) < 0) {
            snprintf(err, errlen, "gens.listeners[%zu]: %s", i, why);
            goto fail;
        }
    }
    for (size_t i = 0; i < d.nplans; i++)
        if ((rc = build_plan(&d, i, adopted)) < 0)
            goto fail;
    for (size_t i = d.nlist; i-- > 0;) /* oldest first: each at the head */
        if ((rc = build_gen(&d, t, i, a->loop)) < 0)
            goto fail;
    /* t->list is in the object's order, newest first. */
    g = t->list;
    for (size_t i = 0; i < d.nlist; i++, g = g->next) {
        const json_t *slots =
            json_object_get(json_array_get(d.list, i), "slots");

        for (size_t j = 0; j < g->nslots; j++) {
            const json_t *w = json_object_get(json_array_get(slots, j), "w");
            char where[64];

            if (json_is_null(w))
                continue;
            snprintf(where, sizeof(where), "gens.list[%zu].slots[%zu].w", i, j);
            if ((rc = worker_state_adopt(a->workers, g, w, where, err,
                                         errlen)) < 0)
                goto fail;
        }
    }
    t->next_id = d.next_id;
    t->plan = plan_ref(find_plan(&d, d.plan)->p);
    t->next = d.next ? plan_ref(find_plan(&d, d.next)->p) : NULL;
    /* The holders have their references: the adoption's go. */
    for (size_t i = 0; i < d.nplans; i++) {
        plan_unref(d.plans[i].p);
        d.plans[i].p = NULL;
    }
    for (size_t i = 0; i < d.nlisteners; i++)
        listener_unref(adopted[i]); /* each held by a plan: not closed */
    rc = 0;
    goto out;
fail:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "gens: out of memory");
    undo(&d, t, adopted, a);
out:
    free(adopted);
    rd_free(&d);
    return rc;
}
