/* deploy.c: the deployment's decisions as a pure core: events in (with the
 * time), actions out. */
#include "deploy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "parse.h"
#include "reap.h"

/* What one event may do, besides the action list. */
struct ctx {
    struct deploy *d;
    uint64_t now;
    struct deploy_out *out;
};

static void stop_now(struct ctx *x, int sig);
static long victim(const struct deploy_gen *g);
static void start_roll(struct ctx *x, const struct deploy_roll *r);
static void drain_gen(struct ctx *x, struct deploy_gen *g, uint64_t timeout);

/* --- actions ----------------------------------------------------------------
 */

static struct deploy_action *
act(struct ctx *x, enum deploy_action_kind kind, unsigned gen)
{
    static struct deploy_action sink; /* past the end: counted, dropped */
    struct deploy_out *o = x->out;
    struct deploy_action *a;

    if (o->n >= DEPLOY_MAX_ACTIONS) {
        o->overflow = 1;
        memset(&sink, 0, sizeof(sink));
        return &sink;
    }
    a = &o->a[o->n++];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->gen = gen;
    return a;
}

static void __attribute__((format(printf, 4, 5)))
say(struct ctx *x, enum deploy_level level, const char *event, const char *fmt,
    ...)
{
    struct deploy_action *a = act(x, DA_LOG, 0);
    va_list ap;

    a->level = level;
    a->event = event;
    va_start(ap, fmt);
    vsnprintf(a->text, sizeof(a->text), fmt, ap);
    va_end(ap);
}

/* A roll ended: the outcome status and the service manager report. */
static void
ended(struct ctx *x, unsigned gen, int ok, const char *text)
{
    struct deploy *d = x->d;
    struct deploy_action *a = act(x, DA_ENDED, gen);

    d->last_outcome = ok ? 1 : -1;
    d->last_gen = gen;
    snprintf(d->last_reason, sizeof(d->last_reason), "%s", ok ? "" : text);
    a->ok = ok;
    snprintf(a->text, sizeof(a->text), "%s", text);
}

static void
answer(struct ctx *x, unsigned client, int ok, unsigned gen, const char *text)
{
    struct deploy_action *a;

    if (client == 0)
        return;
    a = act(x, DA_ANSWER, gen);
    a->client = client;
    a->ok = ok;
    snprintf(a->text, sizeof(a->text), "%s", text ? text : "");
}

static void
progress(struct ctx *x, const char *text)
{
    snprintf(act(x, DA_PROGRESS, 0)->text, sizeof(x->out->a[0].text), "%s",
             text);
}

/* Answers every client waiting for gen's roll (all when gen is 0). */
static void
answer_waiters(struct ctx *x, unsigned gen, int ok, const char *text)
{
    struct deploy *d = x->d;
    size_t k = 0;

    for (size_t i = 0; i < d->nwaiters; i++) {
        struct deploy_waiter w = d->waiters[i];
        if (gen == 0 || w.gen <= gen)
            answer(x, w.client, ok, gen, text);
        else
            d->waiters[k++] = w;
    }
    d->nwaiters = k;
}

/* --- lookups ----------------------------------------------------------------
 */

struct deploy_gen *
deploy_gen(struct deploy *d, unsigned id)
{
    for (size_t i = 0; id != 0 && i < DEPLOY_MAX_GENS; i++)
        if (d->gens[i].id == id)
            return &d->gens[i];
    return NULL;
}

const struct deploy_gen *
deploy_gen_c(const struct deploy *d, unsigned id)
{
    return deploy_gen((struct deploy *)d, id);
}

static struct deploy_gen *
find_state(struct deploy *d, enum gen_state s)
{
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++)
        if (d->gens[i].id != 0 && d->gens[i].state == s)
            return &d->gens[i];
    return NULL;
}

static size_t
count(const struct deploy_gen *g, enum deploy_wstate w)
{
    size_t n = 0;

    for (size_t i = 0; i < g->nslots; i++)
        n += g->slots[i].w == w;
    return n;
}

size_t
deploy_size(const struct deploy_gen *g)
{
    size_t n = 0;

    for (size_t i = 0; i < g->nslots; i++)
        n += !g->slots[i].retired;
    return n;
}

const char *
deploy_cause_name(enum deploy_cause c)
{
    static const char *const names[DEPLOY_NCAUSES] = {
        [DEPLOY_CRASH] = "crash",
        [DEPLOY_PROBE] = "probe",
        [DEPLOY_LATENCY] = "latency",
        [DEPLOY_OPERATOR] = "operator",
    };

    return (unsigned)c < DEPLOY_NCAUSES ? names[c] : "unknown";
}

/* Only live slots count: a retired slot's worker, even one still ready,
 * must not stand in for a live slot that is not. */
static int
all_ready(const struct deploy_gen *g)
{
    size_t want = 0, ready = 0;

    for (size_t i = 0; i < g->nslots; i++) {
        if (g->slots[i].retired)
            continue;
        want++;
        ready += g->slots[i].w == DW_READY;
    }
    return want > 0 && ready == want;
}

int
deploy_has_future(const struct deploy_gen *g)
{
    if (g->live > 0)
        return 1;
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i].restart_at != 0)
            return 1;
    return 0;
}

