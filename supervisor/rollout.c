/* rollout.c: canary steps, keep_previous and rollback, as changes of the steering plan. */
#include "rollout.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "canary.h"
#include "control.h"
#include "drain.h"
#include "guard.h"
#include "handle.h"
#include "log.h"
#include "master.h"
#include "scale.h"
#include "sdnotify.h"
#include "traffic.h"

static struct gen *
find_state(const struct master *m, enum gen_state s)
{
    for (struct gen *g = m->gens; g; g = g->next)
        if (g->state == s)
            return g;
    return NULL;
}

static void on_step(uv_timer_t *t);

/* Step g->step of g's canary, or its promotion after the last. */
static void
step(struct master *m, struct gen *g)
{
    const struct canary_step *st;
    char text[160];
    int rc;

    if (g->step >= g->nsteps) {
        log_event(LOG_INFO, "canary_done", "gen=%u steps=%zu", g->id, g->nsteps);
        master_promote(m, g);
        return;
    }
    st = &g->steps[g->step];
    /* A step the kernel refuses is not taken (traffic_share put the
     * previous shares back): the canary fails and rolls back, as a refused
     * promotion does, rather than go on with shares nobody asked for. */
    if ((rc = traffic_share(m, g, m->active, st->bps)) < 0) {
        snprintf(text, sizeof(text), "canary step %zu of %zu", g->step + 1,
                 g->nsteps);
        master_swap_failed(m, g, rc, text);
        return;
    }
    log_event(LOG_INFO, "canary", "gen=%u old=%u step=%zu/%zu share_bps=%u "
              "for_ms=%llu", g->id, m->active->id, g->step + 1, g->nsteps,
              st->bps, (unsigned long long)st->ms);
    snprintf(text, sizeof(text), "canary: generation %u gets %u.%02u%% of "
             "client addresses (step %zu of %zu)", g->id, st->bps / 100,
             st->bps % 100, g->step + 1, g->nsteps);
    sdnotify_status(m->sdnotify, text);
    control_roll_progress(m, text);
    uv_timer_start(g->rollout_timer, on_step, st->ms, 0);
}

static void
on_step(uv_timer_t *t)
{
    struct gen *g = t->data;

    if (g == NULL || g->state != GEN_CANARY)
        return;
    g->step++;
    step(g->master, g);
}

int
rollout_ready(struct master *m, struct gen *g)
{
    if (g->nsteps == 0 || m->active == NULL || !traffic_steered(g) ||
        master_set_state(g, GEV_CANARY) < 0)
        return 0;
    uv_timer_stop(g->timer); /* ready_timeout is over */
    g->step = 0;
    guard_stop(m->guard);
    m->guard = guard_start(m, g, m->active);
    step(m, g);
    return 1;
}

/*
 * The kept generation serves again: at the size asked for meanwhile
 * (SIGTTIN and SIGTTOU set its configuration's processes when it is the
 * active one's too), with the processes it lost while kept started again
 * (no restart runs for a kept generation).
 */
static void
restore_size(struct master *m, struct gen *kept)
{
    const struct config *c = kept->plan->cfg;
    size_t want = (size_t)c->processes, had = scale_count(kept);
    long i;

    while (scale_count(kept) > want && (i = scale_victim(kept)) >= 0) {
        kept->slots[i].retired = 1;
        if (kept->slots[i].w != NULL)
            drain_worker(kept->slots[i].w, c->drain_signal);
    }
    while (scale_count(kept) < want && (i = scale_grow(kept)) >= 0)
        master_start_slot(m, kept, (size_t)i);
    for (size_t k = 0; k < kept->nslots; k++) {
        struct slot *s = &kept->slots[k];
        if (s->lost && !s->retired && s->w == NULL)
            master_start_slot(m, kept, k);
        s->lost = 0;
    }
    if (scale_count(kept) != had)
        log_event(LOG_INFO, "scale", "gen=%u processes=%zu reason=restored",
                  kept->id, scale_count(kept));
}

