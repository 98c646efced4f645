/* rollout.h: progressive delivery's names: rollback causes, a generation's share for status. */
#ifndef HANDOFF_ROLLOUT_H
#define HANDOFF_ROLLOUT_H

#include <stddef.h>

struct master;
struct gen;

/*
 * After readiness a generation may go through canary steps (its share of
 * client addresses, one program swap each) before its promotion, and the
 * generation it replaces may be kept, with no new client, for
 * keep_previous. Until both are over, a rollback is one swap back. Those
 * decisions are the deployment core's (deploy.h).
 */

/*
 * What caused a rollback: the guard label of handoff_rollbacks_total and
 * of the log's event=rollback. A small fixed set, so that an operator can
 * alert on each; a new value is a new series for every dashboard. The
 * same order as enum deploy_cause.
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

/* "canary step=1/2 share=5.00%" or "kept" or "" for g, for status. */
void rollout_describe(const struct master *m, const struct gen *g, char *buf,
                      size_t size);

#endif
