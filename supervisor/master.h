/* master.h: the master's state, and the events its parts report to it. */
#ifndef HANDOFF_MASTER_H
#define HANDOFF_MASTER_H

#include <limits.h>
#include <uv.h>

#include "channel.h"
#include "config.h"
#include "generation.h"
#include "listener.h"
#include "metrics.h"
#include "plan.h"
#include "probe.h"
#include "readiness.h"
#include "reap.h"
#include "rollout.h"
#include "steer.h"

struct control;
struct metrics;
struct guard;
struct remnant;
struct sdnotify;
struct signals;

struct master {
    uv_loop_t *loop;
    const struct config_args *args;
    struct plan *plan;      /* of the active generation */
    struct plan *next_plan; /* a reloaded plan waiting for its roll */
    struct gen *gens;       /* newest first */
    struct gen *active;
    struct gen *starting;
    unsigned next_id;
    int roll_pending;
    uint64_t roll_ns; /* when the current roll was asked for */
    int stopping;
    int finished;
    int orphans_termed;
    int orphans_killed;
    struct gen *stop_gen; /* active (or first, starting) at the stop: its code counts */
    int exit_code;
    int have_exit_code;
    int stop_sig; /* the signal that stopped handoff, or 0 */
    uv_timer_t *stop_timer;
    uv_timer_t *delay_timer; /* stop_delay running: still serving */
    uv_timer_t *path_timer;  /* looks for unix socket files that vanished */
    int delay_sig;
    struct reaper reaper;
    struct probe_host probes;       /* the loop and the reaper, for probe.h */
    struct readiness_ctx readiness; /* for workers' checks (readiness.h) */
    struct channel_ctx channels;    /* for their control channels */
    struct notify *notify;
    char notify_path[PATH_MAX];
    char rundir[PATH_MAX];
    char shim_path[PATH_MAX];
    struct signals *signals; /* handoff's own (signals.h) */
    unsigned rolls_ok, rolls_failed;
    unsigned restarts;         /* of workers of active generations */
    uint64_t started_ns;       /* when handoff started */
    struct control *control;   /* the control socket, or NULL */
    struct sdnotify *sdnotify; /* handoff's own NOTIFY_SOCKET, or NULL */
    struct remnant *remnants;  /* exited workers' groups left (worker.c) */
    struct steer_plan steering; /* who gets new connections (traffic.h) */
    struct guard *guard;        /* during a canary or keep_previous */
    unsigned rollbacks[ROLLOUT_NCAUSES]; /* by cause (rollout.h) */
    struct canary_step roll_steps[CANARY_MAX_STEPS]; /* handoff roll --canary */
    size_t roll_nsteps;
    struct metrics *metrics;          /* the HTTP endpoint, or NULL */
    struct metrics_data metrics_data; /* observations (metrics.h) */
};

/* The whole life of the master; returns handoff's exit code. */
int master_run(const struct config_args *args, struct config *cfg);

/* Events from signals and the control socket. */
void master_roll(struct master *m, const char *why);
void master_stop(struct master *m, int sig);

/* The reaper's callback for a worker (its struct child comes first). */
void master_on_worker_exit(struct child *c, int status);

/* For rollout.c: the roll's steps, each as the roll does it. */
int master_set_state(struct gen *g, enum gen_event e); /* logs; -1: refused */
void master_promote(struct master *m, struct gen *g); /* every client to g */
/* The program swap of g's promotion or canary step (at: "promotion",
 * "canary step 2 of 3") was refused: g's roll fails; a canary's clients go
 * back first to the generation that never stopped serving. */
void master_swap_failed(struct master *m, struct gen *g, int rc,
                        const char *at);
void master_gen_done(struct master *m, struct gen *g); /* its last process left */
void master_restore(struct master *m, struct gen *kept); /* active again */
void master_start_slot(struct master *m, struct gen *g, size_t slot);
void master_service_ended(struct master *m, struct gen *g); /* none left */
void master_roll_finished(struct master *m);          /* start a queued roll */

/* The plans something still uses (active, reloaded, every generation's;
 * NULLs included), at most cap in out. Returns how many. */
#define MASTER_MAX_PLANS 66
size_t master_live_plans(struct master *m, struct plan **out, size_t cap);

/* Monotonic time in nanoseconds. */
uint64_t master_now(void);

#endif
