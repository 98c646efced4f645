/* carry.h: the master's whole state as one document, gathered from the modules that hold it before an upgrade's exec and handed back to them by the image it starts. */
#ifndef HANDOFF_CARRY_H
#define HANDOFF_CARRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "control.h"
#include "deploy.h"
#include "gens.h"
#include "metrics.h"
#include "notify.h"
#include "reap.h"
#include "steer.h"
#include "view.h"
#include "worker.h"

struct control;
struct guard;
struct metrics;
struct notify;
struct sdnotify;

/*
 * The document (state.h's, whose version covers every part):
 *
 *   {"format": "handoff-state", "version": 1, "written_by": "0.1.0",
 *    "deploy": {...},                  the core (state.h)
 *    "argv": ["handoff", "-c", ...],   what the master was started with
 *    "gens": {...},                    gens_state.h
 *    "steering": {...},                steer_state.h
 *    "notify": {...}, "sdnotify": {...} | null,
 *    "control": {...} | null, "metrics": {...} | null,
 *    "metrics_data": {...},            metrics_state.h
 *    "guard": {...} | null,            guard.h
 *    "liveness": {...} | null,         livecheck.h (null: none judged)
 *    "remnants": [...],                worker.h: exited workers' groups
 *    "master": {"rundir": "/run/handoff.1", "started_ns": "...",
 *               "last_ms": 120, "swap_us": 40, "orphans": 3,
 *               "asked_ns": "...", "nofile_soft": "1024",
 *               "log": "lines a slow reader has not taken yet",
 *               "log_dropped": "0"}}
 *
 * Times are CLOCK_MONOTONIC's, which an exec does not reset. Not carried,
 * and so an upgrade waits for them to end (carry_busy): a worker's exec
 * not yet reported, a readiness or guard probe under way, a swap of
 * steering programs awaited, the stop, an answer being written to a
 * control client.
 */

/* What the master lends: where each part of its state lives. */
struct carry {
    uv_loop_t *loop;
    const struct config_args *args;
    char *const *argv;
    struct deploy *d;
    struct gens *gens;
    struct steer_plan *steering;
    struct metrics_data *metrics_data;
    struct reaper *reaper;
    struct worker_ctx *workers;
    struct guard **guard;
    const struct guard_ctx *guards;
    struct livecheck **live;
    struct notify **notify;
    notify_cb *on_notify;
    void *notify_arg;
    struct sdnotify **sdnotify;
    struct control **control;
    const struct control_ops *control_ops;
    struct metrics **metrics;
    view_fn *view;
    void *view_arg;
    char *rundir; /* PATH_MAX bytes each */
    char *notify_path;
    uint64_t *started_ns;
    unsigned long long *last_ms;
    uint64_t *swap_us;
    uint64_t asked_ns; /* when the upgrade was asked for */
};

/* `handoff upgrade`: binary (NULL: the one handoff was started as, looked
 * up again) executed in this process with the state (upgrade_start); the
 * asking control client is answered by the new image, or here with why
 * not ("error: busy: ..." while carry_busy says so). */
void carry_upgrade(struct carry *c, const char *binary, uint64_t timeout_ms);

/* For upgrade_ops (arg: a struct carry). */
int carry_busy(void *arg, char *why, size_t len);
json_t *carry_write(void *arg);
int carry_inherit(void *arg, int on);

/*
 * The parts opened fresh at a start instead: the control socket, the
 * metrics endpoint, the first plan (cfg, taken, with the *source bytes it
 * was read from, taken too, *source set NULL) and its listeners, the
 * steering plan, the run directory and the workers' notify socket. 0, or
 * -errno with err ready for "handoff: ERR" (and the log line an operator
 * looks for: control_failed, listen_failed).
 */
int carry_open(struct carry *c, struct config *cfg, char **source, size_t len,
               char *err, size_t errlen);

/*
 * Every part of doc handed to its module, in the image an upgrade started:
 * the plans and generations with their workers first, then the steering
 * plan, the sockets, the core. 0, or -errno with the part at fault in err.
 * *asked_ns: when the upgrade was asked for (for its duration).
 */
int carry_adopt(struct carry *c, const json_t *doc, uint64_t *asked_ns,
                char *err, size_t len);

/* The image that could not take doc over (err says why) executes the one
 * before it again (upgrade_back), which resumes and tells the client;
 * returns only if that cannot be done. */
void carry_give_back(const json_t *doc, char *const argv[], const char *err);

/* Once the image that took doc over runs: the client that asked told
 * (upgraded ... from= to= ms=, the time since asked_ns), the log and the
 * count; or, in an image an upgrade came back to (upgrade_failed), why. */
void carry_resumed(struct carry *c, const json_t *doc, uint64_t asked_ns);

/*
 * What `handoff --upgrade-check` checks of doc, without its descriptors or
 * processes (it runs in a child): every part read, the configurations
 * rebuilt from their bytes with the arguments doc names. 0 or -errno with
 * why.
 */
int carry_check(const json_t *doc, char *err, size_t len);

#endif
