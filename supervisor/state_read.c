/* state_read.c: the deployment core's state read back from the JSON an earlier image wrote, every field checked before it is used. */
#include "state.h"
#include "version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
state_fault(struct state_rd *r, const char *key, const char *fmt, ...)
{
    va_list ap;
    char what[160];

    if (r->failed)
        return;
    r->failed = 1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s%s%s%s: %s", r->prefix, r->path,
             r->path[0] && key[0] ? "." : "", key, what);
}

long long
state_get(struct state_rd *r, const json_t *o, const char *key, long long lo,
          long long hi)
{
    const json_t *v = json_object_get(o, key);
    long long n;

    if (!json_is_integer(v)) {
        state_fault(r, key, v == NULL ? "missing" : "not an integer");
        return 0;
    }
    n = (long long)json_integer_value(v);
    if (n < lo || n > hi) {
        state_fault(r, key, "%lld is not one of %lld..%lld", n, lo, hi);
        return 0;
    }
    return n;
}

#define U32 0xffffffffLL
#define TIME 0x7fffffffffffffffLL /* ms, or a count: not negative */
#define SIG 64

static unsigned
id(struct state_rd *r, const json_t *o, const char *key)
{
    return (unsigned)state_get(r, o, key, 0, U32);
}

static uint64_t
ms(struct state_rd *r, const json_t *o, const char *key)
{
    return (uint64_t)state_get(r, o, key, 0, TIME);
}

static int
flag(struct state_rd *r, const json_t *o, const char *key)
{
    return (int)state_get(r, o, key, 0, 1);
}

void
state_text(struct state_rd *r, const json_t *o, const char *key, char *buf,
           size_t size)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        state_fault(r, key, v == NULL ? "missing" : "not a string");
        return;
    }
    if (json_string_length(v) >= size) {
        state_fault(r, key, "longer than %zu bytes", size - 1);
        return;
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
}

const json_t *
state_array(struct state_rd *r, const json_t *o, const char *key, size_t max,
            size_t *n)
{
    const json_t *a = json_object_get(o, key);

    *n = 0;
    if (!json_is_array(a)) {
        state_fault(r, key, a == NULL ? "missing" : "not an array");
        return NULL;
    }
    if (json_array_size(a) > max) {
        state_fault(r, key, "%zu entries, at most %zu", json_array_size(a),
                    max);
        return NULL;
    }
    *n = json_array_size(a);
    return a;
}

static const json_t *
object(struct state_rd *r, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_object(v))
        state_fault(r, key, v == NULL ? "missing" : "not an object");
    return json_is_object(v) ? v : NULL;
}

/* An entry [a, b] of two integers in 0..U32 and 0..TIME. */
static void
pair(struct state_rd *r, const json_t *v, const char *key, unsigned *a,
     uint64_t *b)
{
    json_int_t x, y;

    if (!json_is_array(v) || json_array_size(v) != 2 ||
        !json_is_integer(json_array_get(v, 0)) ||
        !json_is_integer(json_array_get(v, 1))) {
        state_fault(r, key, "not a pair of integers");
        return;
    }
    x = json_integer_value(json_array_get(v, 0));
    y = json_integer_value(json_array_get(v, 1));
    if (x < 0 || x > U32 || y < 0) {
        state_fault(r, key, "[%lld, %lld] out of range", (long long)x,
                    (long long)y);
        return;
    }
    *a = (unsigned)x;
    *b = (uint64_t)y;
}

static void
steps(struct state_rd *r, const json_t *o, const char *key,
      struct deploy_step *s, size_t *n)
{
    const json_t *a = state_array(r, o, key, DEPLOY_MAX_STEPS, n);

    for (size_t i = 0; a != NULL && i < *n; i++) {
        pair(r, json_array_get(a, i), key, &s[i].bps, &s[i].ms);
        if (s[i].bps > 10000)
            state_fault(r, key, "a share of %u basis points", s[i].bps);
    }
}

static void
conf(struct state_rd *r, const json_t *o, const char *key,
     struct deploy_conf *c)
{
    const json_t *v = object(r, o, key);
    size_t len = strlen(r->path);

