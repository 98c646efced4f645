/* livecheck.c: probe the active generation, watch its watchdog pings and its memory, and start its replacement when liveness.c says it failed. */
#include "livecheck.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "log.h"
#include "probe.h"
#include "proc.h"
#include "readiness.h"
#include "state.h"

#define LIVECHECK_MAX_PIDS 4096 /* processes = at most */
#define LIVECHECK_MIN_STEP_MS 5

/* A process that sent WATCHDOG=1, and when it last did. */
struct ping {
    pid_t pid;
    uint64_t at;
};

struct livecheck {
    const struct livecheck_ctx *ctx;
    struct liveness l;
    const struct liveness_conf *from; /* the plan's keys copied below */
    struct liveness_conf c;           /* numbers only: probe is spec */
    char full[600];                   /* liveness = as configured, "" */
    enum probe_kind kind;
    const char *spec; /* after "kind:" */
    uv_timer_t *timer;
    uint64_t probe_at, rss_at; /* the next probe, the next reading */
    struct probe_attempt *att;
    uint64_t started; /* att's start */
    char last[80];    /* the last probe's verdict, for status */
    struct ping *pings;
    size_t npings, cap;
};

static const char *const action_names[] = {"roll", "restart"};

/* The check as the operator wrote it: a URL without the "http:" it is
 * kept with. */
static const char *
shown(const struct livecheck *lc)
{
    return strncmp(lc->full, "http:http", 9) == 0 ? lc->full + 5 : lc->full;
}

/* gen failed: count it, and replace it unless liveness.c says wait. */
static void
fail(struct livecheck *lc, enum liveness_reason why, pid_t pid,
     const char *what)
{
    const struct livecheck_ctx *ctx = lc->ctx;
    uint64_t now = uv_now(ctx->loop);
    unsigned gen = lc->l.gen, made;

    log_event(LOG_WARN, "liveness_failed", "gen=%u reason=%s pid=%d what=%s",
              gen, liveness_reason_name(why), (int)pid, log_q(what));
    switch (liveness_failed(&lc->l, gen, why, ctx->busy(ctx->arg), now)) {
    case LIVENESS_REPLACE:
        log_event(LOG_WARN, "replace", "gen=%u reason=%s action=%s pid=%d", gen,
                  liveness_reason_name(why), action_names[lc->c.action],
                  (int)pid);
        made = ctx->replace(ctx->arg, gen, (enum liveness_action)lc->c.action,
                            pid);
        if (lc->c.action == LIVENESS_ROLL && made == 0) {
            /* Refused or failed at once: as a failed replacement. */
            liveness_replacing(&lc->l, 0, now);
            log_event(LOG_WARN, "replace_failed",
                      "gen=%u reason=%s backoff_ms=%llu", gen,
                      liveness_reason_name(why),
                      (unsigned long long)(lc->l.retry_at - now));
            return;
        }
        liveness_replacing(&lc->l, made, now);
        break;
    case LIVENESS_BUSY:
        log_event(LOG_INFO, "replace_deferred", "gen=%u reason=%s during=roll",
                  gen, liveness_reason_name(why));
        break;
    case LIVENESS_BACKOFF:
        log_event(LOG_INFO, "replace_deferred",
                  "gen=%u reason=%s retry_in_ms=%llu", gen,
                  liveness_reason_name(why),
                  (unsigned long long)(lc->l.retry_at - now));
        break;
    case LIVENESS_STALE:
        break;
    }
}

static void
on_verdict(void *arg, int ok, uint64_t us, const char *what)
{
    struct livecheck *lc = arg;
    char why[200];

    lc->att = NULL;
    snprintf(lc->last, sizeof(lc->last), "%s %s %.1fms", ok ? "ok" : "failed",
             what, (double)us / 1000);
    log_event(LOG_DEBUG, "liveness", "gen=%u ok=%d %s us=%llu", lc->l.gen, ok,
              what, (unsigned long long)us);
    if (!liveness_probe(&lc->l, lc->l.gen, ok, lc->c.failures))
        return;
    snprintf(why, sizeof(why), "%u failed in a row (last: %.60s)", lc->l.fails,
             what);
    fail(lc, LIVENESS_PROBE, 0, why);
}