static int
wants_restart(enum deploy_restart r, int status)
{
    if (r == DEPLOY_RESTART_ALWAYS)
        return 1;
    if (r == DEPLOY_RESTART_ON_FAILURE)
        return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

/* --- generations ---------------------------------------------------------- */

static int
set_state(struct ctx *x, struct deploy_gen *g, enum gen_event e)
{
    int next = gen_transition(g->state, e);

    if (next < 0) {
        say(x, DL_DEBUG, "transition_ignored", "gen=%u state=%s on=%s", g->id,
            gen_state_name(g->state), gen_event_name(e));
        return -1;
    }
    if ((enum gen_state)next != g->state)
        say(x, DL_DEBUG, "transition", "gen=%u from=%s to=%s on=%s", g->id,
            gen_state_name(g->state), gen_state_name((enum gen_state)next),
            gen_event_name(e));
    g->state = (enum gen_state)next;
    return 0;
}

static void
guard(struct ctx *x, unsigned cur, unsigned prev, int latency)
{
    struct deploy *d = x->d;
    struct deploy_action *a;

    if (d->guard_cur == cur && d->guard_prev == prev &&
        d->guard_latency == latency)
        return;
    d->guard_cur = cur;
    d->guard_prev = prev;
    d->guard_latency = latency;
    a = act(x, DA_GUARD, cur);
    a->prev = prev;
    a->latency = latency;
}

static void
steer(struct ctx *x, enum deploy_steer how, unsigned gen, unsigned bps)
{
    struct deploy_action *a = act(x, DA_STEER, gen);

    a->steer = how;
    a->bps = bps;
}

static void
set_plan(struct ctx *x, const struct deploy_gen *g)
{
    if (x->d->conf.plan == g->conf.plan)
        return;
    x->d->conf = g->conf;
    act(x, DA_PLAN, g->id)->plan = g->conf.plan;
}

/* The last process of g left: it is gone, its entry free again. */
static void
gen_free(struct ctx *x, struct deploy_gen *g)
{
    struct deploy *d = x->d;

    act(x, DA_GONE, g->id);
    if (d->active == g->id)
        d->active = 0;
    if (d->starting == g->id)
        d->starting = 0;
    if (d->route_main == g->id)
        d->route_main = 0;
    if (d->route_canary == g->id)
        d->route_canary = 0;
    if (d->guard_cur == g->id || d->guard_prev == g->id)
        guard(x, 0, 0, 0);
    free(g->slots);
    memset(g, 0, sizeof(*g));
}

static void
gen_done(struct ctx *x, struct deploy_gen *g)
{
    if (set_state(x, g, GEV_ALL_EXITED) < 0)
        return;
    say(x, DL_INFO, "gone", "gen=%u drain_ms=%llu", g->id,
        g->drain_at ? (unsigned long long)(x->now - g->drain_at) : 0ULL);
    gen_free(x, g);
}

static void
spawn(struct ctx *x, struct deploy_gen *g, size_t i)
{
    struct deploy_slot *s = &g->slots[i];

    s->w = DW_STARTING;
    s->started = x->now;
    s->restart_at = 0;
    s->asked = 0;
    s->ended = 0;
    g->live++;
    act(x, DA_SPAWN, g->id)->slot = i;
}

static void
drain_worker(struct ctx *x, struct deploy_gen *g, size_t i)
{
    struct deploy_slot *s = &g->slots[i];
    struct deploy_action *a;

    if (s->w != DW_STARTING && s->w != DW_READY)
        return;
    s->w = DW_STOPPING;
    a = act(x, DA_SIGNAL, g->id);
    a->slot = i;
    a->sig = g->conf.drain_signal;
}

static void
kill_gen(struct ctx *x, struct deploy_gen *g, const char *why)
{
    snprintf(act(x, DA_KILL, g->id)->text, sizeof(x->out->a[0].text), "%s",
             why);
    g->killed = 1;
    g->kill_at = 0;
}

/* Every process of g: its drain signal, SIGKILL after timeout. */
static void
drain_gen(struct ctx *x, struct deploy_gen *g, uint64_t timeout)
{
    struct deploy *d = x->d;

    g->drain_at = x->now;
    g->retire_at = 0;
    g->ready_at = 0;
    g->step_at = 0;
    g->keep_at = 0;
    /* It stops accepting: nothing is routed to it any more. */
    steer(x, DS_DRAINED, g->id, 0);
    if (d->route_main == g->id)
        d->route_main = 0;
    if (d->route_canary == g->id)
        d->route_canary = 0;
    for (size_t i = 0; i < g->nslots; i++) {
        g->slots[i].restart_at = 0;
        drain_worker(x, g, i);
    }
    if (g->live == 0) {
        gen_done(x, g);
        return;
    }
    g->kill_at = x->now + timeout;
}

/* g gets no new client any more. Steered, it keeps accepting what its own
 * queue holds until that is empty and drain_delay passed (drain_timeout at
 * most); shared, it drains at once. */
static void
retire(struct ctx *x, struct deploy_gen *g)
{
    /* Shared, or nothing left to accept with: drained at once. */
    if (!g->conf.steered || !deploy_has_future(g)) {
        drain_gen(x, g, g->conf.drain_timeout);
        return;
    }
    g->retire_at = x->now;
    g->queue_empty = 0;
    act(x, DA_RETIRE, g->id);
    say(x, DL_INFO, "retire", "gen=%u", g->id);
}

/* --- the roll ------------------------------------------------------------- */

static void
roll_finished(struct ctx *x)
{
    struct deploy *d = x->d;
    struct deploy_roll r;

    /* Not during stop_delay either: handoff is going away. */
    if (d->nqueue == 0 || d->stopping || d->delay_at != 0 || d->starting != 0)
        return;
    r = d->queue[0];
    memmove(&d->queue[0], &d->queue[1], (d->nqueue - 1) * sizeof(r));
    d->nqueue--;
    start_roll(x, &r);
}

/* restart = never or on-failure: g, the active generation, has no process
 * left and none to restart. The service has ended, with its last status. */
static void
service_ended(struct ctx *x, struct deploy_gen *g)
{
    struct deploy *d = x->d;

    say(x, DL_INFO, "no_worker_left", "gen=%u", g->id);
    d->exit_code = g->exit_code;
    d->have_exit_code = 1;
    set_state(x, g, GEV_ALL_EXITED);
    gen_free(x, g);
    stop_now(x, 0);
}

static void
fail_roll(struct ctx *x, struct deploy_gen *g, enum gen_event e,
          const char *why, int code)
{
    struct deploy *d = x->d;
    struct deploy_gen *a;
    unsigned id = g->id;

    if (set_state(x, g, e) < 0)
        return;
    if (d->starting == id)
        d->starting = 0;
    d->rolls_failed++;
    ended(x, id, 0, why);
    say(x, DL_ERROR, "roll_failed", "gen=%u reason=%s roll_ms=%llu%s", id,
        log_q(why), (unsigned long long)(x->now - g->started),
        d->active ? "" : " first=1");
    answer_waiters(x, id, 0, why);
    drain_gen(x, g, g->conf.drain_timeout); /* may free g */
    a = deploy_gen(d, d->active);
    if (a == NULL && !d->stopping) {
        /* The first generation: nothing to fall back to. */
        d->exit_code = code;
        d->have_exit_code = 1;
        stop_now(x, 0);
        return;
    }
    if (a != NULL && !d->stopping && !deploy_has_future(a)) {
        /* Its last process exited during the roll: nothing serves now. */
        service_ended(x, a);
        return;
    }
    roll_finished(x);
}

static void
ask_promote(struct ctx *x, struct deploy_gen *g)
{
    x->d->pending = DP_PROMOTE;
    x->d->pending_gen = g->id;
    steer(x, DS_PROMOTE, g->id, 0);
}

/* Step g->step of g's canary, or its promotion after the last. */
static void
step(struct ctx *x, struct deploy_gen *g)
{
    if (g->step >= g->nsteps) {
        say(x, DL_INFO, "canary_done", "gen=%u steps=%zu", g->id, g->nsteps);
        ask_promote(x, g);
        return;
    }
    x->d->pending = DP_STEP;
    x->d->pending_gen = g->id;
    steer(x, DS_SHARE, g->id, g->steps[g->step].bps);
}

/* Every slot of g is ready. */
static void
gen_ready(struct ctx *x, struct deploy_gen *g)
{
    struct deploy *d = x->d;

    if (g->nsteps > 0 && d->active != 0 && g->conf.steered &&
        set_state(x, g, GEV_CANARY) == 0) {
        g->ready_at = 0;
        g->step = 0;
        guard(x, g->id, d->active, 1);
        step(x, g);
        return;
    }
    ask_promote(x, g);
}

/* The previous generation of a promotion: kept (keep_previous), or
 * retired. One with no process and none to restart is not kept: a
 * rollback to it would serve nothing, and nothing would end. */
static void
supersede(struct ctx *x, struct deploy_gen *g, struct deploy_gen *old)
{
    uint64_t keep = g->conf.keep_previous;

    if (old == NULL) {
        guard(x, 0, 0, 0);
        return;
    }
    if (keep == 0 || !old->conf.steered || !deploy_has_future(old) ||
        set_state(x, old, GEV_KEEP) < 0) {
        guard(x, 0, 0, 0); /* the canary, if any, is over */
        if (set_state(x, old, GEV_SUPERSEDED) == 0)
            retire(x, old);
        return;
    }
    say(x, DL_INFO, "kept", "gen=%u for_ms=%llu", old->id,
        (unsigned long long)keep);
    /* Latency is judged during a canary only: the new generation has every
     * client now and the kept one none. */
    guard(x, g->id, old->id, 0);
    old->keep_at = x->now + keep;
}

static void
promoted(struct ctx *x, struct deploy_gen *g)
{
    struct deploy *d = x->d;
    struct deploy_gen *old = deploy_gen(d, d->active);
    char text[160];

    set_state(x, g, GEV_ALL_READY);
    g->ready_at = 0;
    g->step_at = 0;
    d->starting = 0;
    d->active = g->id;
    d->route_main = g->id;
    d->route_canary = 0;
    set_plan(x, g);
    d->rolls_ok++;
    ended(x, g->id, 1, "");
    say(x, DL_INFO, "promote", "gen=%u old=%u roll_ms=%llu", g->id,
        old ? old->id : 0, (unsigned long long)(x->now - g->started));
    snprintf(text, sizeof(text), "promoted gen=%u", g->id);
    answer_waiters(x, g->id, 1, text);
    /* The cap: a generation still draining from an earlier roll goes now;
     * one still emptying its queue drains once that is done (a queue
     * killed would be reset) and drain_timeout bounds that. */
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++) {
        struct deploy_gen *o = &d->gens[i];
        if (o->id == 0 || o == g || o == old || o->state != GEN_DRAINING ||
            o->killed)
            continue;
        if (o->drain_at == 0 && o->queue_empty)
            drain_gen(x, o, o->conf.drain_timeout);
        else if (o->drain_at != 0)
            kill_gen(x, o, "drain_cap");
    }
    supersede(x, g, old);
    roll_finished(x);
}

