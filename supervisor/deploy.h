/* deploy.h: the deployment's decisions as a pure core: events in (with the
 * time), actions out. */
#ifndef HANDOFF_DEPLOY_H
#define HANDOFF_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "generation.h"

/*
 * The core owns the deployment: generations and their states, each slot's
 * worker state and restart backoff, canary steps and the kept generation
 * with their deadlines, the guard's span, the queued roll requests with
 * their own steps and clients, the stop and its deadlines, the counters.
 * It holds no handle, fd or pid, reads no clock and makes no system call:
 * deploy_event() takes an event and the time, changes the state and
 * appends what is to be done to a list of actions, which the master
 * carries out. An action that can fail (a program swap) is answered by
 * DEV_STEERED before the core goes on; until then nothing depends on it.
 *
 * Times are milliseconds on a monotonic clock, given with each event; 0
 * is "never" for a deadline. The one timer the master arms is at
 * deploy_next_deadline(); DEV_TICK says it fired.
 */

#define DEPLOY_MAX_GENS 16    /* generations alive at once */
#define DEPLOY_MAX_STEPS 16   /* canary steps (CANARY_MAX_STEPS) */
#define DEPLOY_MAX_QUEUE 4    /* rolls waiting behind the current one */
#define DEPLOY_MAX_CLIENTS 16 /* control clients waiting for a roll */
#define DEPLOY_MAX_ACTIONS 256

#define DEPLOY_BACKOFF_FIRST_MS 100
#define DEPLOY_BACKOFF_MAX_MS 30000
#define DEPLOY_HEALTHY_MS 60000 /* ran this long: backoff starts over */
#define DEPLOY_STOP_GRACE_MS 1000
#define DEPLOY_ROLLBACK_RETRY_MS 1000 /* a guard's rollback whose swap failed */
#define DEPLOY_ALL_SLOTS ((size_t)-1)

#define DEPLOY_BYPASS_HINT                                                     \
    "; a worker never asked for a managed address: "                           \
    "a static, Go or setuid program bypasses LD_PRELOAD, use pass = "          \
    "systemd or inherit"

enum deploy_restart {
    DEPLOY_RESTART_ALWAYS,
    DEPLOY_RESTART_ON_FAILURE,
    DEPLOY_RESTART_NEVER
};

struct deploy_step {
    unsigned bps; /* share of client addresses, in 1/100 % */
    uint64_t ms;
};

/* What the core needs of a plan: numbers, no pointer. */
struct deploy_conf {
    unsigned plan; /* the master's name for the plan, carried along */
    unsigned processes;
    enum deploy_restart restart;
    int steered; /* a steered listener: own sockets, swaps */
    int drain_signal;
    uint64_t ready_timeout, drain_timeout, drain_delay;
    uint64_t stop_timeout, stop_delay, keep_previous;
    int shim;       /* pass = shim: a worker asks for its sockets */
    char ready[16]; /* ready =, for the reason of a timeout */
    struct deploy_step steps[DEPLOY_MAX_STEPS]; /* canary = */
    size_t nsteps;
};

enum deploy_wstate { DW_EMPTY, DW_STARTING, DW_READY, DW_STOPPING };

struct deploy_slot {
    enum deploy_wstate w;
    uint64_t started;    /* its worker's start */
    uint64_t backoff_ms; /* the next restart's delay */
    uint64_t restart_at; /* a restart is due then, or 0 */
    int retired;         /* SIGTTOU's: not restarted */
    int lost;            /* kept: started again if traffic returns */
    int asked;           /* its worker asked the shim for a socket */
    int ended;           /* exited, not to be restarted (restart =) */
    unsigned restarts;
};

struct deploy_gen {
    unsigned id; /* 0: this entry is free */
    enum gen_state state;
    struct deploy_conf conf;
    struct deploy_slot *slots;
    size_t nslots;
    size_t live; /* processes running */
    uint64_t started;
    uint64_t ready_at;  /* STARTING: the ready_timeout's deadline */
    uint64_t retire_at; /* steered, superseded: accepting what it holds */
    int queue_empty;    /* its own accept queues are empty */
    uint64_t drain_at;  /* told to drain then, or 0 */
    uint64_t kill_at;   /* SIGKILL due then, or 0 */
    int killed;
    struct deploy_step steps[DEPLOY_MAX_STEPS]; /* its roll's canary */
    size_t nsteps, step;
    uint64_t step_at; /* CANARY: the current step ends then */
    uint64_t keep_at; /* KEPT: kept until then */
    int exit_code;    /* handoff's code for its last exited process */
};

