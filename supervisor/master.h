/* master.h: the master's state, and the events its parts report to it. */
#ifndef HANDOFF_MASTER_H
#define HANDOFF_MASTER_H

#include <limits.h>
#include <jansson.h>
#include <uv.h>

#include "carry.h"
#include "channel.h"
#include "config.h"
#include "control.h"
#include "deploy.h"
#include "guard.h"
#include "generation.h"
#include "gens.h"
#include "listener.h"
#include "livecheck.h"
#include "metrics.h"
#include "plan.h"
#include "probe.h"
#include "readiness.h"
#include "reap.h"
#include "steer.h"
#include "traffic.h"
#include "worker.h"

struct control;
struct metrics;
struct guard;
struct sdnotify;
struct signals;

struct master {
    uv_loop_t *loop;
    const struct config_args *args;
    char *const *argv;         /* as started: an upgrade's image gets them */
    struct deploy d;           /* every decision of the deployment */
    struct deploy_out *out;    /* the actions of the event being taken */
    int running;               /* carrying actions out (events wait) */
    uv_timer_t *core_timer;    /* at the core's next deadline */
    struct gens gens;          /* what runs, with its handles, and the plans */
    /* The core's stopping, as the actions carried out so far have it:
     * DA_STOPPING sets it, so that those before it in one event see 0. */
    int stopping;
    unsigned long long last_ms; /* the last roll's duration, for status */
    /* The end. */
    int gens_gone;             /* the core said so: exit once orphans are */
    int finished;
    int orphans_termed;
    int orphans_killed;
    int exit_code;
    uv_timer_t *path_timer;    /* looks for unix socket files that vanished */
    struct reaper reaper;
    struct probe_host probes;       /* the loop and the reaper, for probe.h */
    struct readiness_ctx readiness; /* for workers' checks (readiness.h) */
    struct channel_ctx channels;    /* for their control channels */
    struct worker_ctx workers;      /* for starting them (worker.h) */
    struct guard_ctx guards;        /* for the guard (guard.h) */
    struct control_ops control_ops; /* for the control socket */
    struct notify *notify;
    char notify_path[PATH_MAX];
    char rundir[PATH_MAX];
    char shim_path[PATH_MAX];
    struct signals *signals; /* handoff's own (signals.h) */
    uint64_t started_ns;       /* when handoff started */
    uint64_t swap_us;          /* the last promotion's program swap */
    int sync_ok;               /* a promote or rollback request's answer */
    unsigned sync_gen;
    char *sync_why;            /* and its text, if refused */
    size_t sync_len;
    struct control *control;   /* the control socket, or NULL */
    struct sdnotify *sdnotify; /* handoff's own NOTIFY_SOCKET, or NULL */
    struct steer_plan steering; /* who gets new connections (traffic.h) */
    struct traffic traffic;     /* what traffic.c works on */
    struct guard *guard;        /* during a canary or keep_previous */
    struct livecheck_ctx lives; /* for the liveness checks */
    struct livecheck *live;     /* of the active generation */
    struct metrics *metrics;          /* the HTTP endpoint, or NULL */
    struct metrics_data metrics_data; /* observations (metrics.h) */
    struct carry carry; /* what an upgrade under way is lent (carry.h) */
};

/* The whole life of the master, which takes cfg and source, the file's
 * len bytes it was read from (source_load); returns the exit code. With
 * resume (upgrade_take's document, taken), it goes on from the state an
 * earlier image of handoff handed over instead (cfg and source NULL). */
int master_run(const struct config_args *args, char *const *argv,
               struct config *cfg, char *source, size_t len, json_t *resume);

/* Monotonic time in nanoseconds. */
uint64_t master_now(void);

#endif
