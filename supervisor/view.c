/* view.c: a snapshot of the deployment for status, metrics and the control socket. */
#include "view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "generation.h"
#include "guard.h"
#include "livecheck.h"
#include "listener.h"
#include "plan.h"
#include "steer.h"

/* g's share of new connections as the last swap that worked left it: the
 * canary's step, the rest to the main route, none to a kept generation. */
static void
route(const struct deploy *d, const struct deploy_gen *g, struct view_gen *vg)
{
    if (!g->conf.steered)
        return;
    if (g->id == d->route_canary) {
        vg->routed = 1;
        vg->share_bps = d->route_bps;
    } else if (g->id == d->route_main) {
        vg->routed = 1;
        vg->share_bps = STEER_SHARE_ALL - (d->route_canary ? d->route_bps : 0);
    } else if (g->state == GEN_KEPT) {
        vg->routed = 1; /* in the group, with no client */
    }
}

static int
procs(const struct deploy_gen *g, struct view_gen *vg, uint64_t now,
      view_proc_fn *proc, void *arg)
{
    vg->procs = calloc(g->nslots ? g->nslots : 1, sizeof(*vg->procs));
    if (vg->procs == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < g->nslots; i++) {
        const struct deploy_slot *s = &g->slots[i];
        struct view_proc *p = &vg->procs[vg->nprocs];

        vg->restarts += s->restarts;
        if (s->w == DW_EMPTY && s->restart_at == 0)
            continue; /* retired, ended, or lost with its kept generation */
        p->slot = i;
        p->w = s->w;
        p->restarts = s->restarts;
        if (s->w != DW_EMPTY) {
            p->uptime_ms = now - s->started;
            if (proc != NULL)
                proc(arg, g->id, i, p);
        }
        vg->nprocs++;
    }
    return 0;
}

int
view_serving(const struct view *v)
{
    return v->active != 0 && !v->stopping && !v->delaying;
}

int
view_build(struct view *v, const struct deploy *d, uint64_t now,
           view_proc_fn *proc, void *arg)
{
    const struct deploy_gen *order[DEPLOY_MAX_GENS];
    size_t n = 0;

    memset(v, 0, sizeof(*v));
    v->stopping = d->stopping;
    v->delaying = d->delay_at != 0;
    v->active = d->active;
    v->starting = d->starting;
    v->steered = d->conf.steered;
    v->rolls_ok = d->rolls_ok;
    v->rolls_failed = d->rolls_failed;
    v->restarts = d->restarts;
    memcpy(v->rollbacks, d->rollbacks, sizeof(v->rollbacks));
    v->last_outcome = d->last_outcome;
    v->last_gen = d->last_gen;
    memcpy(v->last_reason, d->last_reason, sizeof(v->last_reason));
    /* Newest first, as people read a deployment: by id, down. */
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++) {
        size_t j;

        if (d->gens[i].id == 0)
            continue;
        for (j = n++; j > 0 && order[j - 1]->id < d->gens[i].id; j--)
            order[j] = order[j - 1];
        order[j] = &d->gens[i];
    }
    for (size_t i = 0; i < n; i++) {
        const struct deploy_gen *g = order[i];
        struct view_gen *vg = &v->gens[v->ngens++];

        vg->id = g->id;
        vg->state = g->state;
        vg->uptime_ms = now - g->started;
        vg->live = g->live;
        vg->step = g->step;
        vg->nsteps = g->nsteps;
        route(d, g, vg);
        if (procs(g, vg, now, proc, arg) < 0) {
            view_free(v);
            return -ENOMEM;
        }
    }
    return 0;
}

struct each {
    struct view *v;
    int failed;
};

/* gen's queue on l (0: its one shared socket): a UDP socket's bytes and
 * drops in one reading. */
static void
add_queue(struct view_listener *vl, const struct listener *l, unsigned gen)
{
    long drops = -1;
    int q = l->addr.dgram ? listener_received(l, gen, &drops)
                          : listener_queued(l, gen);

    if (q >= 0)
        vl->queues[vl->nqueues++] = (struct view_queue){gen, q, drops};
}

static void
one_listener(struct listener *l, void *arg)
{
    struct each *x = arg;
    struct view *v = x->v;
    struct view_listener *vl, *grown;

    grown = realloc(v->listeners, (v->nlisteners + 1) * sizeof(*grown));
    if (grown == NULL) {
        x->failed = 1;
        return;
    }
    v->listeners = grown;
    vl = &v->listeners[v->nlisteners++];
    memset(vl, 0, sizeof(*vl));
    vl->name = l->name;
    vl->backlog = l->backlog;
    vl->dgram = l->addr.dgram;
    if (l->steer == NULL) {
        add_queue(vl, l, 0);
        return;
    }
    for (size_t i = 0; i < v->ngens; i++)
        add_queue(vl, l, v->gens[i].id);
}

int
view_listeners(struct view *v, struct plan *const *plans, size_t n)
{
    struct each x = {v, 0};

    plan_each_listener(plans, n, one_listener, &x);
    return x.failed ? -ENOMEM : 0;
}

/* What the shell knows of the process in gen id's slot. */
static void
shell_proc(void *arg, unsigned id, size_t slot, struct view_proc *p)
{
    const struct gen *g = gen_find(arg, id);
    const struct worker *w = g && slot < g->nslots ? g->slots[slot].w : NULL;

    if (w == NULL)
        return;
    p->pid = w->child.pid;
    p->ready = w->ready_ns != 0;
    snprintf(p->status, sizeof(p->status), "%s", w->status);
}

int
view_take(struct view *v, const struct deploy *d, uint64_t now,
          const struct view_shell *sh)
{
    const struct config *c = sh->cfg;

    if (view_build(v, d, now, shell_proc, sh->gens) < 0)
        return -ENOMEM;
    if (view_listeners(v, sh->plans, sh->nplans) < 0) {
        view_free(v);
        return -ENOMEM;
    }
    v->pid = getpid();
    v->uptime_ms = sh->uptime_ms;
    v->last_ms = sh->last_ms;
    v->pass = config_pass_name(c->pass);
    v->ready = c->ready_set && c->ready_spec ? c->ready_spec
                                             : config_ready_name(c->ready);
    v->processes = c->processes;
    guard_describe(sh->guard, v->guard, sizeof(v->guard));
    if (sh->live != NULL) {
        const struct liveness *l = livecheck_state(sh->live);

        livecheck_describe(sh->live, v->liveness, sizeof(v->liveness));
        memcpy(v->liveness_failures, l->failures, sizeof(l->failures));
        memcpy(v->replacements, l->replacements, sizeof(l->replacements));
    }
    v->data = sh->data;
    return 0;
}

void
view_free(struct view *v)
{
    for (size_t i = 0; i < v->ngens; i++)
        free(v->gens[i].procs);
    free(v->listeners);
    v->ngens = 0;
    v->listeners = NULL;
    v->nlisteners = 0;
}

const char *
view_proc_state(const struct view_proc *p)
{
    static const char *const names[] = {"restarting", "starting", "ready",
                                        "stopping"};

    return (unsigned)p->w <= DW_STOPPING ? names[p->w] : "?";
}