/* The swap of g's promotion or canary step (at) was refused: the roll
 * fails; a canary's clients go back first to the generation that never
 * stopped serving. */
static void
swap_failed(struct ctx *x, struct deploy_gen *g, int err, const char *at)
{
    struct deploy *d = x->d;
    char why[200];

    snprintf(why, sizeof(why),
             "the steering program could not be attached (%s) at %s: "
             "generation %u stays active",
             strerror(-err), at, d->active);
    if (g->state == GEN_CANARY) {
        g->step_at = 0; /* no next step */
        if (d->active != 0 && d->route_canary == g->id) {
            /* The step before gave it clients: they go back first, in a
             * swap awaited like a rollback's; the roll fails then. */
            memset(&d->rb, 0, sizeof(d->rb));
            d->rb.gen = g->id;
            d->rb.step_failed = 1;
            snprintf(d->rb.why, sizeof(d->rb.why), "%s", why);
            d->pending = DP_ROLLBACK;
            d->pending_gen = d->active;
            steer(x, DS_PROMOTE, d->active, 0);
            return; /* its guard watches on meanwhile */
        }
        guard(x, 0, 0, 0); /* no guard on a failed canary */
    }
    fail_roll(x, g, g->state == GEN_CANARY ? GEV_ROLLBACK : GEV_READY_TIMEOUT,
              why, 1);
}

static void rolled_back(struct ctx *x, struct deploy_gen *g,
                        struct deploy_gen *to);
static void rollback_failed(struct ctx *x, struct deploy_gen *g,
                            struct deploy_gen *to, int err);

static void
steered(struct ctx *x, int err)
{
    struct deploy *d = x->d;
    enum deploy_pending p = d->pending;
    struct deploy_gen *g = deploy_gen(d, d->pending_gen);
    char text[160];

    d->pending = DP_NONE;
    d->pending_gen = 0;
    if (g == NULL || p == DP_NONE)
        return;
    if (p == DP_ROLLBACK) {
        struct deploy_gen *from = deploy_gen(d, d->rb.gen);

        if (from == NULL)
            return;
        if (err < 0) {
            rollback_failed(x, from, g, err);
        } else if (d->rb.step_failed) {
            d->rb.step_failed = 0;
            d->route_main = g->id;
            d->route_canary = 0;
            guard(x, 0, 0, 0);
            fail_roll(x, from, GEV_ROLLBACK, d->rb.why, 1);
        } else {
            rolled_back(x, from, g);
        }
        return;
    }
    if (p == DP_PROMOTE) {
        unsigned client = d->pending_client;

        d->pending_client = 0;
        if (err < 0) {
            snprintf(text, sizeof(text),
                     "the steering program could not be attached (%s): "
                     "generation %u stays active",
                     strerror(-err), d->active);
            if (client != 0)
                answer(x, client, -1, 0, text);
            swap_failed(x, g, err, "promotion");
            return;
        }
        promoted(x, g);
        if (client != 0) {
            snprintf(text, sizeof(text), "promoted gen=%u", g->id);
            answer(x, client, 1, g->id, text);
        }
        return;
    }
    if (err < 0) {
        snprintf(text, sizeof(text), "canary step %zu of %zu", g->step + 1,
                 g->nsteps);
        swap_failed(x, g, err, text);
        return;
    }
    d->route_main = d->active;
    d->route_canary = g->id;
    d->route_bps = g->steps[g->step].bps;
    say(x, DL_INFO, "canary",
        "gen=%u old=%u step=%zu/%zu share_bps=%u "
        "for_ms=%llu",
        g->id, d->active, g->step + 1, g->nsteps, g->steps[g->step].bps,
        (unsigned long long)g->steps[g->step].ms);
    snprintf(text, sizeof(text),
             "canary: generation %u gets %u.%02u%% of "
             "client addresses (step %zu of %zu)",
             g->id, g->steps[g->step].bps / 100, g->steps[g->step].bps % 100,
             g->step + 1, g->nsteps);
    progress(x, text);
    g->step_at = x->now + g->steps[g->step].ms;
}

static int
free_entry(struct deploy *d)
{
    for (int i = 0; i < DEPLOY_MAX_GENS; i++)
        if (d->gens[i].id == 0)
            return i;
    return -1;
}

