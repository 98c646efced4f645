/* view.h: a snapshot of the deployment for status, metrics and the control socket: the core's state, with what the shell knows of its processes and listeners. */
#ifndef HANDOFF_VIEW_H
#define HANDOFF_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "deploy.h"
#include "liveness.h"

struct config;
struct gen;
struct guard;
struct livecheck;
struct plan;
struct metrics_data;

/*
 * The readers of the deployment (status, metrics, the control socket's
 * checks) are given one of these, taken at the moment of the request and
 * freed after it: they never walk the master's structures, and what they
 * print is the core's state, so status and the counters cannot disagree
 * with the decisions. view_build() is a pure function of the core, the
 * time and what the shell says of each slot's process; view_listeners()
 * reads the accept queues from the kernel.
 */

/* A slot of a generation that has a process or is waiting to restart. */
struct view_proc {
    size_t slot;
    enum deploy_wstate w; /* DW_EMPTY: its restart is due (restarting) */
    unsigned restarts;
    /* From the shell (view_proc_fn); pid 0: no process. */
    pid_t pid;
    int ready; /* passed its readiness check */
    uint64_t uptime_ms;
    char status[128]; /* its last STATUS=, or "" */
};

struct view_gen {
    unsigned id;
    enum gen_state state;
    uint64_t uptime_ms;
    size_t live; /* processes running */
    int routed;  /* steered: has a share of new connections */
    unsigned share_bps;
    size_t step, nsteps; /* a canary's step (from 0) and how many */
    unsigned restarts;   /* of its slots' processes */
    struct view_proc *procs;
    size_t nprocs;
};

/* The accept queue of one socket: a generation's, or the shared one. */
struct view_queue {
    unsigned gen; /* 0: the one socket every generation shares */
    int length;   /* connections; a UDP listener's: bytes */
    long drops;   /* UDP: datagrams the socket dropped, -1: not known */
};

struct view_listener {
    const char *name; /* the plan's: valid while the request is answered */
    int dgram;        /* UDP */
    long backlog;
    struct view_queue queues[DEPLOY_MAX_GENS];
    size_t nqueues;
};

struct view {
    /* From the core. */
    int stopping;
    int delaying;              /* a stop begun: stop_delay runs before it */
    unsigned active, starting; /* generation ids, 0: none */
    int steered;               /* the active plan has a steered listener */
    unsigned rolls_ok, rolls_failed, restarts;
    unsigned rollbacks[DEPLOY_NCAUSES];
    int last_outcome; /* the last roll: 0 none yet, 1 promoted, -1 failed */
    unsigned last_gen;
    char last_reason[256];
    struct view_gen gens[DEPLOY_MAX_GENS]; /* newest first */
    size_t ngens;
    /* From the shell. */
    pid_t pid;
    uint64_t uptime_ms;
    unsigned long long last_ms; /* the last roll's duration */
    const char *pass, *ready;   /* the active plan's, as configured */
    long processes;
    char guard[400]; /* guard_describe's, or "" */
    char liveness[400]; /* livecheck_describe's, or "" */
    unsigned long liveness_failures[LIVENESS_NREASONS];
    unsigned long replacements[LIVENESS_NREASONS];
    const struct metrics_data *data;
    struct view_listener *listeners;
    size_t nlisteners;
};

/* What the shell knows of the process in gen's slot: fills pid (0: none),
 * ready, uptime_ms and status of p. */
typedef void view_proc_fn(void *arg, unsigned gen, size_t slot,
                          struct view_proc *p);

/* v from the core d at now (ms); the shell's fields are left zero.
 * Returns 0 or -ENOMEM (v is then empty, and view_free() is safe). */
int view_build(struct view *v, const struct deploy *d, uint64_t now,
               view_proc_fn *proc, void *arg);

/* Each listener of plans[0..n) once, with its accept queues (one per
 * generation of v for a steered listener). 0 or -ENOMEM. */
int view_listeners(struct view *v, struct plan *const *plans, size_t n);

void view_free(struct view *v);

/* GET /readyz: an active generation serves and no stop has begun (with
 * stop_delay, the orchestrator takes the endpoint away while the server
 * still answers). */
int view_serving(const struct view *v);

/* The shell's: a whole view of the deployment now (view_take). 0, or
 * -ENOMEM with v holding nothing. */
typedef int view_fn(void *arg, struct view *v);

/* What the shell holds that a view shows. */
struct view_shell {
    struct gen *gens;          /* its processes (generation.h) */
    struct plan *const *plans; /* the live plans, for their listeners */
    size_t nplans;
    const struct config *cfg;  /* the active plan's */
    const struct guard *guard; /* or NULL */
    const struct livecheck *live; /* or NULL */
    const struct metrics_data *data;
    uint64_t uptime_ms;
    unsigned long long last_ms;
};

/* view_build from d at now with sh's processes, then view_listeners and
 * sh's fields. 0 or -ENOMEM (v holds nothing). */
int view_take(struct view *v, const struct deploy *d, uint64_t now,
              const struct view_shell *sh);

/* The state names of a slot's process, as status and metrics print them. */
const char *view_proc_state(const struct view_proc *p);

#endif
