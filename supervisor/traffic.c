/* traffic.c: keep every steered listener's reuseport group in step with the
 * master's plan. */
#include "traffic.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "generation.h"
#include "plan.h"

struct apply_ctx {
    struct steer_plan *sp;
    int rc; /* the first group's refusal */
};

static void
apply(struct listener *l, void *arg)
{
    struct apply_ctx *a = arg;
    int rc;

    if (l->steer == NULL)
        return;
    if ((rc = steer_apply(l->steer, a->sp)) < 0) {
        log_event(LOG_ERROR, "steer_failed", "name=%s error=%s", log_q(l->name),
                  log_q(strerror(-rc)));
        if (a->rc == 0)
            a->rc = rc;
    }
}

/* The plan in force, in every steered listener of a live plan, once. */
static int
apply_all(struct traffic *t)
{
    struct plan *plans[TRAFFIC_MAX_PLANS];
    size_t np = t->plans(t->arg, plans, TRAFFIC_MAX_PLANS);
    struct apply_ctx a = {t->sp, 0};

    plan_each_listener(plans, np, apply, &a);
    return a.rc;
}

/*
 * The plan changed from before: every group follows it, or, when one
 * refuses its program, every group goes back to before, so that where
 * connections go and what the master believes stay one and the same.
 */
static int
apply_or_undo(struct traffic *t, const struct steer_plan *before)
{
    int rc = apply_all(t);

    if (rc < 0) {
        *t->sp = *before;
        (void)apply_all(t); /* the groups that took the new program */
    }
    return rc;
}

int
traffic_join(struct traffic *t, struct gen *g)
{
    unsigned lo, hi;
    int rc;

    if (!traffic_steered(g))
        return 0;
    if ((rc = steer_plan_add(t->sp, g->id)) < 0)
        return rc;
    for (size_t i = 0; i < g->plan->nls; i++) {
        struct listener *l = g->plan->ls[i];
        if (l->steer != NULL && (rc = steer_join(l->steer, t->sp, g->id)) < 0) {
            log_event(LOG_ERROR, "steer_failed", "gen=%u name=%s error=%s",
                      g->id, log_q(l->name), log_q(strerror(-rc)));
            return rc;
        }
    }
    if (steer_plan_probe_range(t->sp, g->id, &lo, &hi) == 0)
        log_event(LOG_INFO, "steer", "gen=%u probe_ports=%u-%u", g->id, lo, hi);
    return 0;
}

/* canary_clients, as the newest configuration says. */
static void
set_clients(struct traffic *t, const struct gen *g)
{
    const struct canary_conf *c = &g->plan->cfg->canary;

    memcpy(t->sp->cidrs, c->clients, sizeof(t->sp->cidrs));
    t->sp->ncidrs = c->nclients;
}

int
traffic_promote(struct traffic *t, struct gen *g)
{
    struct steer_plan before = *t->sp;

    steer_plan_promote(t->sp, g->id);
    set_clients(t, g);
    return apply_or_undo(t, &before);
}

int
traffic_share(struct traffic *t, struct gen *g, struct gen *old, unsigned bps)
{
    struct steer_plan before = *t->sp;
    struct steer_route *n = steer_plan_find(t->sp, g->id);
    struct steer_route *o = steer_plan_find(t->sp, old->id);

    for (size_t i = 0; i < t->sp->n; i++)
        t->sp->r[i].share = 0;
    if (n != NULL) {
        n->share = bps;
        n->serving = 1;
        n->flows = 1;
    }
    if (o != NULL)
        o->share = STEER_SHARE_ALL - bps;
    set_clients(t, g);
    return apply_or_undo(t, &before);
}

void
traffic_drained(struct traffic *t, struct gen *g, int stopping)
{
    struct steer_route *r = steer_plan_find(t->sp, g->id);

    if (stopping || r == NULL || (!r->serving && r->share == 0))
        return;
    r->serving = 0;
    r->share = 0;
    (void)apply_all(t); /* a group that refuses says so */
}

void
traffic_leave(struct traffic *t, struct gen *g, int stopping)
{
    int rc;

    if (steer_plan_find(t->sp, g->id) == NULL)
        return;
    steer_plan_remove(t->sp, g->id);
    /* Stopping, the active generation's socket may still get connections
     * (they wait for the exit): it closes with its listener, at the end. */
    if (stopping)
        return;
    for (size_t i = 0; i < g->plan->nls; i++) {
        struct listener *l = g->plan->ls[i];
        if (l->steer != NULL && (rc = steer_leave(l->steer, t->sp, g->id)) < 0)
            log_event(LOG_WARN, "steer_failed", "gen=%u name=%s error=%s",
                      g->id, log_q(l->name), log_q(strerror(-rc)));
    }
}

int
traffic_steered(const struct gen *g)
{
    for (size_t i = 0; i < g->plan->nls; i++)
        if (g->plan->ls[i]->steer != NULL)
            return 1;
    return 0;
}

int
traffic_queued(const struct gen *g)
{
    int n = 0;

    for (size_t i = 0; i < g->plan->nls; i++) {
        struct listener *l = g->plan->ls[i];
        int q;
        if (l->steer != NULL && (q = listener_queued(l, g->id)) > 0)
            n += q;
    }
    return n;
}

int
traffic_cookie(const struct steer_plan *sp, const struct gen *g)
{
    const struct steer_route *r = sp ? steer_plan_find(sp, g->id) : NULL;

    for (size_t i = 0; r != NULL && i < g->plan->nls; i++)
        if (g->plan->ls[i]->steer != NULL && g->plan->ls[i]->steer->quic)
            return r->cookie;
    return -1;
}

unsigned
traffic_probe_port(struct traffic *t, struct gen *g)
{
    return steer_plan_probe_port(t->sp, g->id);
}