static void
start_roll(struct ctx *x, const struct deploy_roll *r)
{
    struct deploy *d = x->d;
    const struct deploy_conf *c = d->have_next ? &d->next : &d->conf;
    struct deploy_gen *kept = find_state(d, GEN_KEPT), *g;
    int i;

    /* A new roll: the kept generation is retired first (at most one). */
    if (kept != NULL) {
        kept->keep_at = 0;
        guard(x, 0, 0, 0);
        if (set_state(x, kept, GEV_SUPERSEDED) == 0) {
            say(x, DL_INFO, "kept_end", "gen=%u reason=%s", kept->id,
                log_q("new roll"));
            retire(x, kept);
        }
    }
    if ((i = free_entry(d)) < 0) {
        say(x, DL_ERROR, "roll_failed", "reason=\"%d generations still drain\"",
            DEPLOY_MAX_GENS);
        for (size_t k = 0; k < r->nclients; k++)
            answer(x, r->clients[k], 0, 0, "too many generations drain");
        return;
    }
    g = &d->gens[i];
    memset(g, 0, sizeof(*g));
    g->slots = calloc(c->processes ? c->processes : 1, sizeof(*g->slots));
    if (g->slots == NULL) {
        say(x, DL_ERROR, "roll_failed", "reason=\"out of memory\"");
        for (size_t k = 0; k < r->nclients; k++)
            answer(x, r->clients[k], 0, 0, "out of memory");
        return;
    }
    g->id = ++d->next_id;
    g->state = GEN_STARTING;
    g->conf = *c;
    d->have_next = 0;
    g->nslots = c->processes;
    g->started = x->now;
    g->ready_at = x->now + c->ready_timeout;
    /* This roll's canary: handoff roll --canary's, else the file's. */
    if (r->explicit_steps) {
        memcpy(g->steps, r->steps, sizeof(g->steps));
        g->nsteps = r->nsteps;
    } else {
        memcpy(g->steps, c->steps, sizeof(g->steps));
        g->nsteps = c->nsteps;
    }
    d->starting = g->id;
    for (size_t k = 0; k < r->nclients; k++) {
        d->waiters[d->nwaiters].client = r->clients[k];
        d->waiters[d->nwaiters++].gen = g->id;
    }
    say(x, DL_INFO, "roll", "gen=%u processes=%zu ready=%s", g->id, g->nslots,
        g->conf.ready);
    /* A generation that failed a roll before and still drains is killed:
     * retries never pile up. */
    for (size_t k = 0; k < DEPLOY_MAX_GENS; k++) {
        struct deploy_gen *o = &d->gens[k];
        if (o->id != 0 && o != g && o->state == GEN_FAILED && o->live > 0 &&
            !o->killed && o->drain_at != 0)
            kill_gen(x, o, "drain_cap");
    }
    act(x, DA_JOIN, g->id);
    for (size_t k = 0; k < g->nslots; k++)
        spawn(x, g, k);
}

/* Control clients wait for the roll of a generation; at most
 * DEPLOY_MAX_CLIENTS at once, like the control socket's connections. */
static size_t
clients_waiting(const struct deploy *d)
{
    size_t n = d->nwaiters;

    for (size_t i = 0; i < d->nqueue; i++)
        n += d->queue[i].nclients;
    return n;
}

static int
same_steps(const struct deploy_roll *r, const struct deploy_event *ev)
{
    if (r->nsteps != ev->nsteps)
        return 0;
    for (size_t i = 0; i < ev->nsteps; i++)
        if (r->steps[i].bps != ev->steps[i].bps ||
            r->steps[i].ms != ev->steps[i].ms)
            return 0;
    return 1;
}

static void
roll(struct ctx *x, const struct deploy_event *ev)
{
    struct deploy *d = x->d;
    const char *why = ev->text ? ev->text : "roll";
    struct deploy_roll r, *q;

    if (d->stopping) {
        answer(x, ev->client, -1, 0, "stopping");
        return;
    }
    if (d->delay_at != 0) {
        say(x, DL_INFO, "roll_ignored", "reason=%s during=stop_delay",
            log_q(why));
        answer(x, ev->client, -1, 0, "stopping");
        return;
    }
    if (ev->nsteps > DEPLOY_MAX_STEPS ||
        (ev->client != 0 && clients_waiting(d) >= DEPLOY_MAX_CLIENTS)) {
        answer(x, ev->client, -1, 0, "busy");
        return;
    }
    memset(&r, 0, sizeof(r));
    r.explicit_steps = ev->steps != NULL;
    if (r.explicit_steps) {
        memcpy(r.steps, ev->steps, ev->nsteps * sizeof(*ev->steps));
        r.nsteps = ev->nsteps;
    }
    if (ev->client != 0)
        r.clients[r.nclients++] = ev->client;
    if (d->starting == 0) {
        start_roll(x, &r);
        return;
    }
    /* Rolls asked for during a roll: one more roll serves every request
     * that does not ask for a canary of its own; one that does gets a roll
     * with its steps (DEPLOY_MAX_QUEUE of them). */
    q = d->nqueue ? &d->queue[d->nqueue - 1] : NULL;
    if (q != NULL &&
        (!r.explicit_steps || (q->explicit_steps && same_steps(q, ev)))) {
        if (ev->client != 0)
            q->clients[q->nclients++] = ev->client;
    } else if (d->nqueue < DEPLOY_MAX_QUEUE) {
        d->queue[d->nqueue++] = r;
    } else {
        answer(x, ev->client, -1, 0, "busy: too many rolls queued");
        return;
    }
    say(x, DL_INFO, "roll_queued", "during=%u reason=%s queued=%zu",
        d->starting, log_q(why), d->nqueue);
}

/* --- rollback, promote, keep ---------------------------------------------- */

/*
 * The kept generation serves again: at the size asked for meanwhile, with
 * the processes it lost while kept started again (no restart runs for a
 * kept generation).
 */
static int
restore_size(struct ctx *x, struct deploy_gen *kept)
{
    size_t want = kept->conf.processes, had = deploy_size(kept);

    while (deploy_size(kept) > want && deploy_size(kept) > 1) {
        size_t i = (size_t)victim(kept);
        kept->slots[i].retired = 1;
        kept->slots[i].restart_at = 0;
        drain_worker(x, kept, i);
    }
    if (deploy_size(kept) < want) {
        size_t add = want - deploy_size(kept);
        struct deploy_slot *s =
            realloc(kept->slots, (kept->nslots + add) * sizeof(*s));
        if (s == NULL)
            return -ENOMEM;
        memset(&s[kept->nslots], 0, add * sizeof(*s));
        kept->slots = s;
        for (size_t k = 0; k < add; k++)
            spawn(x, kept, kept->nslots++);
    }
    for (size_t k = 0; k < kept->nslots; k++) {
        struct deploy_slot *s = &kept->slots[k];
        if (s->lost && !s->retired && s->w == DW_EMPTY)
            spawn(x, kept, k);
        s->lost = 0;
    }
    if (deploy_size(kept) != had)
        say(x, DL_INFO, "scale", "gen=%u processes=%zu reason=restored",
            kept->id, deploy_size(kept));
    return 0;
}

/* The swap of a rollback worked: g, the canary or the generation promoted
 * while to was kept, gives way to to. */
