/* guard.c: probe a canary (and its predecessor) every guard_interval; roll back
 * on failures or slowness. */
#include "guard.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "canary.h"
#include "latency.h"
#include "log.h"
#include "probe.h"
#include "readiness.h"
#include "state.h"

extern char **environ;

/* One generation's side: its attempt under way and its last time. */
struct side {
    struct guard *gd;
    unsigned gen;
    struct probe_attempt *att;
    uint64_t started;          /* uv_now at att's start */
    unsigned long tick;        /* the tick att (or the last pass) belongs to */
    unsigned long passed_tick; /* the tick of the last pass, 0: none unpaired */
    uint64_t passed_us;
    unsigned long probes, passed;
    char last[64];
};

struct guard {
    const struct guard_ctx *ctx;
    int latency; /* judging latency: a canary against the rest */
    uv_timer_t *timer;
    enum probe_kind kind;
    const char *spec; /* after "kind:" */
    char full[600];   /* the spec as configured, for the log */
    long failures_max;
    uint64_t interval; /* guard_interval, ms */
    double ratio;      /* 0: no latency comparison */
    unsigned fails;    /* in a row, of the newer one */
    uint64_t timeout;  /* ms an attempt may take: probe_exec_timeout() */
    unsigned slow;     /* latency verdicts against it in a row */
    unsigned long ticks;
    struct latency pairs; /* this tick's times of both, once both passed */
    struct side cur, prev;
};

/* guard_latency judges a canary against the generation serving the rest:
 * once promoted, the new one has every client and the kept one none, and
 * their times no longer compare versions (handoff.conf(5)). */
static int
judging_latency(const struct guard *gd)
{
    return gd->ratio > 0 && gd->latency;
}

static void
rollback(struct guard *gd, enum deploy_cause cause, const char *why)
{
    const struct guard_ctx *ctx = gd->ctx;

    /* The guard is freed by the rollback: nothing of it after this. */
    log_event(LOG_WARN, "guard_failed", "gen=%u guard=%s reason=%s",
              gd->cur.gen, log_q(gd->full), log_q(why));
    ctx->failed(ctx->arg, gd->cur.gen, cause, why);
}

/* Once both generations passed the probes of one tick, their times are a
 * pair (taken together, under the same load); each 20 pairs a verdict.
 * Slower is judged like a failure: guard_failures verdicts in a row, each
 * over 20 pairs of its own. It may roll back: nothing of gd after it. */
static void
judge_pair(struct guard *gd)
{
    struct latency *l = &gd->pairs;
    char why[300];

    if (!judging_latency(gd) || gd->cur.passed_tick == 0 ||
        gd->cur.passed_tick != gd->prev.passed_tick)
        return;
    gd->cur.passed_tick = gd->prev.passed_tick = 0;
    if (!latency_add(l, gd->cur.passed_us, gd->prev.passed_us, gd->ratio))
        return;
    log_event(LOG_DEBUG, "guard_latency",
              "gen=%u p95_us=%llu previous=%u "
              "p95_us=%llu slower_pairs=%u/%d slower=%d",
              gd->cur.gen, (unsigned long long)l->p95_cur, gd->prev.gen,
              (unsigned long long)l->p95_prev, l->cur_slower, LATENCY_WINDOW,
              l->slower);
    if (!l->slower) {
        gd->slow = 0;
        return;
    }
    snprintf(
        why, sizeof(why),
        "guard_latency: p95 of gen %u %.1fms > %.2f x gen "
        "%u's %.1fms, slower in %u of %d paired probes (%u of %ld in a row)",
        gd->cur.gen, (double)l->p95_cur / 1000, gd->ratio, gd->prev.gen,
        (double)l->p95_prev / 1000, l->cur_slower, LATENCY_WINDOW, gd->slow + 1,
        gd->failures_max);
    if (++gd->slow < (unsigned)gd->failures_max) {
        gd->ctx->progress(gd->ctx->arg, why);
        return;
    }
    rollback(gd, DEPLOY_LATENCY, why);
}

