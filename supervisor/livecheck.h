/* livecheck.h: the checks of the active generation (liveness probes, the watchdog, max_rss) and the replacement they start (liveness.h decides). */
#ifndef HANDOFF_LIVECHECK_H
#define HANDOFF_LIVECHECK_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>
#include <uv.h>

#include "liveness.h"

struct probe_host;
struct livecheck;

/* What the checks are given: where they run, what they ask of the
 * deployment, and whom they tell. */
struct livecheck_ctx {
    uv_loop_t *loop;
    struct probe_host *probes;
    unsigned (*probe_port)(void *arg, unsigned gen); /* 0: any */
    /* The main processes of gen's running workers, at most cap. */
    size_t (*pids)(void *arg, unsigned gen, pid_t *out, size_t cap);
    /* Whether a roll, a canary or a stop is under way. */
    int (*busy)(void *arg);
    /* Replace gen: LIVENESS_ROLL starts a roll (returns the new
     * generation, 0: none started); LIVENESS_RESTART kills the group of
     * pid (0: of every process of gen) for restart = to start it again
     * (returns 0). */
    unsigned (*replace)(void *arg, unsigned gen, enum liveness_action a,
                        pid_t pid);
    void *arg;
};

struct livecheck *livecheck_new(const struct livecheck_ctx *ctx);
void livecheck_free(struct livecheck *lc);

/* gen is the active generation, c its plan's keys (gen 0 or c NULL: none
 * judged, as during a stop). Judging starts afresh when gen changes; the
 * keys are copied. */
void livecheck_judge(struct livecheck *lc, unsigned gen,
                     const struct liveness_conf *c);
/* The roll of gen ended, promoted (ok) or not. */
void livecheck_roll_ended(struct livecheck *lc, unsigned gen, int ok);
/* pid of gen sent WATCHDOG=1 (trigger 0) or WATCHDOG=trigger (1). */
void livecheck_watchdog(struct livecheck *lc, unsigned gen, pid_t pid,
                        int trigger);

/*
 * What an upgrade carries: the verdicts so far, the replacement under way
 * and its backoff, the watchdog's last pings (times on CLOCK_MONOTONIC's
 * ms, as uv_now, which an exec does not reset), the counters:
 * {"gen": 3, "fails": 1, "replacing": 0, "replaced": 0, "why": 0,
 *  "backoff_ms": 1000, "retry_at": 0, "failures": [2, 0, 0],
 *  "replacements": [1, 0, 0], "pings": [[4242, 81234567]]}.
 * read: 0 (null, from an image before liveness: nothing), or -EINVAL with
 * the field at fault in err, lc unchanged. The image that took over then
 * calls livecheck_judge, which keeps them for the same generation.
 */
json_t *livecheck_state_write(const struct livecheck *lc);
int livecheck_state_read(struct livecheck *lc, const json_t *o, char *err,
                         size_t errlen);

/* The counters, for metrics and status. */
const struct liveness *livecheck_state(const struct livecheck *lc);
/* "http:... every 500ms: ok, 0 failures in a row, 2 replacements", or ""
 * when nothing is judged. */
void livecheck_describe(const struct livecheck *lc, char *buf, size_t size);

#endif
