/* gens.c: what the shell holds of the deployment: each generation's processes, plan and handles, and the plans in use. */
#include "gens.h"

#include <stdlib.h>

#include "handle.h"
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
