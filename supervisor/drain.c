/* drain.c: a generation's drain signal, its deadline and SIGKILL; a steered one's retirement first. */
#include "drain.h"

#include <signal.h>

#include "handle.h"
#include "log.h"
#include "master.h"
#include "parse.h"
#include "readiness.h"
#include "traffic.h"
#include "worker.h"

void
drain_kill(struct gen *g, const char *why)
{
    for (size_t i = 0; i < g->nslots; i++) {
        struct worker *w = g->slots[i].w;
        if (w != NULL && worker_kill(w, SIGKILL) == 0)
            log_event(LOG_WARN, "kill", "gen=%u pid=%d reason=%s", g->id,
                      (int)w->child.pid, why);
    }
    g->killed = 1;
}

void
drain_cap_failed(struct master *m, const struct gen *g)
{
    for (struct gen *d = m->gens; d; d = d->next)
        if (gen_capped_failed(d, g))
            drain_kill(d, "drain_cap");
}

static void
on_drain_timeout(uv_timer_t *t)
{
    struct gen *g = t->data;

    if (g != NULL)
        drain_kill(g, "drain_timeout");
}

void
drain_worker(struct worker *w, int sig)
{
    unsigned long long t;

    readiness_stop(w);
    w->state = W_STOPPING;
    /* Taken before kill(): the signal may wake the worker, which can run
     * before the master does again on a busy machine. */
    t = (unsigned long long)(master_now() / 1000); /* mono_us */
    if (worker_kill(w, sig) == 0)
        log_event(LOG_INFO, "drain", "gen=%u pid=%d signal=%s mono_us=%llu",
                  w->gen->id, (int)w->child.pid, parse_signal_name(sig), t);
}

void
drain_gen(struct master *m, struct gen *g, uint64_t timeout_ms)
{
    int sig = g->plan->cfg->drain_signal;

    g->drain_ns = master_now();
    traffic_drained(m, g); /* it stops accepting: route nothing more to it */
    for (size_t i = 0; i < g->nslots; i++) {
        struct slot *s = &g->slots[i];
        struct worker *w = s->w;

        handle_close(s->restart_timer);
        s->restart_timer = NULL;
        if (w != NULL && w->state != W_STOPPING)
            drain_worker(w, sig);
    }
    uv_timer_stop(g->timer);
    if (g->live == 0) {
        master_gen_done(m, g);
        return;
    }
    uv_timer_start(g->timer, on_drain_timeout, timeout_ms, 0);
}

static void
on_retire_tick(uv_timer_t *t)
{
    struct gen *g = t->data;
    const struct config *c;
    uint64_t ms;
    int queued;

    if (g == NULL)
        return;
    c = g->plan->cfg;
    ms = (master_now() - g->retire_ns) / 1000000;
    queued = traffic_queued(g);
    if ((ms >= c->drain_delay && queued == 0) || ms >= c->drain_timeout) {
        log_event(LOG_INFO, "retired", "gen=%u queued=%d retire_ms=%llu",
                  g->id, queued, (unsigned long long)ms);
        drain_gen(g->master, g, c->drain_timeout);
    }
}

void
drain_retire(struct master *m, struct gen *g)
{
    if (!traffic_steered(g)) {
        drain_gen(m, g, g->plan->cfg->drain_timeout);
        return;
    }
    g->retire_ns = master_now();
    log_event(LOG_INFO, "retire", "gen=%u queued=%d", g->id,
              traffic_queued(g));
    uv_timer_start(g->timer, on_retire_tick, 5, 5);
}