static void
on_verdict(void *arg, int ok, uint64_t us, const char *what)
{
    struct side *s = arg;
    struct guard *gd = s->gd;
    char why[300];

    s->att = NULL;
    s->probes++;
    snprintf(s->last, sizeof(s->last), "%s %s %.1fms", ok ? "ok" : "failed",
             what, (double)us / 1000);
    log_event(LOG_DEBUG, "guard", "gen=%u ok=%d %s us=%llu", s->gen, ok, what,
              (unsigned long long)us);
    s->passed_tick = ok ? s->tick : 0;
    s->passed_us = us;
    if (ok)
        s->passed++;
    if (s != &gd->cur) {
        judge_pair(gd);
        return;
    }
    if (!ok) {
        snprintf(why, sizeof(why),
                 "guard on gen %u failed: %.60s (%u of %ld in a row)", s->gen,
                 what, gd->fails + 1, gd->failures_max);
        gd->ctx->progress(gd->ctx->arg, why);
    }
    if (!ok && ++gd->fails >= (unsigned)gd->failures_max) {
        snprintf(why, sizeof(why),
                 "guard %.200s failed %u times in a row (last: %.60s)",
                 gd->full, gd->fails, what);
        rollback(gd, DEPLOY_PROBE, why);
        return;
    }
    if (ok)
        gd->fails = 0;
    if (ok)
        judge_pair(gd);
}

/* The environment of an exec: guard: the master's and the generations. */
static char **
exec_env(const struct guard *gd, char *buf, size_t size, char **v, size_t cap)
{
    size_t n = 0;
    int o;

    for (char **e = environ; *e && n + 3 < cap; e++)
        if (strncmp(*e, "HANDOFF_GUARD_", 14) != 0)
            v[n++] = *e;
    o = snprintf(buf, size, "HANDOFF_GUARD_GENERATION=%u", gd->cur.gen);
    v[n++] = buf;
    snprintf(buf + o + 1, size - (size_t)o - 1, "HANDOFF_GUARD_PREVIOUS=%u",
             gd->prev.gen);
    v[n++] = buf + o + 1;
    v[n] = NULL;
    return v;
}

static void
probe_side(struct guard *gd, struct side *s)
{
    char target[600], envbuf[128], what[64];
    char *env[512];
    const struct guard_ctx *ctx = gd->ctx;
    pid_t pid;

    if (s->att != NULL) {
        /* A command's own timer judges it; a connection gets as long, not
         * just guard_interval: a probe slower than a short interval on a
         * busy host is a latency, for guard_latency to judge, not a
         * failure (a version 60 ms slower, probed every 100 ms, was rolled
         * back as "no answer" in 2 of 6 runs). */
        if (gd->kind == PROBE_EXEC ||
            uv_now(ctx->loop) - s->started < gd->timeout)
            return;
        probe_cancel(s->att);
        s->att = NULL;
        snprintf(what, sizeof(what), "err=no answer within %llums",
                 (unsigned long long)gd->timeout);
        on_verdict(s, 0, 0, what);
        return; /* that may have rolled back: the next tick probes */
    }
    pid = ctx->pid_of(ctx->arg, s->gen);
    if (readiness_expand(gd->spec, pid, s->gen, target, sizeof(target)) < 0)
        return;
    s->tick = gd->ticks;
    s->started = uv_now(ctx->loop);
    s->att = probe_start(
        ctx->probes, gd->kind, target,
        gd->kind == PROBE_EXEC ? 0 : ctx->probe_port(ctx->arg, s->gen),
        gd->kind == PROBE_EXEC ? exec_env(gd, envbuf, sizeof(envbuf), env, 512)
                               : NULL,
        gd->timeout, on_verdict, s);
}

