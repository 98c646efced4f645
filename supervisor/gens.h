/* gens.h: what the shell holds of the deployment: each generation's processes, plan and handles, and the plans in use, in one table. */
#ifndef HANDOFF_GENS_H
#define HANDOFF_GENS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "generation.h"
#include "plan.h"

/*
 * The deployment core (deploy.h) decides; this table holds what its
 * decisions are carried out with: a struct gen (slots, workers, a timer)
 * for each generation the core has, and the plans something still uses.
 * It is the master's state beside the core, kept small so that an upgrade
 * writes it and the next image rebuilds it.
 */
struct gens {
    struct gen *list;  /* newest first */
    struct plan *plan; /* the active generation's */
    struct plan *next; /* a reloaded plan waiting for its roll */
    unsigned next_id;  /* the last plan id given */
};

/* A generation id of plan p, starting now_ns, at the head of t, its slots
 * empty; NULL: no memory. */
struct gen *gens_add(struct gens *t, uv_loop_t *loop, unsigned id,
                     struct plan *p, uint64_t now_ns);

/* g out of t and freed: its workers (exited by now), timer and plan. */
void gens_remove(struct gens *t, struct gen *g);

/* The plan the core calls id: the reloaded one, the active one, or one a
 * generation still runs; NULL. */
struct plan *gens_plan(const struct gens *t, unsigned id);

/* The plans something still uses (active, reloaded, every generation's;
 * NULLs included), at most cap in out. Returns how many. */
size_t gens_live_plans(const struct gens *t, struct plan **out, size_t cap);

/* p, taken, is the reloaded plan (the one before dropped), with the next
 * plan id. */
void gens_set_next(struct gens *t, struct plan *p);

/*
 * SIGHUP: the file args names read again into the reloaded plan (logged:
 * reload, reload_not_applied for each start-only key it changes), its
 * numbers in *c for the core's DEV_RELOAD. 0; -ENOENT: no file (a plain
 * roll); -EINVAL: the file is bad, logged as reload_failed, nothing
 * changed.
 */
int gens_reload(struct gens *t, const struct config_args *args,
                struct deploy_conf *c);

/* Every generation and plan freed (at the master's end). */
void gens_free(struct gens *t);

#endif