static void
rolled_back(struct ctx *x, struct deploy_gen *g, struct deploy_gen *to)
{
    struct deploy *d = x->d;
    struct deploy_rollback *rb = &d->rb;
    unsigned client = rb->client;
    struct deploy_gen *a;
    char text[200];

    rb->client = 0;

    d->route_main = to->id;
    d->route_canary = 0;
    guard(x, 0, 0, 0);
    d->rollbacks[rb->cause]++;
    if (g->state == GEN_CANARY) {
        /* Every new connection to the generation that never stopped
         * serving; the canary keeps what it holds, then drains. */
        g->step_at = 0;
        set_state(x, g, GEV_ROLLBACK);
        d->starting = 0;
        d->rolls_failed++;
        ended(x, g->id, 0, rb->why);
        say(x, DL_WARN, "rollback",
            "gen=%u to=%u during=canary guard=%s reason=%s", g->id, to->id,
            deploy_cause_name(rb->cause), log_q(rb->why));
        answer_waiters(x, g->id, 0, rb->why);
        retire(x, g);
        a = deploy_gen(d, d->active);
        if (!d->stopping && a != NULL && !deploy_has_future(a))
            service_ended(x, a); /* its last exited meanwhile */
        else
            roll_finished(x);
    } else {
        to->keep_at = 0;
        set_state(x, to, GEV_RESTORE);
        set_state(x, g, GEV_ROLLBACK);
        d->active = to->id;
        set_plan(x, to);
        say(x, DL_WARN, "rollback",
            "gen=%u to=%u during=keep_previous guard=%s reason=%s", g->id,
            to->id, deploy_cause_name(rb->cause), log_q(rb->why));
        snprintf(text, sizeof(text),
                 "rolled back from generation %u to %u: %.100s", g->id, to->id,
                 rb->why);
        progress(x, text);
        /* Its roll's outcome, for status: the generation serving is the
         * kept one, and "promoted" would say otherwise. */
        ended(x, g->id, 0, text);
        (void)restore_size(x, to);
        retire(x, g);
    }
    if (client != 0)
        answer(x, client, 1, d->active, "rolled back");
    if (g->id != 0 && g->live == 0 && g->state == GEN_FAILED)
        gen_done(x, g);
}

/* From whom to whom a rollback now goes: a canary back to the active
 * generation, or the active one back to the kept one. -ENOENT: none. */
static int
rollback_pair(struct deploy *d, struct deploy_gen **from,
              struct deploy_gen **to)
{
    struct deploy_gen *g = deploy_gen(d, d->starting);

    if (g != NULL && g->state == GEN_CANARY && d->active != 0) {
        *from = g;
        *to = deploy_gen(d, d->active);
    } else {
        *from = deploy_gen(d, d->active);
        *to = find_state(d, GEN_KEPT);
    }
    return *from != NULL && *to != NULL ? 0 : -ENOENT;
}

/* Traffic back to the previous generation: one swap asked for, and nothing
 * changes until it worked (rolled_back, rollback_failed). client, if any,
 * is answered then. -ENOENT: nothing to roll back to. */
static int
rollback(struct ctx *x, enum deploy_cause cause, const char *why,
         unsigned client)
{
    struct deploy *d = x->d;
    struct deploy_gen *g, *to;

    if (rollback_pair(d, &g, &to) < 0)
        return -ENOENT;
    memset(&d->rb, 0, sizeof(d->rb));
    d->rb.gen = g->id;
    d->rb.cause = cause;
    d->rb.client = client;
    snprintf(d->rb.why, sizeof(d->rb.why), "%s", why);
    d->pending = DP_ROLLBACK;
    d->pending_gen = to->id;
    steer(x, DS_PROMOTE, to->id, 0);
    return 0;
}

static void not_rolled_back(struct ctx *x, struct deploy_gen *g, size_t slot,
                            int status, uint64_t ran);

/*
 * The kernel kept the program it had: g keeps its share and its state.
 * The operator is told; a guard's or a crash's rollback is tried again
 * (the canary holds its step meanwhile), and a crashed slot of an active
 * generation is restarted as if no rollback had been asked for.
 */
static void
rollback_failed(struct ctx *x, struct deploy_gen *g, struct deploy_gen *to,
                int err)
{
    struct deploy_rollback *rb = &x->d->rb;
    char text[240];

    snprintf(text, sizeof(text),
             "the steering program could not be attached (%s): generation %u "
             "keeps its share",
             strerror(-err), g->id);
    say(x, DL_ERROR, "rollback_failed", "gen=%u to=%u guard=%s error=%s%s",
        g->id, to->id, rb->step_failed ? "none" : deploy_cause_name(rb->cause),
        log_q(strerror(-err)),
        rb->cause != DEPLOY_OPERATOR || rb->step_failed ? " retry_ms=1000"
                                                        : "");
    if (rb->client != 0)
        answer(x, rb->client, -1, 0, text);
    rb->client = 0;
    if (rb->cause != DEPLOY_OPERATOR || rb->step_failed) {
        rb->retry_at = x->now + DEPLOY_ROLLBACK_RETRY_MS;
        if (g->state == GEN_CANARY)
            g->step_at = 0;
    }
    if (rb->crashed) {
        rb->crashed = 0;
        not_rolled_back(x, g, rb->slot, rb->status, rb->ran);
    }
}

static void
end_keep(struct ctx *x, struct deploy_gen *kept, const char *why)
{
    kept->keep_at = 0;
    guard(x, 0, 0, 0);
    if (set_state(x, kept, GEV_SUPERSEDED) < 0)
        return;
    say(x, DL_INFO, "kept_end", "gen=%u reason=%s", kept->id, log_q(why));
    retire(x, kept);
}

static void
promote_request(struct ctx *x, unsigned client)
{
    struct deploy *d = x->d;
    struct deploy_gen *g = deploy_gen(d, d->starting), *kept;
    char text[64];

    d->rb.retry_at = 0; /* the operator's word over a guard's */

    if (g != NULL && g->state == GEN_CANARY && d->pending == DP_NONE) {
        if (!deploy_has_future(g)) {
            /* Its processes exited and a rollback's swap failed. */
            answer(x, client, -1, 0,
                   "nothing to promote: the canary has no process left");
            return;
        }
        g->step_at = 0;
        say(x, DL_INFO, "canary_done", "gen=%u steps=%zu/%zu reason=%s", g->id,
            g->step + 1, g->nsteps, log_q("handoff promote"));
        ask_promote(x, g);
        d->pending_client = client; /* answered once the swap is */
        return;
    }
    if ((kept = find_state(d, GEN_KEPT)) != NULL) {
        snprintf(text, sizeof(text), "promoted gen=%u", d->active);
        answer(x, client, 1, d->active, text);
        end_keep(x, kept, "handoff promote");
        return;
    }
    answer(x, client, -1, 0,
           "nothing to promote: no canary under way and "
           "no generation kept");
}

/* The process of g's slot exited during a canary, or while an older
 * generation is kept: a failed guard, and a rollback (unless SIGTTOU
 * retired the slot). 1 if it rolled back. */
static int
crash_rollback(struct ctx *x, struct deploy_gen *g, size_t slot,
               const char *desc, int status, uint64_t ran)
{
    struct deploy_rollback *rb = &x->d->rb;
    char why[160];

    if (g->slots[slot].retired)
        return 0; /* SIGTTOU's: the operator's, not a crash */
    if (g->state == GEN_CANARY)
        snprintf(why, sizeof(why), "a process of the canary exited (%s)", desc);
    else if (g->state == GEN_ACTIVE && find_state(x->d, GEN_KEPT) != NULL)
        snprintf(why, sizeof(why), "a process exited during keep_previous (%s)",
                 desc);
    else
        return 0;
    if (rollback(x, DEPLOY_CRASH, why, 0) < 0)
        return 0;
    rb->crashed = 1;
    rb->slot = slot;
    rb->status = status;
    rb->ran = ran;
    return 1;
}