static void
probe(struct livecheck *lc, uint64_t now)
{
    const struct livecheck_ctx *ctx = lc->ctx;
    char target[600], what[64];
    unsigned gen = lc->l.gen;
    pid_t pid = 0;

    if (lc->att != NULL) {
        /* A command's own timer judges it; a connection or a query gets
         * liveness_timeout. */
        if (lc->kind == PROBE_EXEC || now - lc->started < lc->c.timeout)
            return;
        probe_cancel(lc->att);
        lc->att = NULL;
        snprintf(what, sizeof(what), "err=no answer within %llums",
                 (unsigned long long)lc->c.timeout);
        on_verdict(lc, 0, (now - lc->started) * 1000, what);
        /* The next one at its time, which may be now: unless the verdict
         * started a replacement. */
        if (lc->l.gen != gen || lc->l.replacing != 0)
            return;
    }
    if (now < lc->probe_at)
        return;
    /* Every interval from the last start: a probe that timed out within
     * its interval does not delay the next. */
    lc->probe_at = lc->probe_at + lc->c.interval > now
                       ? lc->probe_at + lc->c.interval
                       : now + lc->c.interval;
    ctx->pids(ctx->arg, lc->l.gen, &pid, 1);
    if (readiness_expand(lc->spec, pid, lc->l.gen, target, sizeof(target)) < 0)
        return;
    lc->started = now;
    lc->att = probe_start(
        ctx->probes, lc->kind, target,
        lc->kind == PROBE_EXEC ? 0 : ctx->probe_port(ctx->arg, lc->l.gen), NULL,
        lc->c.timeout, on_verdict, lc);
}

static int
has_pid(const pid_t *pids, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return 1;
    return 0;
}

/* A process silent past watchdog fails once; its next ping watches it
 * again. One that exited is forgotten (restart = sees to it). */
static int
watchdog(struct livecheck *lc, uint64_t now, const pid_t *pids, size_t n)
{
    char what[80];

    for (size_t i = 0; i < lc->npings; i++) {
        struct ping p = lc->pings[i];

        if (has_pid(pids, n, p.pid) && now - p.at <= lc->c.watchdog)
            continue;
        lc->pings[i--] = lc->pings[--lc->npings];
        if (!has_pid(pids, n, p.pid))
            continue;
        snprintf(what, sizeof(what),
                 "no WATCHDOG=1 for %llums (watchdog %llums)",
                 (unsigned long long)(now - p.at),
                 (unsigned long long)lc->c.watchdog);
        fail(lc, LIVENESS_WATCHDOG, p.pid, what);
        return 1;
    }
    return 0;
}

/* The first process found above max_rss in the groups the workers lead
 * (their children included). */
struct over {
    const pid_t *leaders;
    size_t n;
    unsigned long long max;
    pid_t pid;
    struct proc_stat st;
};

static int
above(void *arg, pid_t pid)
{
    struct over *o = arg;

    if (proc_stat(pid, &o->st) < 0 || !has_pid(o->leaders, o->n, o->st.pgrp) ||
        o->st.rss_bytes <= o->max)
        return 0;
    o->pid = pid;
    return 1;
}

static int
rss(struct livecheck *lc, const pid_t *pids, size_t n)
{
    struct over o = {pids, n, lc->c.max_rss, 0, {0}};
    char what[120];

    if (!proc_each(above, &o))
        return 0;
    snprintf(what, sizeof(what),
             "pid %d has %llu bytes resident (max_rss %llu)", (int)o.pid,
             o.st.rss_bytes, o.max);
    fail(lc, LIVENESS_MAX_RSS, o.st.pgrp, what);
    return 1;
}

