/* guard.h: guards: a generation's probes during its canary and keep_previous, and when to roll back. */
#ifndef HANDOFF_GUARD_H
#define HANDOFF_GUARD_H

#include <stddef.h>

struct master;
struct gen;
struct guard;

/*
 * Run the configured guard (guard =, every guard_interval) against the
 * newer generation g, and with guard_latency the same probe against prev
 * too. guard_failures failures in a row, or as many verdicts in a row that
 * g is slower than prev (latency.h: p95 over full windows), roll back
 * (rollout_rollback). NULL when there is no guard to run.
 */
struct guard *guard_start(struct master *m, struct gen *g, struct gen *prev);
void guard_stop(struct guard *gd);

/* The last results, for status: "guard ok 3.2ms, 12 probes" etc. */
void guard_describe(const struct guard *gd, char *buf, size_t size);

#endif