static void
end_keep(struct master *m, struct gen *kept, const char *why)
{
    uv_timer_stop(kept->rollout_timer);
    guard_stop(m->guard);
    m->guard = NULL;
    if (master_set_state(kept, GEV_SUPERSEDED) < 0)
        return;
    log_event(LOG_INFO, "kept_end", "gen=%u reason=%s", kept->id, why);
    drain_retire(m, kept);
}

static void
on_keep_end(uv_timer_t *t)
{
    struct gen *kept = t->data;

    if (kept != NULL && kept->state == GEN_KEPT)
        end_keep(kept->master, kept, "keep_previous");
}

void
rollout_kept_exit(struct master *m, struct gen *kept, size_t slot, int restart)
{
    kept->slots[slot].lost = restart && !kept->slots[slot].retired;
    if (kept->live > 0)
        return;
    uv_timer_stop(kept->rollout_timer);
    guard_stop(m->guard); /* it can return to nothing now */
    m->guard = NULL;
    log_event(LOG_WARN, "kept_end", "gen=%u reason=exited", kept->id);
    master_gen_done(m, kept);
}

int
rollout_promoted(struct master *m, struct gen *g, struct gen *old)
{
    uint64_t keep = g->plan->cfg->canary.keep_previous;

    /* One with no process and none to restart (restart = never) is not
     * kept: a rollback to it would serve nothing, and nothing would end. */
    if (keep == 0 || old == NULL || !traffic_steered(old) ||
        !gen_has_future(old) || master_set_state(old, GEV_KEEP) < 0) {
        guard_stop(m->guard); /* the canary, if any, is over */
        m->guard = NULL;
        return 0;
    }
    log_event(LOG_INFO, "kept", "gen=%u for_ms=%llu", old->id,
              (unsigned long long)keep);
    if (m->guard == NULL)
        m->guard = guard_start(m, g, old);
    uv_timer_start(old->rollout_timer, on_keep_end, keep, 0);
    return 1;
}

const char *
rollout_cause_name(enum rollout_cause cause)
{
    static const char *const names[ROLLOUT_NCAUSES] = {
        [ROLLOUT_CRASH] = "crash", [ROLLOUT_PROBE] = "probe",
        [ROLLOUT_LATENCY] = "latency", [ROLLOUT_OPERATOR] = "operator",
    };

    return (unsigned)cause < ROLLOUT_NCAUSES ? names[cause] : "unknown";
}

int
rollout_rollback(struct master *m, enum rollout_cause cause, const char *why)
{
    struct gen *g = m->starting, *kept;
    char text[200];

    if (g != NULL && g->state == GEN_CANARY && m->active != NULL) {
        /* One swap: every new connection to the generation that never
         * stopped serving; the canary keeps what it holds, then drains. */
        traffic_promote(m, m->active);
        uv_timer_stop(g->rollout_timer);
        master_set_state(g, GEV_ROLLBACK);
        guard_stop(m->guard);
        m->guard = NULL;
        m->starting = NULL;
        m->rolls_failed++;
        m->rollbacks[cause]++;
        log_event(LOG_WARN, "rollback", "gen=%u to=%u during=canary guard=%s "
                  "reason=%s mono_us=%llu", g->id, m->active->id,
                  rollout_cause_name(cause), log_q(why),
                  (unsigned long long)(master_now() / 1000));
        control_roll_ended(m, g, why);
        sdnotify_roll_ended(m->sdnotify, m->active->id, m->active->live, g->id,
                            why);
        drain_retire(m, g);
        if (!m->stopping && !gen_has_future(m->active))
            master_service_ended(m, m->active); /* its last exited meanwhile */
        else
            master_roll_finished(m);
        return 0;
    }
    kept = find_state(m, GEN_KEPT);
    if (kept == NULL || (g = m->active) == NULL)
        return -ENOENT;
    traffic_promote(m, kept);
    uv_timer_stop(kept->rollout_timer);
    guard_stop(m->guard);
    m->guard = NULL;
    master_set_state(kept, GEV_RESTORE);
    master_set_state(g, GEV_ROLLBACK);
    master_restore(m, kept);
    m->rollbacks[cause]++;
    log_event(LOG_WARN, "rollback", "gen=%u to=%u during=keep_previous "
              "guard=%s reason=%s mono_us=%llu", g->id, kept->id,
              rollout_cause_name(cause), log_q(why),
              (unsigned long long)(master_now() / 1000));
    snprintf(text, sizeof(text), "rolled back from generation %u to %u: %.100s",
             g->id, kept->id, why);
    sdnotify_status(m->sdnotify, text);
    control_roll_ended(m, g, text); /* its roll's outcome, for status */
    restore_size(m, kept);
    drain_retire(m, g);
    return 0;
}