static void
on_tick(uv_timer_t *t)
{
    struct livecheck *lc = t->data;
    const struct livecheck_ctx *ctx = lc->ctx;
    uint64_t now = uv_now(ctx->loop);
    pid_t pids[LIVECHECK_MAX_PIDS];
    size_t n;

    if (lc->l.gen == 0)
        return;
    /* Its replacement is under way: a verdict now would change nothing. */
    if (lc->l.replacing != 0) {
        probe_cancel(lc->att);
        lc->att = NULL;
        lc->probe_at = lc->rss_at = now + lc->c.interval;
        return;
    }
    /* One verdict a tick: a replacement may change what is judged. */
    if (lc->c.watchdog != 0 || lc->c.max_rss != 0) {
        n = ctx->pids(ctx->arg, lc->l.gen, pids, LIVECHECK_MAX_PIDS);
        if (lc->c.watchdog != 0 && watchdog(lc, now, pids, n))
            return;
        if (lc->c.max_rss != 0 && now >= lc->rss_at) {
            lc->rss_at = now + lc->c.interval;
            if (rss(lc, pids, n))
                return;
        }
    }
    if (lc->full[0] != '\0')
        probe(lc, now);
}

struct livecheck *
livecheck_new(const struct livecheck_ctx *ctx)
{
    struct livecheck *lc = calloc(1, sizeof(*lc));

    if (lc == NULL)
        return NULL;
    lc->ctx = ctx;
    liveness_init(&lc->l);
    if ((lc->timer = handle_timer(ctx->loop, lc)) == NULL) {
        free(lc);
        return NULL;
    }
    return lc;
}

void
livecheck_free(struct livecheck *lc)
{
    if (lc == NULL)
        return;
    probe_cancel(lc->att);
    handle_close(lc->timer);
    free(lc->pings);
    free(lc);
}

void
livecheck_judge(struct livecheck *lc, unsigned gen,
                const struct liveness_conf *c)
{
    uint64_t now, step;

    if (lc == NULL)
        return;
    if (c == NULL || !liveness_conf_active(c))
        gen = 0;
    if (gen == lc->l.gen && c == lc->from)
        return;
    probe_cancel(lc->att);
    lc->att = NULL;
    if (gen != lc->l.gen) {
        lc->npings = 0;
        lc->last[0] = '\0';
    } /* else the same generation, its keys new to this image (upgrade) */
    lc->from = gen ? c : NULL;
    liveness_judge(&lc->l, gen);
    uv_timer_stop(lc->timer);
    if (gen == 0) {
        lc->full[0] = '\0';
        return;
    }
    lc->c = *c;
    lc->c.probe = lc->c.max_rss_spec = NULL; /* not ours to keep */
    snprintf(lc->full, sizeof(lc->full), "%s", c->probe ? c->probe : "");
    lc->kind = strncmp(lc->full, "exec:", 5) == 0  ? PROBE_EXEC
               : strncmp(lc->full, "tcp:", 4) == 0 ? PROBE_TCP
               : strncmp(lc->full, "dns:", 4) == 0 ? PROBE_DNS
                                                   : PROBE_HTTP;
    lc->spec = c->probe ? strchr(lc->full, ':') + 1 : lc->full;
    /* The timer's step: fine enough for each deadline it watches. */
    step = c->interval;
    if (c->probe != NULL && c->timeout < step)
        step = c->timeout;
    if (c->watchdog != 0 && c->watchdog / 4 < step)
        step = c->watchdog / 4;
    if (step < LIVECHECK_MIN_STEP_MS)
        step = LIVECHECK_MIN_STEP_MS;
    now = uv_now(lc->ctx->loop);
    lc->probe_at = lc->rss_at = now + c->interval;
    log_event(LOG_INFO, "liveness_start",
              "gen=%u liveness=%s interval_ms=%llu failures=%ld "
              "watchdog_ms=%llu max_rss=%llu action=%s",
              gen, log_q(shown(lc)), (unsigned long long)c->interval,
              c->failures, (unsigned long long)c->watchdog,
              (unsigned long long)c->max_rss, action_names[c->action]);
    uv_timer_start(lc->timer, on_tick, step, step);
}