    if (v == NULL)
        return;
    snprintf(r->path + len, sizeof(r->path) - len, ".%s", key);
    c->plan = id(r, v, "plan");
    c->processes = (unsigned)state_get(r, v, "processes", 0, STATE_MAX_SLOTS);
    c->restart = (enum deploy_restart)state_get(r, v, "restart", 0,
                                                DEPLOY_RESTART_NEVER);
    c->steered = flag(r, v, "steered");
    c->drain_signal = (int)state_get(r, v, "drain_signal", 0, SIG);
    c->ready_timeout = ms(r, v, "ready_timeout");
    c->drain_timeout = ms(r, v, "drain_timeout");
    c->drain_delay = ms(r, v, "drain_delay");
    c->stop_timeout = ms(r, v, "stop_timeout");
    c->stop_delay = ms(r, v, "stop_delay");
    c->keep_previous = ms(r, v, "keep_previous");
    c->shim = flag(r, v, "shim");
    state_text(r, v, "ready", c->ready, sizeof(c->ready));
    steps(r, v, "steps", c->steps, &c->nsteps);
    r->path[len] = '\0';
}

static void
slot(struct state_rd *r, const json_t *v, struct deploy_slot *s)
{
    s->w = (enum deploy_wstate)state_get(r, v, "w", DW_EMPTY, DW_STOPPING);
    s->started = ms(r, v, "started");
    s->backoff_ms = ms(r, v, "backoff_ms");
    s->restart_at = ms(r, v, "restart_at");
    s->retired = flag(r, v, "retired");
    s->lost = flag(r, v, "lost");
    s->asked = flag(r, v, "asked");
    s->ended = flag(r, v, "ended");
    s->restarts = (unsigned)state_get(r, v, "restarts", 0, U32);
}

static void
gen(struct state_rd *r, const json_t *v, struct deploy_gen *g)
{
    const json_t *a;
    size_t n, live = 0;

    g->id = (unsigned)state_get(r, v, "id", 1, U32);
    g->state = (enum gen_state)state_get(r, v, "state", GEN_STARTING, GEN_KEPT);
    conf(r, v, "conf", &g->conf);
    a = state_array(r, v, "slots", STATE_MAX_SLOTS, &n);
    if (a != NULL && n > 0 &&
        (g->slots = calloc(n, sizeof(*g->slots))) == NULL) {
        state_fault(r, "slots", "out of memory");
        r->nomem = 1;
    }
    for (size_t i = 0; g->slots != NULL && i < n && !r->failed; i++) {
        size_t len = strlen(r->path);

        snprintf(r->path + len, sizeof(r->path) - len, ".slots[%zu]", i);
        slot(r, json_array_get(a, i), &g->slots[i]);
        live += g->slots[i].w != DW_EMPTY;
        r->path[len] = '\0';
    }
    g->nslots = g->slots != NULL ? n : 0;
    g->live = (size_t)state_get(r, v, "live", 0, STATE_MAX_SLOTS);
    if (!r->failed && g->live != live)
        state_fault(r, "live", "%zu, but %zu slots have a process", g->live,
                    live);
    g->started = ms(r, v, "started");
    g->ready_at = ms(r, v, "ready_at");
    g->retire_at = ms(r, v, "retire_at");
    g->queue_empty = flag(r, v, "queue_empty");
    g->drain_at = ms(r, v, "drain_at");
    g->kill_at = ms(r, v, "kill_at");
    g->killed = flag(r, v, "killed");
    steps(r, v, "steps", g->steps, &g->nsteps);
    /* At nsteps once the last step has ended. */
    g->step = (size_t)state_get(r, v, "step", 0, DEPLOY_MAX_STEPS);
    if (!r->failed && g->step > g->nsteps)
        state_fault(r, "step", "%zu of %zu steps", g->step, g->nsteps);
    g->step_at = ms(r, v, "step_at");
    g->keep_at = ms(r, v, "keep_at");
    g->exit_code = (int)state_get(r, v, "exit_code", 0, 255);
}

static void
roll(struct state_rd *r, const json_t *v, struct deploy_roll *q)
{
    const json_t *a;

    q->explicit_steps = flag(r, v, "explicit_steps");
    steps(r, v, "steps", q->steps, &q->nsteps);
    a = state_array(r, v, "clients", DEPLOY_MAX_CLIENTS, &q->nclients);
    for (size_t i = 0; a != NULL && i < q->nclients; i++) {
        const json_t *c = json_array_get(a, i);

        if (!json_is_integer(c) || json_integer_value(c) < 1 ||
            json_integer_value(c) > U32)
            state_fault(r, "clients", "entry %zu is not a client", i);
        else
            q->clients[i] = (unsigned)json_integer_value(c);
    }
}

