/* rollout.h: progressive delivery: a canary's steps, the kept generation, rollback. */
#ifndef HANDOFF_ROLLOUT_H
#define HANDOFF_ROLLOUT_H

#include <stddef.h>

struct master;
struct gen;

/*
 * After readiness a generation may go through canary steps (its share of
 * client addresses, one program swap each) before its promotion, and the
 * generation it replaces may be kept, with no new client, for
 * keep_previous. Until both are over, a rollback is one swap back. The
 * steps come from canary = (or handoff roll --canary), keep_previous from
 * the new generation's configuration.
 */

/* g passed readiness: 1 if its canary began (promotion later), 0 if it is
 * to be promoted now (no canary, no previous, or traffic not steered). */
int rollout_ready(struct master *m, struct gen *g);

/* g was just promoted over old: keep old if keep_previous says so (then
 * 1), or 0 for old to retire as usual. */
int rollout_promoted(struct master *m, struct gen *g, struct gen *old);

/*
 * What caused a rollback: the guard label of handoff_rollbacks_total and
 * of the log's event=rollback. A small fixed set, so that an operator can
 * alert on each; a new value is a new series for every dashboard.
 */
enum rollout_cause {
    ROLLOUT_CRASH,    /* a process of the new generation exited */
    ROLLOUT_PROBE,    /* the guard's probe failed guard_failures times */
    ROLLOUT_LATENCY,  /* guard_latency: slower than the previous one */
    ROLLOUT_OPERATOR, /* handoff rollback */
    ROLLOUT_NCAUSES
};

/* "crash", "probe", "latency", "operator". */
const char *rollout_cause_name(enum rollout_cause cause);

/* New connections back to the previous generation, the newer one drains;
 * counted under cause, why is for people. 0, or -ENOENT when there is
 * nothing to return to. */
int rollout_rollback(struct master *m, enum rollout_cause cause,
                     const char *why);

/* End the canary now (promotion), or the keeping of the previous one.
 * 0, or -ENOENT when neither is under way. */
int rollout_promote(struct master *m);

/* The process of g's slot exited: during a canary, or while an older
 * generation is kept, that is a failed guard and rolls back (unless
 * SIGTTOU retired the slot). 1 if it did; g may be gone then. */
int rollout_worker_exit(struct master *m, struct gen *g, size_t slot,
                        const char *desc);

/* The process of a slot of the kept generation exited (restart: whether
 * restart = wants another): started again if traffic returns to it; when
 * it was the last, the keeping ends (nothing to return to), kept is freed. */
void rollout_kept_exit(struct master *m, struct gen *kept, size_t slot,
                       int restart);

/* handoff roll --canary SPEC ("5%/30s 25%/2m"): its steps for the roll it
 * starts or queues. -EINVAL for a bad spec, -EBUSY when the queued roll
 * has other steps already (each client's roll keeps the canary it asked
 * for); err says why, and nothing changed. */
int rollout_roll_canary(struct master *m, const char *spec, char *err,
                        size_t errlen);

/* A new roll starts: a kept generation is retired first (at most one). */
void rollout_roll_starting(struct master *m);

/* Stopping: no guard, no step, no keeping any more. */
void rollout_stop(struct master *m);

/* "canary step=1/2 share=5.00%" or "kept" or "" for g, for status. */
void rollout_describe(const struct master *m, const struct gen *g, char *buf,
                      size_t size);

#endif