void
livecheck_roll_ended(struct livecheck *lc, unsigned gen, int ok)
{
    uint64_t wait;

    if (lc == NULL)
        return;
    wait = liveness_roll_ended(&lc->l, gen, ok, uv_now(lc->ctx->loop));
    if (wait != 0)
        log_event(LOG_WARN, "replace_failed",
                  "gen=%u reason=%s replacing=%u backoff_ms=%llu", gen,
                  liveness_reason_name(lc->l.why), lc->l.replaced,
                  (unsigned long long)wait);
}

void
livecheck_watchdog(struct livecheck *lc, unsigned gen, pid_t pid, int trigger)
{
    struct ping *p;

    if (lc == NULL || gen == 0 || gen != lc->l.gen || lc->c.watchdog == 0)
        return;
    if (trigger) {
        fail(lc, LIVENESS_WATCHDOG, pid, "WATCHDOG=trigger");
        return;
    }
    for (size_t i = 0; i < lc->npings; i++)
        if (lc->pings[i].pid == pid) {
            lc->pings[i].at = uv_now(lc->ctx->loop);
            return;
        }
    if (lc->npings == lc->cap) {
        size_t cap = lc->cap ? lc->cap * 2 : 16;
        if (cap > LIVECHECK_MAX_PIDS ||
            (p = realloc(lc->pings, cap * sizeof(*p))) == NULL)
            return; /* not watched: more than processes = allows */
        lc->pings = p;
        lc->cap = cap;
    }
    lc->pings[lc->npings++] = (struct ping){pid, uv_now(lc->ctx->loop)};
}

