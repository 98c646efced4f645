/* gens_state.h: the table of generations and plans as JSON, for upgrades. */
#ifndef HANDOFF_GENS_STATE_H
#define HANDOFF_GENS_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "gens.h"
#include "worker.h"

/*
 * The object (part of the master's state document, whose version covers
 * it):
 *
 *   {"next_id": 4,
 *    "start": {"control": "/run/handoff.sock" | null,
 *              "metrics": "127.0.0.1:9100" | null,
 *              "probe_lo": 23000, "probe_hi": 23999},
 *    "listeners": [{...}, ...],
 *    "plans": [{"id": 3, "source": "5b6c697374656e...", "listeners": [0, 2]},
 *              ...],
 *    "plan": 3, "next": 0,
 *    "list": [{"id": 7, "plan": 3, "state": 1, "started_ns": 81234567890,
 *              "killed": 0, "bypassed": 0, "join_failed": 0,
 *              "slots": [{"retired": 0, "w": {...}},
 *                        {"retired": 1, "w": null}, ...]},
 *             ...]}
 *
 * listeners holds each listener of the live plans once, however many
 * plans share it (listener_state.h's objects); a plan names its own by
 * their indexes there, in its configuration's order. source is the
 * configuration file's bytes as loaded (source.h), in hex: they may be
 * any bytes but NUL, and a JSON string is UTF-8; null when there was no
 * file. The configuration is built again from them and the new image's
 * flags (the same argv), then the start-only keys are put back as start
 * says (config_keep_start_keys): a reloaded file that named another
 * control socket still runs with the one handoff started with. plan and
 * next are the active plan's id and the reloaded one's (0: none). list
 * holds the generations newest first; state is enum gen_state, w a worker
 * (worker_state.h) or null, its slot that of its entry.
 *
 * Read back, everything is checked before anything is built: ids
 * nonzero and unique (plans' at most next_id), every plan held by the
 * table (active, next or a generation's) and every listener by a plan,
 * listener indexes in range and each at most once in a plan, the
 * configuration's sections as many as the plan's listeners, each with the
 * configured address (port 0 included) of the listener at its place (not
 * by name: a reload may have renamed a listener it kept), a worker's
 * slot that of its entry, no pid or channel given to two workers.
 *
 * Not carried, rebuilt by who holds them: the plans' and listeners'
 * reference counts, each generation's timer (gens_add makes it; starting
 * it is the caller's business) and the workers' links to their
 * generation and to the reaper.
 */

/* The object for t, a new reference, or NULL when out of memory. */
json_t *gens_state_write(const struct gens *t);

/*
 * Something under way that cannot be carried (a worker's exec report
 * pending, a readiness check in progress: worker_state_busy), or a running
 * control path or metrics address that is not UTF-8 (a JSON string is):
 * 1 and why in why; or 0.
 */
int gens_state_busy(const struct gens *t, char *why, size_t len);

/*
 * Clear (on = 1) or set again (on = 0) FD_CLOEXEC on every fd the object
 * names: each listener's once (however many plans share it), each
 * worker's. 0, or -errno with every descriptor as it was.
 */
int gens_state_inherit(const struct gens *t, int on);

/* What adopting needs beside the object. */
struct gens_adopt {
    uv_loop_t *loop;
    const struct config_args
        *args;                  /* the new image's, parsed from the same argv */
    struct worker_ctx *workers; /* for worker_state_adopt */
};

/*
 * *t (empty, zeroed) rebuilt from o: the listeners adopted
 * (listener_state_adopt), each plan's configuration built again from its
 * bytes (source_rebuild, then the start-only keys), the plans holding the
 * adopted listeners (the same struct listener shared as before: every
 * listener of a configuration must be the one recorded, none is opened),
 * the generations with their ids, plan, start, flags and slots, and
 * their workers (worker_state_adopt). Returns 0, or -EINVAL / -ENOMEM
 * with the field named in err ("gens.list[1].slots[0].w.pid: ..."); on
 * error nothing is adopted: no worker left with the reaper, no handle
 * left open on the loop, no descriptor closed (they still belong to the
 * process), *t empty.
 */
int gens_state_adopt(struct gens *t, const json_t *o,
                     const struct gens_adopt *a, char *err, size_t errlen);

/*
 * For handoff --upgrade-check, in a process that holds none of the
 * descriptors or workers: o's structure checked and every plan's
 * configuration built again from its bytes with args; nothing opened or
 * adopted. 0, or -EINVAL / -ENOMEM with the fault in err (a configuration
 * this binary cannot read: its FILE:LINE message).
 */
int gens_state_check(const json_t *o, const struct config_args *args, char *err,
                     size_t errlen);

#endif