static void
rollback(struct state_rd *r, const json_t *o, struct deploy_rollback *rb)
{
    const json_t *v = object(r, o, "rb");

    if (v == NULL)
        return;
    rb->gen = id(r, v, "gen");
    rb->cause =
        (enum deploy_cause)state_get(r, v, "cause", 0, DEPLOY_NCAUSES - 1);
    rb->client = id(r, v, "client");
    rb->retry_at = ms(r, v, "retry_at");
    rb->crashed = flag(r, v, "crashed");
    rb->slot = (size_t)state_get(r, v, "slot", 0, STATE_MAX_SLOTS);
    rb->status = (int)state_get(r, v, "status", 0, 0xffff);
    rb->ran = ms(r, v, "ran");
    rb->step_failed = flag(r, v, "step_failed");
    state_text(r, v, "why", rb->why, sizeof(rb->why));
}

/* What the entries read say of each other: unique ids below next_id, the
 * generations named elsewhere alive. */
static void
consistent(struct state_rd *r, const struct deploy *d)
{
    const unsigned named[] = {d->active,       d->starting,  d->route_main,
                              d->route_canary, d->guard_cur, d->guard_prev,
                              d->pending_gen};
    static const char *const names[] = {
        "active",    "starting",   "route_main", "route_canary",
        "guard_cur", "guard_prev", "pending_gen"};

    for (size_t i = 0; i < DEPLOY_MAX_GENS && !r->failed; i++) {
        unsigned gid = d->gens[i].id;

        if (gid == 0)
            continue;
        if (gid > d->next_id)
            state_fault(r, "gens", "generation %u above next_id %u", gid,
                        d->next_id);
        for (size_t k = i + 1; k < DEPLOY_MAX_GENS; k++)
            if (d->gens[k].id == gid)
                state_fault(r, "gens", "generation %u twice", gid);
    }
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (named[i] != 0 && deploy_gen_c(d, named[i]) == NULL)
            state_fault(r, names[i], "generation %u is not among gens",
                        named[i]);
    if (d->pending != DP_NONE && d->pending_gen == 0)
        state_fault(r, "pending", "a swap awaited for no generation");
}

