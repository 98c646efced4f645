/* gens.c: what the shell holds of the deployment: each generation's processes, plan and handles, and the plans in use. */
#include "gens.h"

#include <errno.h>
#include <stdlib.h>

#include "handle.h"
#include "log.h"
#include "source.h"
#include "traffic.h"
#include "worker.h"

struct gen *
gens_add(struct gens *t, uv_loop_t *loop, unsigned id, struct plan *p,
         uint64_t now_ns)
{
    struct gen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->nslots = (size_t)p->cfg->processes;
    g->slots = calloc(g->nslots ? g->nslots : 1, sizeof(*g->slots));
    g->timer = handle_timer(loop, g);
    if (g->slots == NULL || g->timer == NULL) {
        handle_close(g->timer);
        free(g->slots);
        free(g);
        return NULL;
    }
    g->id = id;
    g->plan = plan_ref(p);
    g->state = GEN_STARTING;
    g->started_ns = now_ns;
    g->next = t->list;
    t->list = g;
    return g;
}

void
gens_remove(struct gens *t, struct gen *g)
{
    for (struct gen **pp = &t->list; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    for (size_t i = 0; i < g->nslots; i++)
        worker_free(g->slots[i].w); /* none left running by now */
    handle_close(g->timer);
    plan_unref(g->plan);
    free(g->slots);
    free(g);
}

struct plan *
gens_plan(const struct gens *t, unsigned id)
{
    if (t->next != NULL && t->next->id == id)
        return t->next;
    if (t->plan != NULL && t->plan->id == id)
        return t->plan;
    for (const struct gen *g = t->list; g; g = g->next)
        if (g->plan->id == id)
            return g->plan;
    return NULL;
}

size_t
gens_live_plans(const struct gens *t, struct plan **out, size_t cap)
{
    size_t n = 0;

    if (cap < 2)
        return 0;
    out[n++] = t->plan;
    out[n++] = t->next;
    for (const struct gen *g = t->list; g && n < cap; g = g->next)
        out[n++] = g->plan;
    return n;
}

void
gens_set_next(struct gens *t, struct plan *p)
{
    p->id = ++t->next_id;
    plan_unref(t->next);
    t->next = p;
}

void
gens_free(struct gens *t)
{
    while (t->list != NULL)
        gens_remove(t, t->list);
    plan_unref(t->next);
    plan_unref(t->plan);
    t->next = t->plan = NULL;
}

int
gens_reload(struct gens *t, const struct config_args *args,
            struct deploy_conf *c)
{
    char err[CONFIG_ERRLEN];
    struct config *cfg;
    struct plan *p, *live[TRAFFIC_MAX_PLANS];
    const char *keys[3];
    size_t len;
    char *text;
    int nkeys;

    if (args->file == NULL) {
        log_event(LOG_INFO, "reload", "file=none action=roll");
        return -ENOENT;
    }
    if (source_load(args, &cfg, &text, &len, err, sizeof(err)) < 0) {
        log_event(LOG_ERROR, "reload_failed", "file=%s error=%s",
                  log_q(args->file), log_q(err));
        return -EINVAL;
    }
    nkeys = config_keep_start_keys(t->plan->cfg, cfg, keys, 3);
    if (plan_new(cfg, live, gens_live_plans(t, live, TRAFFIC_MAX_PLANS), &p,
                 err, sizeof(err)) < 0) {
        log_event(LOG_ERROR, "reload_failed", "file=%s error=%s",
                  log_q(args->file), log_q(err));
        config_free(cfg);
        free(text);
        return -EINVAL;
    }
    plan_set_source(p, text, len);
    for (int i = 0; i < nkeys; i++)
        log_event(LOG_WARN, "reload_not_applied", "key=%s reason=%s", keys[i],
                  log_q("read at start only: restart handoff to apply it"));
    log_event(LOG_INFO, "reload", "file=%s action=roll", log_q(args->file));
    gens_set_next(t, p);
    plan_conf(p, c);
    return 0;
}
