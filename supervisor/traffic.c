/* traffic.c: keep every steered listener's reuseport group in step with the master's plan. */
#include "traffic.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "master.h"

struct apply_ctx {
    struct master *m;
    int rc; /* the first group's refusal */
};

static void
apply(struct listener *l, void *arg)
{
    struct apply_ctx *a = arg;
    int rc;

    if (l->steer == NULL)
        return;
    if ((rc = steer_apply(l->steer, &a->m->steering)) < 0) {
        log_event(LOG_ERROR, "steer_failed", "name=%s error=%s",
                  log_q(l->name), log_q(strerror(-rc)));
        if (a->rc == 0)
            a->rc = rc;
    }
}

/* The plan in force, in every steered listener of a live plan, once. */
static int
apply_all(struct master *m)
{
    struct plan *plans[MASTER_MAX_PLANS];
    size_t np = master_live_plans(m, plans, MASTER_MAX_PLANS);
    struct apply_ctx a = {m, 0};

    plan_each_listener(plans, np, apply, &a);
    return a.rc;
}

/*
 * The plan changed from before: every group follows it, or, when one
 * refuses its program, every group goes back to before, so that where
 * connections go and what the master believes stay one and the same.
 */
static int
apply_or_undo(struct master *m, const struct steer_plan *before)
{
    int rc = apply_all(m);

    if (rc < 0) {
        m->steering = *before;
        (void)apply_all(m); /* the groups that took the new program */
    }
    return rc;
}

int
traffic_join(struct master *m, struct gen *g)
{
    unsigned lo, hi;
    int rc;

    if (!traffic_steered(g))
        return 0;
    if ((rc = steer_plan_add(&m->steering, g->id)) < 0)
        return rc;
    for (size_t i = 0; i < g->plan->nls; i++) {
        struct listener *l = g->plan->ls[i];
        if (l->steer != NULL &&
            (rc = steer_join(l->steer, &m->steering, g->id)) < 0) {
            log_event(LOG_ERROR, "steer_failed", "gen=%u name=%s error=%s",
                      g->id, log_q(l->name), log_q(strerror(-rc)));
            return rc;
        }
    }
    if (steer_plan_probe_range(&m->steering, g->id, &lo, &hi) == 0)
        log_event(LOG_INFO, "steer", "gen=%u probe_ports=%u-%u", g->id, lo, hi);
    return 0;
}

/* canary_clients, as the newest configuration says. */
static void
set_clients(struct master *m, const struct gen *g)
{
    const struct canary_conf *c = &g->plan->cfg->canary;

    memcpy(m->steering.cidrs, c->clients, sizeof(m->steering.cidrs));
    m->steering.ncidrs = c->nclients;
}

int
traffic_promote(struct master *m, struct gen *g)
{
    struct steer_plan before = m->steering;

    steer_plan_promote(&m->steering, g->id);
    set_clients(m, g);
    return apply_or_undo(m, &before);
}

int
traffic_share(struct master *m, struct gen *g, struct gen *old, unsigned bps)
{
    struct steer_plan before = m->steering;
    struct steer_route *n = steer_plan_find(&m->steering, g->id);
    struct steer_route *o = steer_plan_find(&m->steering, old->id);

    for (size_t i = 0; i < m->steering.n; i++)
        m->steering.r[i].share = 0;
    if (n != NULL) {
        n->share = bps;
        n->serving = 1;
    }
    if (o != NULL)
        o->share = STEER_SHARE_ALL - bps;
    set_clients(m, g);
    return apply_or_undo(m, &before);
}

void
traffic_drained(struct master *m, struct gen *g)
{
    struct steer_route *r = steer_plan_find(&m->steering, g->id);

    if (m->stopping || r == NULL || (!r->serving && r->share == 0))
        return;
    r->serving = 0;
    r->share = 0;
    (void)apply_all(m); /* a group that refuses says so */
}

void
traffic_leave(struct master *m, struct gen *g)
{
    int rc;

    if (steer_plan_find(&m->steering, g->id) == NULL)
        return;
    steer_plan_remove(&m->steering, g->id);
    /* Stopping, the active generation's socket may still get connections
     * (they wait for the exit): it closes with its listener, at the end. */
    if (m->stopping)
        return;
    for (size_t i = 0; i < g->plan->nls; i++) {
        struct listener *l = g->plan->ls[i];
        if (l->steer != NULL &&
            (rc = steer_leave(l->steer, &m->steering, g->id)) < 0)
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

unsigned
traffic_probe_port(struct master *m, struct gen *g)
{
    return steer_plan_probe_port(&m->steering, g->id);
}