static void
on_tick(uv_timer_t *t)
{
    struct guard *gd = t->data;

    if (gd == NULL)
        return;
    gd->ticks++;
    /* The previous one first: the newer one's verdict may roll back, and
     * a rollback frees the guard. */
    if (judging_latency(gd)) {
        /* A pair starts together or not at all: while either is still
         * waiting for its answer, the other does not start alone (its
         * newer time would replace the one the slow side's answer is to
         * be paired with). Each waiting one's timeout still runs. */
        if (gd->prev.att != NULL || gd->cur.att != NULL) {
            if (gd->prev.att != NULL)
                probe_side(gd, &gd->prev);
            if (gd->cur.att != NULL)
                probe_side(gd, &gd->cur);
            return;
        }
        probe_side(gd, &gd->prev);
    }
    probe_side(gd, &gd->cur);
}

struct guard *
guard_start(const struct guard_ctx *ctx, const struct canary_conf *c,
            unsigned gen, unsigned prev, int latency)
{
    struct guard *gd;

    if (c->guard == NULL || (gd = calloc(1, sizeof(*gd))) == NULL)
        return NULL;
    gd->ctx = ctx;
    gd->latency = latency;
    snprintf(gd->full, sizeof(gd->full), "%s", c->guard);
    gd->kind = strncmp(c->guard, "exec:", 5) == 0  ? PROBE_EXEC
               : strncmp(c->guard, "tcp:", 4) == 0 ? PROBE_TCP
               : strncmp(c->guard, "dns:", 4) == 0 ? PROBE_DNS
                                                   : PROBE_HTTP;
    gd->spec = strchr(gd->full, ':') + 1; /* after "kind:" */
    gd->failures_max = c->guard_failures;
    gd->ratio = c->guard_latency;
    gd->cur = (struct side){.gd = gd, .gen = gen};
    gd->prev = (struct side){.gd = gd, .gen = prev};
    gd->timer = handle_timer(ctx->loop, gd);
    gd->interval = c->guard_interval;
    gd->timeout = probe_exec_timeout(gd->interval);
    if (gd->timer == NULL) {
        free(gd);
        return NULL;
    }
    log_event(LOG_INFO, "guard_start",
              "gen=%u previous=%u guard=%s "
              "interval_ms=%llu failures=%ld latency_ratio=%.2f",
              gen, gd->prev.gen, log_q(gd->full),
              (unsigned long long)c->guard_interval, gd->failures_max,
              gd->ratio);
    uv_timer_start(gd->timer, on_tick, c->guard_interval, c->guard_interval);
    return gd;
}

int
guard_watches(const struct guard *gd, unsigned gen, unsigned prev)
{
    return gd != NULL && gd->cur.gen == gen && gd->prev.gen == prev;
}

void
guard_judge_latency(struct guard *gd, int on)
{
    if (gd != NULL)
        gd->latency = on;
}

void
guard_stop(struct guard *gd)
{
    if (gd == NULL)
        return;
    handle_close(gd->timer);
    probe_cancel(gd->cur.att);
    probe_cancel(gd->prev.att);
    log_event(LOG_INFO, "guard_stop", "gen=%u probes=%lu passed=%lu",
              gd->cur.gen, gd->cur.probes, gd->cur.passed);
    free(gd);
}

void
guard_describe(const struct guard *gd, char *buf, size_t size)
{
    if (gd == NULL) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, size,
             "guard gen=%u %s (%lu of %lu passed, %u failed in a "
             "row)%s%s",
             gd->cur.gen, gd->cur.last[0] ? gd->cur.last : "none yet",
             gd->cur.passed, gd->cur.probes, gd->fails,
             gd->ratio > 0 ? "; previous: " : "",
             gd->ratio > 0 ? (gd->prev.last[0] ? gd->prev.last : "none yet")
                           : "");
}

int
guard_busy(const struct guard *gd)
{
    return gd != NULL && (gd->cur.att != NULL || gd->prev.att != NULL);
}

static json_t *
side_write(const struct side *s)
{
    return json_pack("{s:I,s:I,s:s}", "probes", (json_int_t)s->probes, "passed",
                     (json_int_t)s->passed, "last", s->last);
}