/* --- workers ------------------------------------------------------------- */

static void
schedule_restart(struct ctx *x, struct deploy_gen *g, size_t i, uint64_t ran)
{
    struct deploy_slot *s = &g->slots[i];
    uint64_t delay;

    if (ran >= DEPLOY_HEALTHY_MS || s->backoff_ms == 0)
        s->backoff_ms = DEPLOY_BACKOFF_FIRST_MS;
    delay = s->backoff_ms;
    s->backoff_ms =
        delay * 2 > DEPLOY_BACKOFF_MAX_MS ? DEPLOY_BACKOFF_MAX_MS : delay * 2;
    s->restarts++;
    x->d->restarts++;
    s->restart_at = x->now + delay;
    say(x, DL_INFO, "restart", "gen=%u slot=%zu delay_ms=%llu", g->id, i,
        (unsigned long long)delay);
}

static void maybe_finish(struct ctx *x);

/* The process of g's slot exited, and no rollback took g's traffic (none
 * to go back to, or its swap failed): it restarts as restart = says, or
 * the service has ended. */
static void
not_rolled_back(struct ctx *x, struct deploy_gen *g, size_t slot, int status,
                uint64_t ran)
{
    struct deploy *d = x->d;
    struct deploy_slot *s = &g->slots[slot];

    if ((g->state != GEN_ACTIVE && g->state != GEN_CANARY) || s->w != DW_EMPTY)
        return;
    if (!s->retired && wants_restart(g->conf.restart, status)) {
        schedule_restart(x, g, slot, ran);
        return;
    }
    s->ended = !s->retired;
    if (!deploy_has_future(g) && d->starting == 0 && !d->stopping)
        service_ended(x, g); /* in a roll, its outcome decides */
}

static void
exited(struct ctx *x, const struct deploy_event *ev)
{
    struct deploy *d = x->d;
    struct deploy_gen *g = deploy_gen(d, ev->gen);
    struct deploy_slot *s;
    const char *desc = ev->text ? ev->text : "exited";
    uint64_t ran;
    int code = reap_exit_code(ev->status);
    char why[400];

    if (g == NULL || ev->slot >= g->nslots || g->slots[ev->slot].w == DW_EMPTY)
        return;
    s = &g->slots[ev->slot];
    ran = x->now - s->started;
    s->w = DW_EMPTY;
    g->live--;
    g->exit_code = code;
    if (d->stopping && g->id == d->stop_gen && !d->have_exit_code)
        d->exit_code =
            reap_stop_code(ev->status, g->conf.drain_signal, d->stop_sig);

    switch (g->state) {
    case GEN_STARTING:
        if (s->retired)
            break; /* SIGTTOU's: not a failure of the roll */
        snprintf(why, sizeof(why), "worker exited before it was ready (%s)%s",
                 desc, ev->hint ? ev->hint : "");
        fail_roll(x, g, GEV_WORKER_EXIT, why, code);
        break;
    case GEN_CANARY:
    case GEN_ACTIVE:
        if (crash_rollback(x, g, ev->slot, desc, ev->status, ran))
            break; /* decided once the rollback's swap is answered */
        not_rolled_back(x, g, ev->slot, ev->status, ran);
        break;
    case GEN_DRAINING:
    case GEN_FAILED:
        if (g->live == 0)
            gen_done(x, g);
        break;
    case GEN_KEPT:
        s->lost = wants_restart(g->conf.restart, ev->status) && !s->retired;
        s->ended = !s->lost && !s->retired;
        if (g->live > 0)
            break;
        g->keep_at = 0;
        guard(x, 0, 0, 0); /* it can return to nothing now */
        say(x, DL_WARN, "kept_end", "gen=%u reason=exited", g->id);
        gen_done(x, g);
        break;
    case GEN_DONE:
        break;
    }
}

static void
ready(struct ctx *x, const struct deploy_event *ev)
{
    struct deploy_gen *g = deploy_gen(x->d, ev->gen);

    if (g == NULL || ev->slot >= g->nslots ||
        g->slots[ev->slot].w != DW_STARTING)
        return;
    g->slots[ev->slot].w = DW_READY;
    if (g->state == GEN_STARTING && all_ready(g))
        gen_ready(x, g);
}

static void
spawn_failed(struct ctx *x, const struct deploy_event *ev)
{
    struct deploy_gen *g = deploy_gen(x->d, ev->gen);
    const char *err = ev->text ? ev->text : "error";
    char why[160];

    if (g == NULL)
        return;
    /* It may have been told to drain meanwhile: it is gone all the same. */
    if (ev->slot < g->nslots && g->slots[ev->slot].w != DW_EMPTY) {
        g->slots[ev->slot].w = DW_EMPTY;
        g->live--;
    } else if (ev->slot != DEPLOY_ALL_SLOTS) {
        return;
    }
    switch (g->state) {
    case GEN_STARTING:
        /* Like a new worker that exits before it is ready: the roll fails
         * whole, and the active generation keeps its every process. */
        snprintf(why, sizeof(why), "cannot start a worker: %s", err);
        fail_roll(x, g, GEV_WORKER_EXIT, why, 1);
        return;
    case GEN_DRAINING:
    case GEN_FAILED:
        if (g->live == 0)
            gen_done(x, g);
        return;
    default:
        break;
    }
    if (ev->slot == DEPLOY_ALL_SLOTS || g->slots[ev->slot].retired)
        return;
    /* One that could not even be forked is tried again with the restart
     * backoff: no exit will ever come to bring it back. */
    say(x, DL_ERROR, "restart_failed", "gen=%u slot=%zu error=%s", g->id,
        ev->slot, log_q(err));
    if (g->state == GEN_KEPT)
        g->slots[ev->slot].lost = 1;
    else
        schedule_restart(x, g, ev->slot, 0);
}

static void
stopping_sent(struct ctx *x, const struct deploy_event *ev)
{
    struct deploy_gen *g = deploy_gen(x->d, ev->gen);

    if (g != NULL && g->state == GEN_STARTING)
        fail_roll(x, g, GEV_WORKER_EXIT, "worker sent STOPPING=1", 1);
}

/* The slot SIGTTOU retires: the last one, but first one with nothing to
 * stop (its process ended, none restarts): retiring a running slot
 * there would leave fewer processes than asked for, and retiring the
 * last with a future would leave none. */
static long
victim(const struct deploy_gen *g)
{
    long last = -1;

    for (size_t j = g->nslots; j-- > 0;) {
        const struct deploy_slot *s = &g->slots[j];
        if (s->retired)
            continue;
        if (s->w == DW_EMPTY && s->restart_at == 0 && !s->lost)
            return (long)j;
        if (last < 0)
            last = (long)j;
    }
    return last;
}

/* SIGTTIN and SIGTTOU: one slot more or less in the active generation and
 * the starting one; later rolls start as many. */
