/* generation.h: generations of workers and their lifecycle state machine. */
#ifndef HANDOFF_GENERATION_H
#define HANDOFF_GENERATION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "canary.h"
#include "reap.h"

/*
 * A generation is the set of processes started by one roll. Its life:
 *
 *   STARTING --all ready--------> ACTIVE --newer promoted / stop--> DRAINING
 *      |  \--worker exited /      ^  |  \                            |
 *      |     ready timeout --> FAILED |   +--all exited (no restart) |
 *      |       ^  ^ rolled back       |                              |
 *      +--canary--> CANARY --all steps done (all_ready)              |
 *      +--stop------------------> DRAINING                           v
 *   ACTIVE --newer promoted, keep_previous--> KEPT --restored--> ACTIVE
 *   KEPT --kept long enough / newer roll / stop--> DRAINING
 *   FAILED, DRAINING, KEPT --all exited--> DONE <--------------------+
 *
 * gen_transition() is that table; every state change goes through it.
 */
enum gen_state {
    GEN_STARTING,
    GEN_ACTIVE,
    GEN_DRAINING,
    GEN_FAILED,
    GEN_DONE,
    GEN_CANARY, /* ready, getting its canary's share of clients */
    GEN_KEPT,   /* superseded but kept up, with no new client, to return to */
};

enum gen_event {
    GEV_ALL_READY,     /* every process passed its readiness check */
    GEV_WORKER_EXIT,   /* a process exited */
    GEV_READY_TIMEOUT, /* ready_timeout passed before all were ready */
    GEV_SUPERSEDED,    /* a newer generation was promoted */
    GEV_STOP,          /* handoff is stopping */
    GEV_ALL_EXITED,    /* no process of it is left */
    GEV_CANARY,        /* ready, with canary steps to go through first */
    GEV_ROLLBACK,      /* traffic went back to the previous generation */
    GEV_KEEP,          /* a newer one was promoted; this one is kept */
    GEV_RESTORE,       /* traffic came back to this kept one */
};

/* The next state, or -1 if the event does not apply in that state. */
int gen_transition(enum gen_state s, enum gen_event e);
const char *gen_state_name(enum gen_state s);
const char *gen_event_name(enum gen_event e);

enum worker_state { W_STARTING, W_READY, W_STOPPING, W_EXITED };

struct plan;
struct gen;
struct probe;
struct channel;
struct worker_ctx;
struct listener;

#define WORKER_MAX_EXTRAS 8 /* a group has 16 members at most */

struct worker {
    struct child child; /* registered with the reaper while it runs */
    struct gen *gen;
    struct worker_ctx *ctx; /* what started it (worker.h) */
    size_t slot;
    enum worker_state state;
    uint64_t started_ns;
    uint64_t ready_ns;
    struct channel *chan;
    struct probe *probe;
    int exec_report;       /* spawn's report pipe until the exec is known */
    int exec_step, exec_err; /* what failed before the exec (spawn.h) */
    uv_poll_t *exec_poll;  /* watches it */
    int stopping_notified; /* sent STOPPING=1 */
    uint64_t drain_ns;     /* when its group got the drain signal, or 0 */
    int killed;            /* its group got SIGKILL */
    char status[128];      /* last STATUS= */
    /* Sockets lent to it beyond its generation's first (a server that
     * binds a UDP address once per thread): they leave when it exits. */
    struct worker_extra {
        struct listener *l; /* a reference held */
        int fd;
    } extras[WORKER_MAX_EXTRAS];
    size_t nextras;
};

/* A place for one process in a generation; a restarted process reuses it.
 * Its decisions are the deployment core's (deploy.h); these mirror them. */
struct slot {
    struct worker *w;
    int retired; /* removed by SIGTTOU: not restarted */
};

struct gen {
    unsigned id;
    enum gen_state state; /* the core's, mirrored */
    struct plan *plan;
    struct slot *slots;
    size_t nslots;
    uv_timer_t *timer; /* retiring: looks at its accept queues */
    uint64_t started_ns;
    int killed;   /* SIGKILL sent */
    int bypassed; /* the command cannot load the shim (reach.h) */
    int join_failed; /* its sockets could not be made: nothing starts */
    struct gen *next;
};

/* Pure helpers over a generation's slots, for the master and the tests. */
size_t gen_count_state(const struct gen *g, enum worker_state s);
/* The main processes of g's running workers, at most cap in out (g NULL:
 * none). Returns how many. */
size_t gen_pids(const struct gen *g, pid_t *out, size_t cap);
/* The generation id in list, or NULL (id 0: none). */
struct gen *gen_find(struct gen *list, unsigned id);
/* Room for n slots, which SIGTTIN or a restored size may have added: the
 * new ones empty. 0 or -ENOMEM (g unchanged). */
int gen_reserve(struct gen *g, size_t n);

#endif