/* A roll asked for while another runs: what it starts with, who waits. */
struct deploy_roll {
    int explicit_steps; /* handoff roll --canary: its own steps */
    struct deploy_step steps[DEPLOY_MAX_STEPS];
    size_t nsteps;
    unsigned clients[DEPLOY_MAX_CLIENTS];
    size_t nclients;
};

/* A control client waiting for the end of the roll of generation gen. */
struct deploy_waiter {
    unsigned client;
    unsigned gen;
};

/* What caused a rollback: the guard label of handoff_rollbacks_total and of
 * the log's event=rollback. A small fixed set, so that an operator can
 * alert on each; a new value is a new series for every dashboard. */
enum deploy_cause {
    DEPLOY_CRASH,
    DEPLOY_PROBE,
    DEPLOY_LATENCY,
    DEPLOY_OPERATOR,
    DEPLOY_NCAUSES
};

/* A program swap asked for and not answered yet. */
enum deploy_pending { DP_NONE, DP_PROMOTE, DP_STEP, DP_ROLLBACK };

/* A rollback asked for (DP_ROLLBACK), or to be tried again: what it is
 * from, why, and who waits for it. A crash's slot is decided once the
 * swap is answered: drained with its generation, or restarted. */
struct deploy_rollback {
    unsigned gen; /* rolled back from */
    enum deploy_cause cause;
    unsigned client;
    uint64_t retry_at;
    int crashed; /* the crash of gen's slot caused it: */
    size_t slot;
    int status;
    uint64_t ran;
    int step_failed; /* a canary step's swap was refused: the roll fails
                        once the clients of the step before are back */
    char why[200];
};

struct deploy {
    struct deploy_gen gens[DEPLOY_MAX_GENS]; /* in no order */
    unsigned next_id;
    unsigned active, starting; /* generation ids, 0: none */
    struct deploy_conf conf;   /* the active plan's, or the first one */
    struct deploy_conf next;   /* a reload's, waiting for its roll */
    int have_next;
    struct deploy_roll queue[DEPLOY_MAX_QUEUE];
    size_t nqueue;
    struct deploy_waiter waiters[DEPLOY_MAX_CLIENTS];
    size_t nwaiters;
    /* Who gets new connections, as the last swap that worked left it:
     * route_canary gets route_bps of client addresses, route_main the
     * rest. */
    unsigned route_main, route_canary, route_bps;
    enum deploy_pending pending;
    unsigned pending_gen;
    unsigned pending_client; /* a promote request waiting for the swap */
    struct deploy_rollback rb;
    unsigned guard_cur, guard_prev; /* the guard's generations, 0: none */
    int guard_latency;              /* judging latency (a canary only) */
    /* The stop. */
    int stopping, finished;
    int stop_sig;
    unsigned stop_gen; /* whose exit status counts */
    uint64_t delay_at; /* stop_delay runs until then */
    int delay_sig;
    uint64_t stop_at, grace_at;
    int exit_code, have_exit_code;
    /* Counters (status, metrics). */
    unsigned rolls_ok, rolls_failed, restarts;
    unsigned rollbacks[DEPLOY_NCAUSES];
    /* The last roll's outcome, for status: 1 promoted, -1 failed. */
    int last_outcome;
    unsigned last_gen;
    char last_reason[256];
    uint64_t timer_at; /* the last DA_TIMER's */
};

enum deploy_event_kind {
    DEV_START,        /* handoff starts: conf is the first plan's */
    DEV_ROLL,         /* SIGUSR2, handoff roll; client 0 for a signal */
    DEV_RELOAD,       /* SIGHUP with a new plan that loaded: conf */
    DEV_SCALE,        /* SIGTTIN (delta 1), SIGTTOU (-1) */
    DEV_STOP,         /* a stop signal (sig), or 0 */
    DEV_SPAWN_FAILED, /* the worker of gen's slot (DEPLOY_ALL_SLOTS: its
                         sockets) could not start: text */
    DEV_ASKED,        /* the worker of gen's slot asked the shim for a socket */
    DEV_READY,        /* the worker of gen's slot passed its check */
    DEV_STOPPING,     /* the worker of gen's slot sent STOPPING=1 */
    DEV_EXITED,       /* the worker of gen's slot exited: status (wait(2)) */
    DEV_TICK,         /* the timer fired */
    DEV_QUEUE_EMPTY,  /* a retiring gen's own accept queues are empty */
    DEV_GUARD_FAILED, /* the guard's verdict: cause, text */
    DEV_STEERED,      /* the answer to the last DA_STEER: err 0 or -errno */
    DEV_PROMOTE,      /* handoff promote: client */
    DEV_ROLLBACK,     /* handoff rollback: client */
};

