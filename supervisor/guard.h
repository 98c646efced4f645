/* guard.h: guards: a generation's probes during its canary and keep_previous,
 * and when to roll back. */
#ifndef HANDOFF_GUARD_H
#define HANDOFF_GUARD_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include <jansson.h>

#include "deploy.h"

struct canary_conf;
struct guard;
struct probe_host;

/* What a guard is given: where it runs, what it asks of the generations it
 * watches, and whom it tells. */
struct guard_ctx {
    uv_loop_t *loop;
    struct probe_host *probes;
    pid_t (*pid_of)(void *arg, unsigned gen);        /* for %p; 0: none */
    unsigned (*probe_port)(void *arg, unsigned gen); /* 0: any */
    /* A failure or a slower verdict, for clients waiting with progress. */
    void (*progress)(void *arg, const char *text);
    /* gen failed its guard: the caller rolls back (which may stop it). */
    void (*failed)(void *arg, unsigned gen, enum deploy_cause cause,
                   const char *why);
    void *arg;
};

/*
 * Run the guard c configures (guard =, every guard_interval) against the
 * newer generation gen, and with guard_latency the same probe against prev
 * too while latency is judged (a canary). guard_failures failures in a
 * row, or as many verdicts in a row that gen is slower than prev
 * (latency.h), call ctx->failed. NULL when there is no guard to run.
 */
struct guard *guard_start(const struct guard_ctx *ctx,
                          const struct canary_conf *c, unsigned gen,
                          unsigned prev, int latency);
/* Whether gd watches gen against prev; latency judged from now or not. */
int guard_watches(const struct guard *gd, unsigned gen, unsigned prev);
void guard_judge_latency(struct guard *gd, int on);
void guard_stop(struct guard *gd);

/* Whether a probe of gd is under way (an upgrade waits for it). */
int guard_busy(const struct guard *gd);
/*
 * What an upgrade carries of gd (null for none): its failures and slower
 * verdicts in a row, its ticks, the latency window's pairs and each side's
 * counts and last result: {"fails": 1, "slow": 0, "ticks": 40, "cur":
 * [1200, ...], "prev": [...], "sides": [{"probes", "passed", "last"} x2]}.
 * The image that took over starts the guard the core names (DA_GUARD's
 * generations) and gives it this back: its next verdict counts as before.
 */
json_t *guard_state_write(const struct guard *gd);
/* gd's counts from o (written for the same generations): 0, or -EINVAL with
 * the field at fault in err, gd unchanged. */
int guard_state_read(struct guard *gd, const json_t *o, char *err,
                     size_t errlen);
/* The last results, for status: "guard ok 3.2ms, 12 probes" etc. */
void guard_describe(const struct guard *gd, char *buf, size_t size);

#endif