static int
scale(struct ctx *x, int delta)
{
    struct deploy *d = x->d;
    struct deploy_gen *gs[2] = {deploy_gen(d, d->active), NULL}, *st;

    if (d->starting != d->active)
        gs[1] = deploy_gen(d, d->starting);
    for (size_t k = 0; k < 2 && !d->stopping; k++) {
        struct deploy_gen *g = gs[k];
        long i = -1;

        if (g == NULL)
            continue;
        if (delta > 0) {
            struct deploy_slot *s =
                realloc(g->slots, (g->nslots + 1) * sizeof(*s));
            if (s == NULL)
                return -ENOMEM;
            memset(&s[g->nslots], 0, sizeof(*s));
            g->slots = s;
            i = (long)g->nslots++;
        } else if (deploy_size(g) > 1) {
            i = victim(g);
        }
        if (i < 0) {
            say(x, DL_INFO, "scale",
                "gen=%u processes=%zu action=none "
                "reason=minimum",
                g->id, deploy_size(g));
            continue;
        }
        g->slots[i].retired = delta < 0;
        /* What later rolls of the same plan start. */
        for (size_t j = 0; j < DEPLOY_MAX_GENS; j++)
            if (d->gens[j].id != 0 && d->gens[j].conf.plan == g->conf.plan)
                d->gens[j].conf.processes = (unsigned)deploy_size(g);
        if (d->conf.plan == g->conf.plan)
            d->conf.processes = (unsigned)deploy_size(g);
        if (d->have_next && d->next.plan == g->conf.plan)
            d->next.processes = (unsigned)deploy_size(g);
        say(x, DL_INFO, "scale", "gen=%u processes=%zu", g->id, deploy_size(g));
        if (delta > 0) {
            spawn(x, g, (size_t)i);
            continue;
        }
        g->slots[i].restart_at = 0;
        drain_worker(x, g, (size_t)i);
    }
    /* The slot just retired may be all the starting generation waited for. */
    st = deploy_gen(d, d->starting);
    if (st != NULL && st->state == GEN_STARTING && all_ready(st))
        gen_ready(x, st);
    return 0;
}

/* --- the stop ------------------------------------------------------------- */

static void
maybe_finish(struct ctx *x)
{
    struct deploy *d = x->d;

    if (!d->stopping || d->finished)
        return;
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++)
        if (d->gens[i].id != 0)
            return;
    d->finished = 1;
    act(x, DA_EXIT, 0)->code = d->exit_code;
}

static void
stop_now(struct ctx *x, int sig)
{
    struct deploy *d = x->d;

    d->delay_at = 0;
    d->stopping = 1;
    /* A swap's answer no longer matters: who waits for it is told. */
    if (d->pending == DP_ROLLBACK && d->rb.client != 0) {
        answer(x, d->rb.client, 0, 0, "stopping");
        d->rb.client = 0;
    }
    if (d->pending == DP_PROMOTE && d->pending_client != 0) {
        answer(x, d->pending_client, 0, 0, "stopping");
        d->pending_client = 0;
    }
    d->pending = DP_NONE;
    d->rb.retry_at = 0;
    guard(x, 0, 0, 0);
    d->stop_sig = sig;
    /* Generation 1 still starting is all there is: its status counts. */
    d->stop_gen = d->active ? d->active : d->starting;
    for (size_t i = 0; i < d->nqueue; i++)
        for (size_t k = 0; k < d->queue[i].nclients; k++)
            answer(x, d->queue[i].clients[k], 0, 0, "stopping");
    d->nqueue = 0;
    d->have_next = 0;
    say(x, DL_INFO, "stop", "signal=%s timeout_ms=%llu",
        sig ? parse_signal_name(sig) : "none",
        (unsigned long long)d->conf.stop_timeout);
    answer_waiters(x, 0, 0, "stopping");
    act(x, DA_STOPPING, 0);
    d->stop_at = x->now + d->conf.stop_timeout;
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++) {
        struct deploy_gen *g = &d->gens[i];
        /* One superseded, still taking what its queue holds: its drain
         * signal now too, as every worker's, not at drain_delay's end. */
        if (g->id != 0 && g->retire_at != 0) {
            drain_gen(x, g, d->conf.stop_timeout);
            continue;
        }
        if (g->id == 0 || (g->state != GEN_STARTING && g->state != GEN_ACTIVE &&
                           g->state != GEN_CANARY && g->state != GEN_KEPT))
            continue;
        if (d->starting == g->id)
            d->starting = 0;
        set_state(x, g, GEV_STOP);
        drain_gen(x, g, d->conf.stop_timeout);
    }
    maybe_finish(x);
}

static void
stop(struct ctx *x, int sig)
{
    struct deploy *d = x->d;

    if (d->stopping) {
        if (sig != 0)
            say(x, DL_INFO, "stop_pending", "signal=%s",
                parse_signal_name(sig));
        return;
    }
    if (d->delay_at == 0 && sig != 0 && d->conf.stop_delay > 0 &&
        d->active != 0) {
        /* A load balancer still sends traffic for a while after it was told
         * this instance is going: keep serving it. */
        d->delay_sig = sig;
        d->delay_at = x->now + d->conf.stop_delay;
        say(x, DL_INFO, "stop_delay", "signal=%s delay_ms=%llu",
            parse_signal_name(sig), (unsigned long long)d->conf.stop_delay);
        return;
    }
    /* The delay ran out, or a second signal: stop now. */
    stop_now(x, sig);
}

/* --- time ----------------------------------------------------------------- */

static uint64_t
earliest(uint64_t a, uint64_t b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

static uint64_t
retire_due(const struct deploy_gen *g)
{
    if (g->retire_at == 0)
        return 0;
    /* drain_timeout bounds the wait for the queue, and drain_delay too. */
    if (g->queue_empty && g->conf.drain_delay < g->conf.drain_timeout)
        return g->retire_at + g->conf.drain_delay;
    return g->retire_at + g->conf.drain_timeout;
}

uint64_t
deploy_next_deadline(const struct deploy *d)
{
    uint64_t t = 0;

    t = earliest(t, d->delay_at);
    t = earliest(t, d->stop_at);
    t = earliest(t, d->grace_at);
    t = earliest(t, d->rb.retry_at);
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++) {
        const struct deploy_gen *g = &d->gens[i];
        if (g->id == 0)
            continue;
        t = earliest(t, g->ready_at);
        t = earliest(t, retire_due(g));
        t = earliest(t, g->kill_at);
        t = earliest(t, g->step_at);
        t = earliest(t, g->keep_at);
        for (size_t k = 0; k < g->nslots; k++)
            t = earliest(t, g->slots[k].restart_at);
    }
    return t;
}

static int
due(uint64_t at, uint64_t now)
{
    return at != 0 && at <= now;
}

static void
ready_timeout(struct ctx *x, struct deploy_gen *g)
{
    char why[400];
    int silent = 0;

    g->ready_at = 0;
    /* A shim worker that never asked for a socket did not load the shim. */
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i].w == DW_STARTING && g->conf.shim && !g->slots[i].asked)
            silent = 1;
    snprintf(why, sizeof(why),
             "not ready within ready_timeout (%zu of %zu "
             "ready, ready = %s)%s",
             count(g, DW_READY), g->nslots, g->conf.ready,
             silent ? DEPLOY_BYPASS_HINT : "");
    fail_roll(x, g, GEV_READY_TIMEOUT, why, 1);
}