json_t *
livecheck_state_write(const struct livecheck *lc)
{
    const struct liveness *l = &lc->l;
    json_t *o = json_object(), *pings = json_array();
    unsigned f[LIVENESS_NREASONS], r[LIVENESS_NREASONS];
    int failed = o == NULL;

    for (size_t i = 0; pings != NULL && i < lc->npings; i++)
        if (json_array_append_new(
                pings, json_pack("[I,I]", (json_int_t)lc->pings[i].pid,
                                 (json_int_t)lc->pings[i].at)) < 0)
            failed = 1;
    for (int i = 0; i < LIVENESS_NREASONS; i++) {
        f[i] = (unsigned)l->failures[i];
        r[i] = (unsigned)l->replacements[i];
    }
    if (failed) {
        json_decref(o);
        json_decref(pings);
        return NULL;
    }
    state_put(o, "gen", state_num(l->gen), &failed);
    state_put(o, "fails", state_num(l->fails), &failed);
    state_put(o, "replacing", state_num(l->replacing), &failed);
    state_put(o, "replaced", state_num(l->replaced), &failed);
    state_put(o, "why", state_num(l->why), &failed);
    state_put(o, "backoff_ms", state_num((long long)l->backoff_ms), &failed);
    state_put(o, "retry_at", state_num((long long)l->retry_at), &failed);
    state_put(o, "failures", state_numbers(f, LIVENESS_NREASONS), &failed);
    state_put(o, "replacements", state_numbers(r, LIVENESS_NREASONS), &failed);
    state_put(o, "pings", pings, &failed);
    if (failed) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
livecheck_state_read(struct livecheck *lc, const json_t *o, char *err,
                     size_t errlen)
{
    struct state_rd r = {.prefix = "liveness: ", .err = err, .errlen = errlen};
    struct liveness l;
    const json_t *f, *rp, *pg;
    struct ping *pings = NULL;
    size_t nf, nr, np;

    if (json_is_null(o) || o == NULL)
        return 0; /* an image from before liveness, or none to carry */
    if (!json_is_object(o)) {
        snprintf(err, errlen, "liveness: not an object");
        return -EINVAL;
    }
    liveness_init(&l);
    l.gen = (unsigned)state_get(&r, o, "gen", 0, UINT32_MAX);
    l.fails = (unsigned)state_get(&r, o, "fails", 0, UINT32_MAX);
    l.replacing = (unsigned)state_get(&r, o, "replacing", 0, UINT32_MAX);
    l.replaced = (unsigned)state_get(&r, o, "replaced", 0, UINT32_MAX);
    l.why =
        (enum liveness_reason)state_get(&r, o, "why", 0, LIVENESS_NREASONS - 1);
    l.backoff_ms =
        (uint64_t)state_get(&r, o, "backoff_ms", LIVENESS_BACKOFF_FIRST_MS,
                            LIVENESS_BACKOFF_MAX_MS);
    l.retry_at = (uint64_t)state_get(&r, o, "retry_at", 0, INT64_MAX);
    f = state_array(&r, o, "failures", LIVENESS_NREASONS, &nf);
    rp = state_array(&r, o, "replacements", LIVENESS_NREASONS, &nr);
    pg = state_array(&r, o, "pings", LIVECHECK_MAX_PIDS, &np);
    if (!r.failed && (nf != LIVENESS_NREASONS || nr != LIVENESS_NREASONS))
        state_fault(&r, "failures", "not %d reasons", LIVENESS_NREASONS);
    for (size_t i = 0; !r.failed && i < LIVENESS_NREASONS; i++) {
        json_int_t a = json_integer_value(json_array_get(f, i));
        json_int_t b = json_integer_value(json_array_get(rp, i));
        if (a < 0 || b < 0)
            state_fault(&r, "failures", "[%zu] is not a count", i);
        l.failures[i] = (unsigned long)a;
        l.replacements[i] = (unsigned long)b;
    }
    if (!r.failed && np > 0 && (pings = calloc(np, sizeof(*pings))) == NULL)
        state_fault(&r, "pings", "out of memory");
    for (size_t i = 0; !r.failed && i < np; i++) {
        json_int_t pid = 0, at = -1;
        if (json_unpack(json_array_get(pg, i), "[II]", &pid, &at) < 0 ||
            pid <= 0 || pid > INT32_MAX || at < 0)
            state_fault(&r, "pings", "[%zu] is not [pid, time]", i);
        else
            pings[i] = (struct ping){(pid_t)pid, (uint64_t)at};
    }
    if (r.failed) {
        free(pings);
        return -EINVAL;
    }
    free(lc->pings);
    lc->l = l;
    lc->pings = pings;
    lc->npings = lc->cap = np;
    lc->from = NULL; /* livecheck_judge takes this image's keys */
    return 0;
}

const struct liveness *
livecheck_state(const struct livecheck *lc)
{
    return &lc->l;
}

void
livecheck_describe(const struct livecheck *lc, char *buf, size_t size)
{
    unsigned long n = 0;
    int o;

    if (size == 0)
        return;
    buf[0] = '\0';
    if (lc == NULL || lc->l.gen == 0)
        return;
    for (int r = 0; r < LIVENESS_NREASONS; r++)
        n += lc->l.replacements[r];
    o = snprintf(buf, size, "gen %u", lc->l.gen);
    if (o > 0 && (size_t)o < size && lc->full[0] != '\0')
        o += snprintf(buf + o, size - (size_t)o,
                      ", %s every %llums: %s, %u "
                      "failed in a row",
                      shown(lc), (unsigned long long)lc->c.interval,
                      lc->last[0] ? lc->last : "not probed yet", lc->l.fails);
    if (o > 0 && (size_t)o < size && lc->c.watchdog != 0)
        o += snprintf(buf + o, size - (size_t)o,
                      ", watchdog %llums (%zu "
                      "watched)",
                      (unsigned long long)lc->c.watchdog, lc->npings);
    if (o > 0 && (size_t)o < size && lc->c.max_rss != 0)
        o += snprintf(buf + o, size - (size_t)o, ", max_rss %llu",
                      (unsigned long long)lc->c.max_rss);
    if (o > 0 && (size_t)o < size)
        snprintf(buf + o, size - (size_t)o, ", %lu replacement%s%s", n,
                 n == 1 ? "" : "s", lc->l.replacing ? " (one under way)" : "");
}