struct deploy_event {
    enum deploy_event_kind kind;
    unsigned gen;
    size_t slot;
    int status;                      /* DEV_EXITED: as wait(2) gives it */
    int sig;                         /* DEV_STOP */
    int delta;                       /* DEV_SCALE */
    int err;                         /* DEV_SPAWN_FAILED, DEV_STEERED: -errno */
    unsigned client;                 /* a control request's, 0: none */
    enum deploy_cause cause;         /* DEV_GUARD_FAILED */
    const char *text;                /* reason, for the log */
    const char *hint;                /* DEV_EXITED while starting: appended */
    const struct deploy_conf *conf;  /* DEV_START, DEV_RELOAD */
    const struct deploy_step *steps; /* DEV_ROLL: --canary, or NULL */
    size_t nsteps;
};

enum deploy_action_kind {
    DA_JOIN,         /* gen gets its own sockets, reached by its probes only */
    DA_SPAWN,        /* start the worker of gen's slot */
    DA_SIGNAL,       /* sig to the worker of gen's slot (drain, or stop) */
    DA_KILL,         /* SIGKILL to every process of gen */
    DA_STEER,        /* routes: see deploy_steer; answered by DEV_STEERED
                        when it can fail (promote, share) */
    DA_RETIRE,       /* watch gen's own queues: DEV_QUEUE_EMPTY when empty */
    DA_GONE,         /* gen has no process left: its sockets leave, freed */
    DA_PLAN,         /* the active plan is now conf.plan */
    DA_GUARD,        /* guard gen against prev (latency: judged), or none */
    DA_ANSWER,       /* to a control client: ok (1 promoted, 0 failed, -1
                        refused), gen, text */
    DA_PROGRESS,     /* a line for clients waiting for a roll, and status */
    DA_ENDED,        /* gen's roll ended: ok (promoted) or not, text why */
    DA_LOG,          /* level, event name, text */
    DA_STOPPING,     /* the stop began: tell those who wait */
    DA_KILL_ORPHANS, /* stop_timeout: SIGKILL to every process left */
    DA_EXIT,  /* nothing left: exit with code once orphans are gone, or at
                 once (ok: the stop's grace ran out) */
    DA_TIMER, /* the next deadline: at (0: none) */
};

enum deploy_steer { DS_PROMOTE, DS_SHARE, DS_DRAINED };

enum deploy_level { DL_DEBUG, DL_INFO, DL_WARN, DL_ERROR };

struct deploy_action {
    enum deploy_action_kind kind;
    unsigned gen, prev;
    size_t slot;
    int sig;
    enum deploy_steer steer;
    unsigned bps;
    int ok;
    int latency;
    unsigned client;
    unsigned plan;
    int code;
    uint64_t at;
    enum deploy_level level;
    const char *event;
    char text[240];
};

struct deploy_out {
    struct deploy_action a[DEPLOY_MAX_ACTIONS];
    size_t n;
    int overflow; /* more than fit: a defect, reported by the tests */
};

/* An empty deployment; deploy_free() releases its slots. */
void deploy_init(struct deploy *d);
void deploy_free(struct deploy *d);

/* Take one event at now (ms); the actions are appended to out. 0, or
 * -ENOMEM when a slot table could not grow (nothing changed then). */
int deploy_event(struct deploy *d, const struct deploy_event *ev, uint64_t now,
                 struct deploy_out *out);

/* The earliest deadline, 0: none. */
uint64_t deploy_next_deadline(const struct deploy *d);

/* Lookups for the master and status. */
struct deploy_gen *deploy_gen(struct deploy *d, unsigned id);
const struct deploy_gen *deploy_gen_c(const struct deploy *d, unsigned id);
size_t deploy_size(const struct deploy_gen *g); /* slots not retired */
/* Whether a process of g still runs or is about to be restarted. */
int deploy_has_future(const struct deploy_gen *g);
const char *deploy_cause_name(enum deploy_cause c);
/* Whether a roll (queued or starting), a canary, a program swap or a stop is
 * under way: what a replacement of a failed generation waits for. */
int deploy_busy(const struct deploy *d);

#endif
