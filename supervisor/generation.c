/* generation.c: the generation lifecycle as one transition table. */
#include "generation.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"starting", "active", "draining",
                                          "failed", "done", "canary", "kept"};
static const char *const event_names[] = {
    "all_ready", "worker_exit", "ready_timeout", "superseded", "stop",
    "all_exited", "canary", "rollback", "keep", "restore"};

#define X (-1)
#define NSTATES (GEN_KEPT + 1)
#define NEVENTS (GEV_RESTORE + 1)
/* transitions[state][event] */
static const int transitions[NSTATES][NEVENTS] = {
    /*                all_ready   exit          timeout     superseded    stop          all_exited  canary      rollback    keep      restore */
    [GEN_STARTING] = {GEN_ACTIVE, GEN_FAILED,   GEN_FAILED, X,            GEN_DRAINING, GEN_FAILED, GEN_CANARY, X,          X,        X},
    [GEN_ACTIVE] =   {X,          GEN_ACTIVE,   X,          GEN_DRAINING, GEN_DRAINING, GEN_DONE,   X,          GEN_FAILED, GEN_KEPT, X},
    [GEN_DRAINING] = {X,          GEN_DRAINING, X,          GEN_DRAINING, GEN_DRAINING, GEN_DONE,   X,          X,          X,        X},
    [GEN_FAILED] =   {X,          GEN_FAILED,   X,          X,            GEN_FAILED,   GEN_DONE,   X,          X,          X,        X},
    [GEN_DONE] =     {X,          X,            X,          X,            X,            X,          X,          X,          X,        X},
    [GEN_CANARY] =   {GEN_ACTIVE, GEN_CANARY,   X,          X,            GEN_DRAINING, GEN_FAILED, X,          GEN_FAILED, X,        X},
    [GEN_KEPT] =     {X,          GEN_KEPT,     X,          GEN_DRAINING, GEN_DRAINING, GEN_DONE,   X,          X,          X,        GEN_ACTIVE},
};
#undef X

int
gen_transition(enum gen_state s, enum gen_event e)
{
    if ((unsigned)s >= NSTATES || (unsigned)e >= NEVENTS)
        return -1;
    return transitions[s][e];
}

const char *
gen_state_name(enum gen_state s)
{
    return (unsigned)s < NSTATES ? state_names[s] : "?";
}

const char *
gen_event_name(enum gen_event e)
{
    return (unsigned)e < NEVENTS ? event_names[e] : "?";
}

size_t
gen_count_state(const struct gen *g, enum worker_state s)
{
    size_t n = 0;

    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i].w != NULL && g->slots[i].w->state == s)
            n++;
    return n;
}

struct gen *
gen_find(struct gen *list, unsigned id)
{
    for (struct gen *g = list; g && id != 0; g = g->next)
        if (g->id == id)
            return g;
    return NULL;
}

int
gen_reserve(struct gen *g, size_t n)
{
    struct slot *s;

    if (n <= g->nslots)
        return 0;
    if ((s = realloc(g->slots, n * sizeof(*s))) == NULL)
        return -ENOMEM;
    memset(&s[g->nslots], 0, (n - g->nslots) * sizeof(*s));
    g->slots = s;
    g->nslots = n;
    return 0;
}

size_t
gen_pids(const struct gen *g, pid_t *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; g != NULL && i < g->nslots && n < cap; i++)
        if (g->slots[i].w != NULL && g->slots[i].w->state != W_EXITED)
            out[n++] = g->slots[i].w->child.pid;
    return n;
}