json_t *
guard_state_write(const struct guard *gd)
{
    json_t *o;
    int f = 0;

    if (gd == NULL)
        return json_null();
    if ((o = json_object()) == NULL)
        return NULL;
    state_put(o, "fails", state_num(gd->fails), &f);
    state_put(o, "slow", state_num(gd->slow), &f);
    state_put(o, "ticks", state_num((long long)gd->ticks), &f);
    state_put(o, "cur", json_array(), &f);
    state_put(o, "prev", json_array(), &f);
    for (size_t i = 0; !f && i < gd->pairs.n; i++)
        f = json_array_append_new(json_object_get(o, "cur"),
                                  state_num((long long)gd->pairs.cur[i])) < 0 ||
            json_array_append_new(json_object_get(o, "prev"),
                                  state_num((long long)gd->pairs.prev[i])) < 0;
    state_put(o, "sides",
              json_pack("[o,o]", side_write(&gd->cur), side_write(&gd->prev)),
              &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
guard_state_read(struct guard *gd, const json_t *o, char *err, size_t errlen)
{
    struct state_rd r = {.prefix = "guard: ", .err = err, .errlen = errlen};
    struct side *sides[2] = {&gd->cur, &gd->prev};
    unsigned long probes[2], passed[2];
    char last[2][sizeof(gd->cur.last)];
    uint64_t cur[LATENCY_WINDOW], prev[LATENCY_WINDOW];
    const json_t *a, *b, *s;
    unsigned fails, slow;
    unsigned long ticks;
    size_t n, m, ns;

    if (!json_is_object(o)) {
        snprintf(err, errlen, "guard: not an object");
        return -EINVAL;
    }
    fails = (unsigned)state_get(&r, o, "fails", 0, 1000000);
    slow = (unsigned)state_get(&r, o, "slow", 0, 1000000);
    ticks = (unsigned long)state_get(&r, o, "ticks", 0, INT64_MAX);
    a = state_array(&r, o, "cur", LATENCY_WINDOW - 1, &n);
    b = state_array(&r, o, "prev", LATENCY_WINDOW - 1, &m);
    if (!r.failed && n != m)
        state_fault(&r, "prev", "%zu times for %zu", m, n);
    for (size_t i = 0; !r.failed && i < n; i++) {
        cur[i] = (uint64_t)json_integer_value(json_array_get(a, i));
        prev[i] = (uint64_t)json_integer_value(json_array_get(b, i));
        if (!json_is_integer(json_array_get(a, i)) ||
            !json_is_integer(json_array_get(b, i)))
            state_fault(&r, "cur", "[%zu] is not a time in us", i);
    }
    s = state_array(&r, o, "sides", 2, &ns);
    if (!r.failed && ns != 2)
        state_fault(&r, "sides", "not two sides");
    for (size_t i = 0; !r.failed && i < 2; i++) {
        snprintf(r.path, sizeof(r.path), "sides[%zu]", i);
        probes[i] = (unsigned long)state_get(&r, json_array_get(s, i), "probes",
                                             0, INT64_MAX);
        passed[i] = (unsigned long)state_get(&r, json_array_get(s, i), "passed",
                                             0, (long long)probes[i]);
        state_text(&r, json_array_get(s, i), "last", last[i], sizeof(last[i]));
    }
    if (r.failed)
        return -EINVAL;
    gd->fails = fails;
    gd->slow = slow;
    gd->ticks = ticks;
    gd->pairs.n = n;
    memcpy(gd->pairs.cur, cur, n * sizeof(cur[0]));
    memcpy(gd->pairs.prev, prev, n * sizeof(prev[0]));
    for (size_t i = 0; i < 2; i++) {
        sides[i]->probes = probes[i];
        sides[i]->passed = passed[i];
        memcpy(sides[i]->last, last[i], sizeof(last[i]));
    }
    return 0;
}