int
state_read_deploy(struct deploy *d, const json_t *o, char *err, size_t errlen)
{
    struct state_rd r = {.path = "deploy", .err = err, .errlen = errlen};
    const json_t *a;
    size_t n;

    deploy_init(d);
    if (!json_is_object(o)) {
        state_fault(&r, "", "not an object");
        return -EINVAL;
    }
    a = state_array(&r, o, "gens", DEPLOY_MAX_GENS, &n);
    for (size_t i = 0; a != NULL && i < n && !r.failed; i++) {
        snprintf(r.path, sizeof(r.path), "deploy.gens[%zu]", i);
        gen(&r, json_array_get(a, i), &d->gens[i]);
    }
    snprintf(r.path, sizeof(r.path), "deploy");
    a = state_array(&r, o, "queue", DEPLOY_MAX_QUEUE, &d->nqueue);
    for (size_t i = 0; a != NULL && i < d->nqueue && !r.failed; i++) {
        snprintf(r.path, sizeof(r.path), "deploy.queue[%zu]", i);
        roll(&r, json_array_get(a, i), &d->queue[i]);
    }
    snprintf(r.path, sizeof(r.path), "deploy");
    a = state_array(&r, o, "waiters", DEPLOY_MAX_CLIENTS, &d->nwaiters);
    for (size_t i = 0; a != NULL && i < d->nwaiters; i++) {
        uint64_t gid = 0;

        pair(&r, json_array_get(a, i), "waiters", &d->waiters[i].client, &gid);
        d->waiters[i].gen = (unsigned)gid;
    }
    d->next_id = id(&r, o, "next_id");
    d->active = id(&r, o, "active");
    d->starting = id(&r, o, "starting");
    conf(&r, o, "conf", &d->conf);
    conf(&r, o, "next", &d->next);
    d->have_next = flag(&r, o, "have_next");
    d->route_main = id(&r, o, "route_main");
    d->route_canary = id(&r, o, "route_canary");
    d->route_bps = (unsigned)state_get(&r, o, "route_bps", 0, 10000);
    d->pending =
        (enum deploy_pending)state_get(&r, o, "pending", DP_NONE, DP_ROLLBACK);
    d->pending_gen = id(&r, o, "pending_gen");
    d->pending_client = id(&r, o, "pending_client");
    rollback(&r, o, &d->rb);
    d->guard_cur = id(&r, o, "guard_cur");
    d->guard_prev = id(&r, o, "guard_prev");
    d->guard_latency = flag(&r, o, "guard_latency");
    d->stopping = flag(&r, o, "stopping");
    d->finished = flag(&r, o, "finished");
    d->stop_sig = (int)state_get(&r, o, "stop_sig", 0, SIG);
    d->stop_gen = id(&r, o, "stop_gen");
    d->delay_at = ms(&r, o, "delay_at");
    d->delay_sig = (int)state_get(&r, o, "delay_sig", 0, SIG);
    d->stop_at = ms(&r, o, "stop_at");
    d->grace_at = ms(&r, o, "grace_at");
    d->exit_code = (int)state_get(&r, o, "exit_code", 0, 255);
    d->have_exit_code = flag(&r, o, "have_exit_code");
    d->rolls_ok = (unsigned)state_get(&r, o, "rolls_ok", 0, U32);
    d->rolls_failed = (unsigned)state_get(&r, o, "rolls_failed", 0, U32);
    d->restarts = (unsigned)state_get(&r, o, "restarts", 0, U32);
    a = state_array(&r, o, "rollbacks", DEPLOY_NCAUSES, &n);
    if (a != NULL && n != DEPLOY_NCAUSES)
        state_fault(&r, "rollbacks", "%zu causes, not %d", n, DEPLOY_NCAUSES);
    for (size_t i = 0; a != NULL && i < n; i++) {
        const json_t *c = json_array_get(a, i);

        if (!json_is_integer(c) || json_integer_value(c) < 0 ||
            json_integer_value(c) > U32)
            state_fault(&r, "rollbacks", "entry %zu is not a count", i);
        else
            d->rollbacks[i] = (unsigned)json_integer_value(c);
    }
    d->last_outcome = (int)state_get(&r, o, "last_outcome", -1, 1);
    d->last_gen = id(&r, o, "last_gen");
    state_text(&r, o, "last_reason", d->last_reason, sizeof(d->last_reason));
    d->timer_at = ms(&r, o, "timer_at");
    if (!r.failed)
        consistent(&r, d);
    if (r.failed) {
        deploy_free(d);
        return r.nomem ? -ENOMEM : -EINVAL;
    }
    return 0;
}

int
state_read(struct deploy *d, const json_t *doc, char *err, size_t errlen)
{
    const json_t *f = json_object_get(doc, "format");
    const json_t *v = json_object_get(doc, "version");
    json_int_t version;
    int lo;

    deploy_init(d);
    if (!json_is_string(f) || strcmp(json_string_value(f), STATE_FORMAT) != 0) {
        snprintf(err, errlen, "not a state of handoff (no \"format\": \"%s\")",
                 STATE_FORMAT);
        return -EINVAL;
    }
    version = json_is_integer(v) ? json_integer_value(v) : -1;
    /* Its own format and the one before: an upgrade across one format
     * change works both ways within it, a downgrade past it is refused. */
    lo = handoff_state_version > 1 ? handoff_state_version - 1
                                   : handoff_state_version;
    if (version < lo || version > handoff_state_version) {
        const json_t *by = json_object_get(doc, "written_by");

        snprintf(err, errlen,
                 "state format %lld written by handoff %s: this handoff (%s) "
                 "reads format %d%s%.0d",
                 (long long)version,
                 json_is_string(by) ? json_string_value(by) : "?",
                 handoff_version, lo, lo < handoff_state_version ? " and " : "",
                 lo < handoff_state_version ? handoff_state_version : 0);
        return -EPROTONOSUPPORT;
    }
    return state_read_deploy(d, json_object_get(doc, "deploy"), err, errlen);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
state_unhex(const char *hex, size_t n, void *out)
{
    unsigned char *p = out;

    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        p[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