int
rollout_promote(struct master *m)
{
    struct gen *g = m->starting, *kept;

    if (g != NULL && g->state == GEN_CANARY) {
        uv_timer_stop(g->rollout_timer);
        log_event(LOG_INFO, "canary_done", "gen=%u steps=%zu/%zu reason=%s",
                  g->id, g->step + 1, g->nsteps, "handoff promote");
        master_promote(m, g);
        return 0;
    }
    if ((kept = find_state(m, GEN_KEPT)) != NULL) {
        end_keep(m, kept, "handoff promote");
        return 0;
    }
    return -ENOENT;
}

int
rollout_worker_exit(struct master *m, struct gen *g, size_t slot,
                    const char *desc)
{
    char why[160];

    if (g->slots[slot].retired) {
        return 0; /* SIGTTOU's: the operator's, not a crash */
    } else if (g->state == GEN_CANARY) {
        snprintf(why, sizeof(why), "a process of the canary exited (%s)", desc);
    } else if (g->state == GEN_ACTIVE && find_state(m, GEN_KEPT) != NULL) {
        snprintf(why, sizeof(why), "a process exited during keep_previous (%s)",
                 desc);
    } else {
        return 0;
    }
    if (rollout_rollback(m, ROLLOUT_CRASH, why) < 0)
        return 0;
    if (g->live == 0)
        master_gen_done(m, g);
    return 1;
}

int
rollout_roll_canary(struct master *m, const char *spec, char *err,
                    size_t errlen)
{
    struct canary_step steps[CANARY_MAX_STEPS]; /* m's only once valid */
    size_t n = 0;
    int same;

    if (canary_parse_steps(spec, steps, CANARY_MAX_STEPS, &n, err, errlen) < 0)
        return -EINVAL;
    same = m->roll_nsteps == n;
    for (size_t i = 0; same && i < n; i++)
        same = steps[i].bps == m->roll_steps[i].bps &&
               steps[i].ms == m->roll_steps[i].ms;
    /* Queued rolls coalesce into one: another canary for it would replace
     * the steps a waiting client asked for, behind its back. */
    if (m->roll_nsteps != 0 && !same) {
        snprintf(err, errlen,
                 "the roll queued after generation %u already has another "
                 "canary; ask again once it has started",
                 m->starting ? m->starting->id : 0);
        return -EBUSY;
    }
    memcpy(m->roll_steps, steps, n * sizeof(*steps));
    m->roll_nsteps = n;
    return 0;
}

void
rollout_roll_starting(struct master *m)
{
    struct gen *kept = find_state(m, GEN_KEPT);

    if (kept != NULL)
        end_keep(m, kept, "new roll");
}

void
rollout_stop(struct master *m)
{
    guard_stop(m->guard);
    m->guard = NULL;
    for (struct gen *g = m->gens; g; g = g->next)
        uv_timer_stop(g->rollout_timer);
}

void
rollout_describe(const struct master *m, const struct gen *g, char *buf,
                 size_t size)
{
    const struct steer_route *r = steer_plan_find(&m->steering, g->id);
    unsigned share = r ? r->share : 0;

    if (g->state == GEN_CANARY)
        snprintf(buf, size, "share=%u.%02u%% step=%zu/%zu", share / 100,
                 share % 100, g->step + 1, g->nsteps);
    else if (g->state == GEN_KEPT)
        snprintf(buf, size, "share=0%% kept");
    else if (r != NULL)
        snprintf(buf, size, "share=%u.%02u%%", share / 100, share % 100);
    else
        buf[0] = '\0';
}