/* One deadline that passed, handled; 0 when none is left. */
static int
one_due(struct ctx *x)
{
    struct deploy_action *a;
    struct deploy *d = x->d;
    uint64_t now = x->now;

    if (due(d->delay_at, now)) {
        stop(x, d->delay_sig);
        return 1;
    }
    if (due(d->grace_at, now)) {
        /* The stop's last word: what the SIGKILL round left does not hold
         * it. */
        d->grace_at = 0;
        say(x, DL_WARN, "stop_abandoned", "grace_ms=%d", DEPLOY_STOP_GRACE_MS);
        d->finished = 1;
        a = act(x, DA_EXIT, 0);
        a->code = d->exit_code;
        a->ok = 1; /* now, whatever is left */
        return 1;
    }
    if (due(d->rb.retry_at, now)) {
        /* Again, if the generation it was for still has the traffic. */
        struct deploy_gen *from, *to;
        char why[sizeof(d->rb.why)];

        d->rb.retry_at = 0;
        memcpy(why, d->rb.why, sizeof(why));
        if (rollback_pair(d, &from, &to) < 0 || from->id != d->rb.gen)
            return 1;
        if (d->rb.step_failed) {
            d->pending = DP_ROLLBACK; /* the same swap back, asked again */
            d->pending_gen = to->id;
            steer(x, DS_PROMOTE, to->id, 0);
        } else {
            (void)rollback(x, d->rb.cause, why, 0);
        }
        return 1;
    }
    if (due(d->stop_at, now)) {
        d->stop_at = 0;
        say(x, DL_WARN, "stop_timeout", "action=SIGKILL");
        for (size_t i = 0; i < DEPLOY_MAX_GENS; i++)
            if (d->gens[i].id != 0)
                kill_gen(x, &d->gens[i], "stop_timeout");
        act(x, DA_KILL_ORPHANS, 0);
        d->grace_at = now + DEPLOY_STOP_GRACE_MS;
        return 1;
    }
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++) {
        struct deploy_gen *g = &d->gens[i];
        if (g->id == 0)
            continue;
        if (due(g->ready_at, now)) {
            if (g->state == GEN_STARTING)
                ready_timeout(x, g);
            else
                g->ready_at = 0;
            return 1;
        }
        if (due(g->kill_at, now)) {
            kill_gen(x, g, "drain_timeout");
            return 1;
        }
        if (due(retire_due(g), now)) {
            say(x, DL_INFO, "retired", "gen=%u retire_ms=%llu", g->id,
                (unsigned long long)(now - g->retire_at));
            drain_gen(x, g, g->conf.drain_timeout);
            return 1;
        }
        if (due(g->step_at, now)) {
            g->step_at = 0;
            if (g->state == GEN_CANARY) {
                g->step++;
                step(x, g);
            }
            return 1;
        }
        if (due(g->keep_at, now)) {
            g->keep_at = 0;
            if (g->state == GEN_KEPT)
                end_keep(x, g, "keep_previous");
            return 1;
        }
        for (size_t k = 0; k < g->nslots; k++) {
            struct deploy_slot *s = &g->slots[k];
            if (!due(s->restart_at, now))
                continue;
            s->restart_at = 0;
            if (g->state == GEN_KEPT && !s->retired)
                s->lost = 1; /* started if traffic returns */
            /* A canary's, after a rollback whose swap failed. */
            if ((g->state == GEN_ACTIVE || g->state == GEN_CANARY) &&
                !d->stopping && !s->retired && s->w == DW_EMPTY)
                spawn(x, g, k);
            else if ((g->state == GEN_DRAINING || g->state == GEN_FAILED) &&
                     !deploy_has_future(g))
                drain_gen(x, g, g->conf.drain_timeout); /* and gone */
            return 1;
        }
    }
    return 0;
}

/* --- the entry ------------------------------------------------------------ */

void
deploy_init(struct deploy *d)
{
    memset(d, 0, sizeof(*d));
}

void
deploy_free(struct deploy *d)
{
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++)
        free(d->gens[i].slots);
    memset(d, 0, sizeof(*d));
}

int
deploy_event(struct deploy *d, const struct deploy_event *ev, uint64_t now,
             struct deploy_out *out)
{
    struct ctx x = {d, now, out};
    struct deploy_gen *g;
    uint64_t next;
    int rc = 0;

    if (d->pending != DP_NONE && ev->kind != DEV_STEERED)
        return -EBUSY; /* the master answers a swap before anything else */
    if (d->finished && ev->kind != DEV_TICK)
        return 0;
    switch (ev->kind) {
    case DEV_START:
        d->conf = *ev->conf;
        start_roll(&x, &(struct deploy_roll){0});
        break;
    case DEV_ROLL:
        roll(&x, ev);
        break;
    case DEV_RELOAD:
        if (d->stopping)
            break;
        d->next = *ev->conf;
        d->have_next = 1;
        roll(&x, ev);
        break;
    case DEV_SCALE:
        rc = scale(&x, ev->delta);
        break;
    case DEV_STOP:
        stop(&x, ev->sig);
        break;
    case DEV_SPAWN_FAILED:
        spawn_failed(&x, ev);
        break;
    case DEV_ASKED:
        if ((g = deploy_gen(d, ev->gen)) != NULL && ev->slot < g->nslots)
            g->slots[ev->slot].asked = 1;
        break;
    case DEV_READY:
        ready(&x, ev);
        break;
    case DEV_STOPPING:
        stopping_sent(&x, ev);
        break;
    case DEV_EXITED:
        exited(&x, ev);
        break;
    case DEV_TICK:
        break;
    case DEV_QUEUE_EMPTY:
        if ((g = deploy_gen(d, ev->gen)) != NULL && g->retire_at != 0)
            g->queue_empty = 1;
        break;
    case DEV_GUARD_FAILED:
        /* A verdict of a guard since stopped is no longer anyone's. */
        if (d->guard_cur != 0 && d->guard_cur == ev->gen)
            (void)rollback(&x, ev->cause, ev->text ? ev->text : "guard", 0);
        break;
    case DEV_STEERED:
        steered(&x, ev->err);
        break;
    case DEV_PROMOTE:
        promote_request(&x, ev->client);
        break;
    case DEV_ROLLBACK:
        if (rollback(&x, DEPLOY_OPERATOR, "handoff rollback", ev->client) < 0)
            answer(&x, ev->client, -1, 0,
                   "nothing to return to: no canary under way and no "
                   "generation kept (keep_previous)");
        break;
    }
    /* Whatever fell due meanwhile, in order, unless a swap is awaited. */
    for (int guard_n = 0;
         d->pending == DP_NONE && guard_n < 10000 && one_due(&x); guard_n++)
        ;
    if (d->stopping)
        maybe_finish(&x);
    next = deploy_next_deadline(d);
    if (next != d->timer_at) {
        d->timer_at = next;
        act(&x, DA_TIMER, 0)->at = next;
    }
    return rc;
}

int
deploy_busy(const struct deploy *d)
{
    if (d->starting != 0 || d->nqueue > 0 || d->pending != DP_NONE ||
        d->stopping || d->delay_at != 0)
        return 1;
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++)
        if (d->gens[i].id != 0 && d->gens[i].state == GEN_CANARY)
            return 1;
    return 0;
}
