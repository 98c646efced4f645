/* test_deploy.c: the deployment core driven by random event sequences, its
 * invariants checked after every event. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "deploy.h"
#include "state.h"

/*
 * A world around the core: processes that start, get ready, exit when told
 * to drain (or only when killed), a steering table that keeps what the
 * last working swap set, control clients. The world moves only by moves,
 * a list of small records: a sequence is replayed exactly from its moves
 * and its seed, shrunk by dropping moves, and printed as a test case.
 */

enum op {
    M_ADVANCE,  /* time passes: a ms; processes and timers act */
    M_ROLL,     /* a: 0 signal, 1 client; b: 0 the file's canary, 1-3 steps */
    M_RELOAD,   /* a: the new plan's seed */
    M_SCALE,    /* a: 1 up, 0 down */
    M_STOP,     /* a: the signal */
    M_CRASH,    /* a: which live process (mod); b: 0 code 0, 1 code 1, 2 KILL */
    M_READY,    /* a: which starting process (mod) is ready now */
    M_GUARD,    /* the guard fails the generation it watches: a cause */
    M_PROMOTE,  /* handoff promote */
    M_ROLLBACK, /* handoff rollback */
    M_STOPPING, /* a: which starting process sends STOPPING=1 */
    M_QEMPTY,   /* every retiring generation's queue is empty */
    M_FAILSWAP, /* the next swap that can fail fails (a: and the one after) */
    M_FAILSPAWN, /* the next spawn fails */
    M_NOPS
};

static const char *const op_names[M_NOPS] = {
    "M_ADVANCE",  "M_ROLL",   "M_RELOAD",   "M_SCALE",    "M_STOP",
    "M_CRASH",    "M_READY",  "M_GUARD",    "M_PROMOTE",  "M_ROLLBACK",
    "M_STOPPING", "M_QEMPTY", "M_FAILSWAP", "M_FAILSPAWN"};

struct move {
    enum op op;
    unsigned a, b;
};

#define MAX_MOVES 600
#define MAX_PROCS 256
#define MAX_CLIENTS 1024
#define KILL_MS 5        /* a SIGKILLed process is reaped within it */
#define UPGRADE_ONE_IN 8 /* sequences with an upgrade (I11) */

struct proc {
    unsigned gen;
    size_t slot;
    uint64_t ready_at; /* 0: not ready by itself */
    uint64_t exit_at;  /* 0: not exiting */
    int status;
};

/* What a sequence went through, for the coverage the test prints. */
static const char *const seen_names[] = {
    "canary",         "kept",           "rollback",   "roll_failed",
    "restart",        "roll_queued",    "stop_delay", "kept_end",
    "no_worker_left", "restart_failed", "retired",    "stop_timeout",
    "scale"};
#define NSEEN (sizeof(seen_names) / sizeof(seen_names[0]))

struct world {
    unsigned seen; /* bits of seen_names */
    unsigned long events;
    struct deploy d;
    uint64_t now;
    unsigned seed;
    struct proc procs[MAX_PROCS];
    size_t nprocs;
    unsigned main, canary, bps; /* what the kernel's programs say */
    int fail_swap, fail_spawn;
    unsigned nclients;
    int answers[MAX_CLIENTS];
    int client_steps[MAX_CLIENTS]; /* 0: no --canary, else its b */
    unsigned answer_gen[MAX_CLIENTS];
    unsigned joins;                    /* rolls started */
    unsigned stopped_starting;         /* rolls a stop cut short */
    unsigned promoted, failed;         /* rolls that ended so, by transitions */
    uint64_t left_at[4096];            /* when gen i left serving, 0: not yet */
    uint64_t stop_at;                  /* when a stop was asked for */
    uint64_t stop_began, stop_timeout; /* when it began, after stop_delay */
    int exited, exit_code;
    int tame; /* the fixed cases': ready in 10 ms, drained in 10 ms */
    struct deploy_event deferred[DEPLOY_MAX_ACTIONS]; /* spawns that failed */
    size_t ndeferred;
    char why[512]; /* the broken invariant */
    struct deploy_out out;
};

static unsigned
hash(unsigned a, unsigned b)
{
    unsigned h = a * 2654435761u ^ (b + 0x9e3779b9u + (a << 6) + (a >> 2));

    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    return h;
}

/* A plan from its seed: the ranges the property is stated over. */
static void
conf_of(unsigned seed, struct deploy_conf *c)
{
    unsigned r = hash(seed, 1);

    memset(c, 0, sizeof(*c));
    c->plan = seed;
    c->processes = 1 + r % 4;
    c->restart = (enum deploy_restart)(hash(seed, 2) % 3);
    c->steered = hash(seed, 3) % 5 != 0;
    c->drain_signal = SIGTERM;
    c->ready_timeout = 200 + hash(seed, 4) % 3000;
    c->drain_timeout = 50 + hash(seed, 5) % 2000;
    c->drain_delay = hash(seed, 6) % 300;
    c->stop_timeout = 100 + hash(seed, 7) % 2000;
    c->stop_delay = hash(seed, 8) % 3 == 0 ? hash(seed, 9) % 800 : 0;
    c->keep_previous = hash(seed, 10) % 2 ? 100 + hash(seed, 11) % 3000 : 0;
    c->shim = hash(seed, 12) % 2;
    snprintf(c->ready, sizeof(c->ready), "listen");
    c->nsteps = hash(seed, 13) % 4;
    for (size_t i = 0; i < c->nsteps; i++) {
        c->steps[i].bps = 100 + hash(seed, 20 + (unsigned)i) % 4900;
        c->steps[i].ms = 50 + hash(seed, 30 + (unsigned)i) % 1500;
    }
}

/* handoff roll --canary's steps for b (1-3). */
static size_t
steps_of(unsigned b, struct deploy_step *s)
{
    for (unsigned i = 0; i < b; i++) {
        s[i].bps = 1000 * (i + 1);
        s[i].ms = 100 * b + 50 * i;
    }
    return b;
}

static int tracing; /* DEPLOY_TRACE: print every action of the first run */

static void broken(struct world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
broken(struct world *w, const char *fmt, ...)
{
    va_list ap;

    if (w->why[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(w->why, sizeof(w->why), fmt, ap);
    va_end(ap);
    for (size_t i = 0; tracing && i < DEPLOY_MAX_GENS; i++) {
        const struct deploy_gen *g = &w->d.gens[i];
        if (g->id == 0)
            continue;
        printf("# gen %u %s live %zu:", g->id, gen_state_name(g->state),
               g->live);
        for (size_t k = 0; k < g->nslots; k++)
            printf(" [w%d r%d l%d e%d at%llu]", g->slots[k].w,
                   g->slots[k].retired, g->slots[k].lost, g->slots[k].ended,
                   (unsigned long long)g->slots[k].restart_at);
        printf("\n");
    }
}

static struct proc *
proc_of(struct world *w, unsigned gen, size_t slot)
{
    for (size_t i = 0; i < w->nprocs; i++)
        if (w->procs[i].gen == gen && w->procs[i].slot == slot)
            return &w->procs[i];
    return NULL;
}

static void feed(struct world *w, const struct deploy_event *ev);

/* Carry out the core's actions, as the master would. */
static void
run_actions(struct world *w, size_t from)
{
    size_t end = w->out.n; /* a nested event carries out its own */

    for (size_t i = from; i < end && !w->why[0]; i++) {
        struct deploy_action a = w->out.a[i];
        struct proc *p;

        if (tracing)
            printf("# %llu %d gen=%u slot=%zu %s %s\n",
                   (unsigned long long)w->now, (int)a.kind, a.gen, a.slot,
                   a.event ? a.event : "", a.text);
        switch (a.kind) {
        case DA_SPAWN:
            if (proc_of(w, a.gen, a.slot) != NULL) {
                broken(w, "spawn of gen %u slot %zu: a process runs there",
                       a.gen, a.slot);
                break;
            }
            if (w->fail_spawn) {
                /* Reported once the list is carried out, as the master
                 * does: the core hears of it as an event. */
                w->fail_spawn = 0;
                w->deferred[w->ndeferred++] = (struct deploy_event){
                    .kind = DEV_SPAWN_FAILED,
                    .gen = a.gen,
                    .slot = a.slot,
                    .text = "Resource temporarily unavailable"};
                break;
            }
            if (w->nprocs == MAX_PROCS) {
                broken(w, "more than %d processes", MAX_PROCS);
                break;
            }
            p = &w->procs[w->nprocs++];
            memset(p, 0, sizeof(*p));
            p->gen = a.gen;
            p->slot = a.slot;
            /* Every fourth generation but the first never gets ready by
             * itself. */
            if (w->tame)
                p->ready_at = w->now + 10;
            else if (a.gen == 1 || hash(w->seed, a.gen) % 4 != 0)
                p->ready_at = w->now + 1 + hash(w->seed, a.gen * 7) % 400;
            break;
        case DA_SIGNAL:
            if ((p = proc_of(w, a.gen, a.slot)) == NULL) {
                /* Its spawn failed and the core hears of it next. */
                int failed = 0;
                for (size_t k = 0; k < w->ndeferred; k++)
                    failed |= w->deferred[k].gen == a.gen &&
                              w->deferred[k].slot == a.slot;
                if (!failed)
                    broken(w, "signal to gen %u slot %zu: no process", a.gen,
                           a.slot);
                break;
            }
            /* Every third generation ignores its drain signal. */
            if ((w->tame || hash(w->seed, a.gen * 3) % 3 != 0) &&
                p->exit_at == 0) {
                p->exit_at = w->now + 1 +
                             (w->tame ? 10 : hash(w->seed, a.gen * 5) % 300);
                p->status = a.sig; /* killed by it: a W status of sig */
            }
            break;
        case DA_KILL:
            for (size_t k = 0; k < w->nprocs; k++)
                if (w->procs[k].gen == a.gen &&
                    (w->procs[k].exit_at == 0 ||
                     w->procs[k].exit_at > w->now + KILL_MS)) {
                    w->procs[k].exit_at = w->now + KILL_MS;
                    w->procs[k].status = SIGKILL;
                }
            break;
        case DA_KILL_ORPHANS:
            for (size_t k = 0; k < w->nprocs; k++)
                if (w->procs[k].exit_at == 0 ||
                    w->procs[k].exit_at > w->now + KILL_MS) {
                    w->procs[k].exit_at = w->now + KILL_MS;
                    w->procs[k].status = SIGKILL;
                }
            break;
        case DA_STEER:
            if (a.steer == DS_DRAINED) {
                if (w->main == a.gen)
                    w->main = 0;
                if (w->canary == a.gen)
                    w->canary = 0;
                break;
            }
            if (w->d.pending != DP_NONE) {
                /* A swap that can fail: answered before anything else. */
                int err = 0;
                if (w->fail_swap) {
                    w->fail_swap--;
                    err = -E2BIG;
                } else if (a.steer == DS_PROMOTE) {
                    w->main = a.gen;
                    w->canary = 0;
                } else {
                    w->canary = a.gen;
                    w->bps = a.bps;
                }
                struct deploy_event ev = {.kind = DEV_STEERED, .err = err};
                feed(w, &ev);
                break;
            }
            if (a.steer == DS_PROMOTE) {
                w->main = a.gen;
                w->canary = 0;
            } else {
                broken(w, "a share swap nobody waits for");
            }
            break;
        case DA_JOIN:
            w->joins++;
            break;
        case DA_LOG:
            for (unsigned k = 0; k < NSEEN; k++)
                if (strcmp(a.event, seen_names[k]) == 0)
                    w->seen |= 1u << k;
            /* A roll ends promoted, failed, or cut short by the stop. */
            if (strcmp(a.event, "transition") == 0) {
                char was[16], to[16];
                unsigned id;
                if (sscanf(a.text, "gen=%u from=%15s to=%15s", &id, was, to) ==
                        3 &&
                    (strcmp(was, "starting") == 0 ||
                     strcmp(was, "canary") == 0)) {
                    if (strcmp(to, "active") == 0)
                        w->promoted++;
                    else if (strcmp(to, "failed") == 0)
                        w->failed++;
                    else if (strcmp(to, "draining") == 0)
                        w->stopped_starting++;
                }
            }
            break;
        case DA_GONE:
            /* Its sockets left their groups: the kernel forgets it. */
            if (w->main == a.gen)
                w->main = 0;
            if (w->canary == a.gen)
                w->canary = 0;
            break;
        case DA_ANSWER:
            if (a.client == 0 || a.client > w->nclients) {
                broken(w, "an answer to client %u, who never asked", a.client);
                break;
            }
            if (++w->answers[a.client - 1] > 1)
                broken(w, "client %u answered twice", a.client);
            w->answer_gen[a.client - 1] = a.ok == 1 ? a.gen : 0;
            break;
        case DA_EXIT:
            /* Once when nothing is left; the grace's end may follow, for
             * the master to stop waiting for orphans. */
            if (w->exited && !a.ok)
                broken(w, "exit twice");
            w->exited = 1;
            w->exit_code = a.code;
            break;
        default:
            break;
        }
    }
}

static void
feed(struct world *w, const struct deploy_event *ev)
{
    size_t from = w->out.n;
    int rc;

    if (ev->kind != DEV_STEERED && w->d.pending != DP_NONE) {
        broken(w, "an event while a swap is awaited");
        return;
    }
    rc = deploy_event(&w->d, ev, w->now, &w->out);
    w->events++;
    if (rc < 0 && rc != -ENOMEM)
        broken(w, "deploy_event: %d", rc);
    if (w->out.overflow)
        broken(w, "more than %d actions", DEPLOY_MAX_ACTIONS);
    run_actions(w, from);
}

/* Upgrades in the sequences so far (I11). */
static unsigned long upgrades;

/* I11: an upgrade now; the world goes on with the core read back. */
static void
upgrade(struct world *w)
{
    struct deploy e;
    char err[256] = "", *text;
    json_t *doc = state_write(&w->d), *parsed = NULL, *again = NULL;

    text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text != NULL)
        parsed = json_loads(text, 0, NULL);
    if (parsed == NULL) {
        broken(w, "I11 the state was not written");
    } else if (state_read(&e, parsed, err, sizeof(err)) < 0) {
        broken(w, "I11 the state written is not read back: %s", err);
    } else {
        again = state_write(&e);
        if (!json_equal(doc, again))
            broken(w, "I11 the state read back writes another document");
        deploy_free(&w->d);
        w->d = e;
        upgrades++;
    }
    json_decref(doc);
    json_decref(parsed);
    json_decref(again);
    free(text);
}

static void
event(struct world *w, struct deploy_event ev)
{
    w->out.n = 0;
    w->ndeferred = 0;
    feed(w, &ev);
    for (size_t i = 0; i < w->ndeferred && !w->why[0]; i++) {
        struct deploy_event f = w->deferred[i];
        feed(w, &f);
    }
}

/* The next thing due in the world or the core, at most until. */
static uint64_t
next_due(struct world *w, uint64_t until)
{
    uint64_t t = until, c = deploy_next_deadline(&w->d);

    if (c != 0 && c < t)
        t = c;
    for (size_t i = 0; i < w->nprocs; i++) {
        if (w->procs[i].exit_at && w->procs[i].exit_at < t)
            t = w->procs[i].exit_at;
        if (w->procs[i].ready_at && w->procs[i].ready_at < t)
            t = w->procs[i].ready_at;
    }
    return t < w->now ? w->now : t;
}

static void check(struct world *w);

static void
advance(struct world *w, uint64_t ms)
{
    uint64_t until = w->now + ms;

    for (int n = 0; n < 10000 && !w->why[0]; n++) {
        uint64_t t = next_due(w, until);
        int did = 0;

        w->now = t;
        for (size_t i = 0; i < w->nprocs && !w->why[0]; i++) {
            struct proc *p = &w->procs[i];
            if (p->exit_at && p->exit_at <= t) {
                struct deploy_event ev = {.kind = DEV_EXITED,
                                          .gen = p->gen,
                                          .slot = p->slot,
                                          .status = p->status,
                                          .text = "signal"};
                unsigned crashes = w->d.rollbacks[DEPLOY_CRASH];
                *p = w->procs[--w->nprocs];
                event(w, ev);
                /* I10: it exited because handoff told it to. */
                if (w->d.rollbacks[DEPLOY_CRASH] != crashes)
                    broken(w,
                           "I10 gen %u slot %zu drained or killed, taken "
                           "for a crash",
                           ev.gen, ev.slot);
                check(w);
                did = 1;
                break;
            }
            if (p->ready_at && p->ready_at <= t) {
                struct deploy_event ev = {
                    .kind = DEV_READY, .gen = p->gen, .slot = p->slot};
                p->ready_at = 0;
                event(w, ev);
                check(w);
                did = 1;
                break;
            }
        }
        if (did)
            continue;
        if (deploy_next_deadline(&w->d) != 0 &&
            deploy_next_deadline(&w->d) <= t) {
            event(w, (struct deploy_event){.kind = DEV_TICK});
            check(w);
            continue;
        }
        if (t >= until)
            return;
    }
}

static void
apply(struct world *w, const struct move *m)
{
    struct deploy_step steps[DEPLOY_MAX_STEPS];
    struct deploy_conf c;
    struct deploy_event ev = {.kind = DEV_TICK};
    size_t n = 0;

    switch (m->op) {
    case M_ADVANCE:
        advance(w, m->a);
        return;
    case M_ROLL:
        ev.kind = DEV_ROLL;
        ev.text = "test";
        if (m->a && w->nclients < MAX_CLIENTS) {
            ev.client = ++w->nclients;
            w->client_steps[ev.client - 1] = (int)(m->b % 4);
        }
        if (m->b % 4) {
            ev.nsteps = steps_of(m->b % 4, steps);
            ev.steps = steps;
        }
        break;
    case M_RELOAD:
        conf_of(w->seed * 131 + m->a, &c);
        ev.kind = DEV_RELOAD;
        ev.conf = &c;
        ev.text = "SIGHUP";
        break;
    case M_SCALE:
        ev.kind = DEV_SCALE;
        ev.delta = m->a ? 1 : -1;
        break;
    case M_STOP:
        ev.kind = DEV_STOP;
        ev.sig = (int)m->a;
        if (w->stop_at == 0)
            w->stop_at = w->now;
        break;
    case M_CRASH:
        if (w->nprocs == 0)
            return;
        n = m->a % w->nprocs;
        ev.kind = DEV_EXITED;
        ev.gen = w->procs[n].gen;
        ev.slot = w->procs[n].slot;
        ev.status = m->b % 3 == 2 ? SIGKILL : (int)(m->b % 3) << 8;
        ev.text = "crash";
        w->procs[n] = w->procs[--w->nprocs];
        break;
    case M_READY:
    case M_STOPPING:
        for (size_t i = 0, k = 0; i < w->nprocs; i++) {
            const struct deploy_gen *g = deploy_gen_c(&w->d, w->procs[i].gen);
            if (g == NULL || g->slots[w->procs[i].slot].w != DW_STARTING)
                continue;
            if (k++ == m->a % 4) {
                ev.kind = m->op == M_READY ? DEV_READY : DEV_STOPPING;
                ev.gen = w->procs[i].gen;
                ev.slot = w->procs[i].slot;
                if (m->op == M_READY)
                    w->procs[i].ready_at = 0;
                break;
            }
        }
        if (ev.kind == DEV_TICK)
            return;
        break;
    case M_GUARD:
        ev.kind = DEV_GUARD_FAILED;
        ev.gen = w->d.guard_cur;
        ev.cause = m->a % 2 ? DEPLOY_PROBE : DEPLOY_LATENCY;
        ev.text = "probe failed";
        break;
    case M_PROMOTE:
    case M_ROLLBACK:
        ev.kind = m->op == M_PROMOTE ? DEV_PROMOTE : DEV_ROLLBACK;
        if (w->nclients < MAX_CLIENTS)
            ev.client = ++w->nclients;
        break;
    case M_QEMPTY:
        for (size_t i = 0; i < DEPLOY_MAX_GENS; i++)
            if (w->d.gens[i].id != 0 && w->d.gens[i].retire_at != 0) {
                event(w, (struct deploy_event){.kind = DEV_QUEUE_EMPTY,
                                               .gen = w->d.gens[i].id});
                check(w);
            }
        return;
    case M_FAILSWAP:
        w->fail_swap = 1 + (int)(m->a % 2);
        return;
    case M_FAILSPAWN:
        w->fail_spawn = 1;
        return;
    case M_NOPS:
        return;
    }
    event(w, ev);
    check(w);
}

/* --- the invariants ----------------------------------------------------------
 */

static int
serving(enum gen_state s)
{
    return s == GEN_ACTIVE || s == GEN_CANARY;
}

/*
 * The invariants, each with why it matters:
 *  I1 the kernel routes clients only to a generation that is ready and
 *     serving (active or canary): a starting, failed, draining or kept one
 *     would fail or strand them;
 *  I2 while handoff runs and a generation is active, the kernel routes to
 *     it: clients are never left to no one;
 *  I3 the core's idea of the routes is the kernel's: a swap that failed
 *     changed neither, so the core never acts on routes it does not have;
 *  I4 a generation told to drain is gone by its retirement plus its drain
 *     (or stop) timeout plus the kill: nothing lingers;
 *  I5 every control request is answered at most once while it runs and
 *     exactly once by the end; a promoted roll that asked for its own
 *     canary ran that canary;
 *  I6 handoff never sits with nothing serving and nothing starting: it
 *     restarts, rolls back, or stops, and a stop ends in bounded time;
 *  I7 status and counters say what the state is: the last outcome
 *     "promoted" names the active generation, and every roll started is
 *     counted promoted, failed, under way or cut short by the stop;
 *  I8 a kept generation traffic returns to is at its size, and the
 *     guard, canary steps and keep deadline live only with what they
 *     watch;
 *  I9 the books balance: processes the core counts are the world's, each
 *     state has the generation the core names for it;
 * I10 an exit handoff asked for (a drain, SIGTTOU, a kill) is never
 *     judged a crash: rollbacks{guard="crash"} counts the server's own;
 * I11 the state handoff upgrade carries is the whole state: in one
 *     sequence in UPGRADE_ONE_IN, between two moves the seed picks, the
 *     core is written (state.h) and read back, the copy writes the same
 *     document, and the sequence goes on with the copy.
 */
static void
check(struct world *w)
{
    struct deploy *d = &w->d;
    size_t nactive = 0, nkept = 0, ncanary = 0;

    if (w->why[0] || d->pending != DP_NONE)
        return;
    for (size_t i = 0; i < DEPLOY_MAX_GENS; i++) {
        const struct deploy_gen *g = &d->gens[i];
        size_t live = 0, procs = 0;

        if (g->id == 0)
            continue;
        for (size_t k = 0; k < g->nslots; k++) {
            live += g->slots[k].w != DW_EMPTY;
            procs += proc_of(w, g->id, k) != NULL;
        }
        if (live != g->live || procs != live)
            broken(w, "I9 gen %u: live %zu, slots %zu, processes %zu", g->id,
                   g->live, live, procs);
        nactive += g->state == GEN_ACTIVE;
        nkept += g->state == GEN_KEPT;
        ncanary += g->state == GEN_CANARY;
        if (g->state == GEN_ACTIVE && g->id != d->active)
            broken(w, "I9 gen %u active, the core names %u", g->id, d->active);
        if ((g->state == GEN_STARTING || g->state == GEN_CANARY) &&
            g->id != d->starting)
            broken(w, "I9 gen %u %s, starting is %u", g->id,
                   gen_state_name(g->state), d->starting);
        if (g->step_at != 0 && g->state != GEN_CANARY)
            broken(w, "I8 gen %u %s with a canary step running", g->id,
                   gen_state_name(g->state));
        if (g->keep_at != 0 && g->state != GEN_KEPT)
            broken(w, "I8 gen %u %s with a keep deadline", g->id,
                   gen_state_name(g->state));
        if (g->id < 4096) {
            if (!serving(g->state) && g->state != GEN_STARTING &&
                g->state != GEN_KEPT && w->left_at[g->id] == 0)
                w->left_at[g->id] = w->now;
            /* Retired for drain_timeout at most, then drained for its
             * drain_timeout, or the stop's (the active plan's). */
            uint64_t bound = g->conf.drain_timeout +
                             (g->conf.drain_timeout > d->conf.stop_timeout
                                  ? g->conf.drain_timeout
                                  : d->conf.stop_timeout) +
                             KILL_MS + 2;
            if (w->left_at[g->id] && w->now > w->left_at[g->id] + bound)
                broken(w,
                       "I4 gen %u still there %llu ms after it stopped "
                       "serving (bound %llu)",
                       g->id, (unsigned long long)(w->now - w->left_at[g->id]),
                       (unsigned long long)bound);
        }
    }
    if (nactive > 1 || nkept > 1 || ncanary > 1)
        broken(w, "I9 %zu active, %zu kept, %zu canaries", nactive, nkept,
               ncanary);
    if (!d->stopping && d->active != 0 &&
        (deploy_gen_c(d, d->active) == NULL ||
         deploy_gen_c(d, d->active)->state != GEN_ACTIVE))
        broken(w, "I9 active gen %u is not (%s)", d->active,
               deploy_gen_c(d, d->active)
                   ? gen_state_name(deploy_gen_c(d, d->active)->state)
                   : "gone");
    if ((d->guard_cur != 0) != (ncanary + nkept > 0))
        broken(w, "I8 guard on gen %u with %zu canaries and %zu kept",
               d->guard_cur, ncanary, nkept);
    /* I1 */
    if (w->main != 0 && (deploy_gen_c(d, w->main) == NULL ||
                         deploy_gen_c(d, w->main)->state != GEN_ACTIVE))
        broken(w, "I1 clients routed to gen %u, %s", w->main,
               deploy_gen_c(d, w->main)
                   ? gen_state_name(deploy_gen_c(d, w->main)->state)
                   : "gone");
    if (w->canary != 0 && (deploy_gen_c(d, w->canary) == NULL ||
                           deploy_gen_c(d, w->canary)->state != GEN_CANARY))
        broken(w, "I1 canary clients routed to gen %u, %s", w->canary,
               deploy_gen_c(d, w->canary)
                   ? gen_state_name(deploy_gen_c(d, w->canary)->state)
                   : "gone");
    /* I2 */
    if (!d->stopping && d->active != 0 && w->main != d->active)
        broken(w, "I2 gen %u active, clients routed to %u", d->active, w->main);
    /* I3 */
    if (d->route_main != w->main || d->route_canary != w->canary)
        broken(w, "I3 the core routes to %u/%u, the kernel to %u/%u",
               d->route_main, d->route_canary, w->main, w->canary);
    /* I6 */
    if (!d->stopping) {
        const struct deploy_gen *a = deploy_gen_c(d, d->active);
        if (d->starting == 0 && (a == NULL || !deploy_has_future(a)))
            broken(w, "I6 nothing serves and nothing starts");
    } else {
        if (w->stop_began == 0) {
            w->stop_began = w->now;
            w->stop_timeout = d->conf.stop_timeout;
        }
        if (!w->exited && w->now > w->stop_began + w->stop_timeout +
                                       DEPLOY_STOP_GRACE_MS + 2 * KILL_MS + 2)
            broken(w, "I6 stopping for %llu ms",
                   (unsigned long long)(w->now - w->stop_began));
    }
    /* I7 */
    if (!d->stopping && d->last_outcome == 1 && d->last_gen != d->active)
        broken(w, "I7 status says gen %u promoted, gen %u is active",
               d->last_gen, d->active);
    if (d->rolls_ok != w->promoted || d->rolls_failed != w->failed ||
        w->promoted + w->failed + (d->starting != 0) + w->stopped_starting !=
            w->joins)
        broken(w,
               "I7 %u rolls started: %u promoted (counted %u), %u failed "
               "(counted %u), %d under way, %u stopped",
               w->joins, w->promoted, d->rolls_ok, w->failed, d->rolls_failed,
               d->starting != 0, w->stopped_starting);
    /* I5 */
    for (unsigned c = 0; c < w->nclients; c++) {
        const struct deploy_gen *g = deploy_gen_c(d, w->answer_gen[c]);
        struct deploy_step s[DEPLOY_MAX_STEPS];
        size_t n;

        if (w->client_steps[c] == 0 || g == NULL)
            continue;
        n = steps_of((unsigned)w->client_steps[c], s);
        int same = g->nsteps == n;
        for (size_t k = 0; same && k < n; k++)
            same = g->steps[k].bps == s[k].bps && g->steps[k].ms == s[k].ms;
        if (!same)
            broken(w, "I5 client %u asked for %d steps, gen %u ran %zu", c + 1,
                   w->client_steps[c], g->id, g->nsteps);
    }
}

/* I8: right after traffic returned to a kept generation. */
static void
check_restored(struct world *w, unsigned before_active)
{
    const struct deploy_gen *g = deploy_gen_c(&w->d, w->d.active);

    if (g == NULL || g->id >= before_active || w->why[0])
        return;
    if (deploy_size(g) != g->conf.processes)
        broken(w, "I8 gen %u restored with %zu of %u processes", g->id,
               deploy_size(g), g->conf.processes);
    for (size_t k = 0; k < g->nslots; k++)
        if (!g->slots[k].retired && !g->slots[k].ended &&
            g->slots[k].w == DW_EMPTY && g->slots[k].restart_at == 0)
            broken(w, "I8 gen %u restored without slot %zu", g->id, k);
}

/* --- sequences
 * ---------------------------------------------------------------- */

static void
world_init(struct world *w, unsigned seed)
{
    struct deploy_conf c;

    memset(w, 0, sizeof(*w));
    w->seed = seed;
    w->now = 1000;
    deploy_init(&w->d);
    conf_of(seed, &c);
    event(w, (struct deploy_event){.kind = DEV_START, .conf = &c});
    check(w);
}

/* Run moves; 0 if every invariant held, else -1 and w->why. The end:
 * a stop, and time for it to finish. */
static int
run(struct world *w, unsigned seed, const struct move *mv, size_t n)
{
    size_t upgrade_at = seed % UPGRADE_ONE_IN == 0
                            ? seed / UPGRADE_ONE_IN % (n + 1)
                            : (size_t)-1;

    world_init(w, seed);
    for (size_t i = 0; i < n && !w->why[0] && !w->exited; i++) {
        unsigned before = w->d.active;
        if (i == upgrade_at)
            upgrade(w);
        apply(w, &mv[i]);
        check_restored(w, before);
    }
    if (!w->why[0] && !w->exited) {
        apply(w, &(struct move){M_STOP, SIGTERM, 0});
        apply(w, &(struct move){M_ADVANCE, 20000, 0});
        if (!w->exited && !w->why[0])
            broken(w, "I6 not exited 20 s after the stop");
    }
    for (unsigned c = 0; c < w->nclients && !w->why[0]; c++)
        if (w->answers[c] != 1)
            broken(w, "I5 client %u got %d answers", c + 1, w->answers[c]);
    deploy_free(&w->d);
    return w->why[0] ? -1 : 0;
}

static unsigned
rnd(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static size_t
generate(unsigned seed, struct move *mv, size_t max)
{
    unsigned s = seed * 2 + 1;
    size_t n = 100 + rnd(&s) % (max - 100);

    for (size_t i = 0; i < n; i++) {
        unsigned r = rnd(&s) % 100;
        struct move m = {M_ADVANCE, 1 + rnd(&s) % 700, 0};

        if (r < 12)
            m = (struct move){M_ROLL, rnd(&s) % 2,
                              rnd(&s) % 8 < 5 ? 0 : rnd(&s) % 4};
        else if (r < 15)
            m = (struct move){M_RELOAD, rnd(&s) % 1000, 0};
        else if (r < 19)
            m = (struct move){M_SCALE, rnd(&s) % 2, 0};
        else if (r < 20 && rnd(&s) % 5 == 0)
            m = (struct move){M_STOP, rnd(&s) % 2 ? SIGTERM : SIGINT, 0};
        else if (r < 27)
            m = (struct move){M_CRASH, rnd(&s) % 8, rnd(&s) % 3};
        else if (r < 33)
            m = (struct move){M_READY, rnd(&s) % 4, 0};
        else if (r < 36)
            m = (struct move){M_GUARD, rnd(&s) % 2, 0};
        else if (r < 38)
            m = (struct move){M_PROMOTE, 0, 0};
        else if (r < 40)
            m = (struct move){M_ROLLBACK, 0, 0};
        else if (r < 41)
            m = (struct move){M_STOPPING, rnd(&s) % 4, 0};
        else if (r < 45)
            m = (struct move){M_QEMPTY, 0, 0};
        else if (r < 47)
            m = (struct move){M_FAILSWAP, rnd(&s) % 2, 0};
        else if (r < 49)
            m = (struct move){M_FAILSPAWN, 0, 0};
        mv[i] = m;
    }
    return n;
}

/* Drop moves while the sequence still fails: halves, then one at a time. */
static size_t
shrink(unsigned seed, struct move *mv, size_t n)
{
    static struct world w;
    struct move *t = malloc(MAX_MOVES * sizeof(*t));

    assert_non_null(t);
    for (size_t chunk = n / 2; chunk >= 1; chunk /= 2) {
        for (size_t at = 0; at + chunk <= n;) {
            size_t m = 0;
            memcpy(t, mv, at * sizeof(*t));
            m = at;
            memcpy(t + m, mv + at + chunk, (n - at - chunk) * sizeof(*t));
            m += n - at - chunk;
            if (run(&w, seed, t, m) < 0) {
                memcpy(mv, t, m * sizeof(*t));
                n = m;
            } else {
                at += chunk;
            }
        }
    }
    free(t);
    return n;
}

static void
print_case(unsigned seed, const struct move *mv, size_t n, const char *why)
{
    printf("# broken: %s\n# a test case (seed, moves):\n", why);
    printf("static const struct move case_%u[] = {\n", seed);
    for (size_t i = 0; i < n; i++)
        printf("    {%s, %u, %u},\n", op_names[mv[i].op], mv[i].a, mv[i].b);
    printf("};\n/* replay(%u, case_%u, %zu) */\n", seed, seed, n);
}

static unsigned long
env_count(const char *name, unsigned long dflt)
{
    const char *s = getenv(name);

    return s && *s ? strtoul(s, NULL, 10) : dflt;
}

/* DEPLOY_SEQUENCES (10,000 by default) random sequences from
 * DEPLOY_SEED; a failure is shrunk and printed. */
static void
random_sequences_keep_every_invariant(void **state)
{
    static struct world w;
    static struct move mv[MAX_MOVES];
    unsigned long count = env_count("DEPLOY_SEQUENCES", 10000);
    unsigned long first = env_count("DEPLOY_SEED", 1);
    unsigned long events = 0, seen[NSEEN] = {0};

    (void)state;
    tracing = getenv("DEPLOY_TRACE") != NULL;
    for (unsigned long i = 0; i < count; i++) {
        unsigned seed = (unsigned)(first + i);
        size_t n = generate(seed, mv, MAX_MOVES);

        if (run(&w, seed, mv, n) < 0) {
            char why[512];
            snprintf(why, sizeof(why), "%s", w.why);
            tracing = 0;
            n = shrink(seed, mv, n);
            (void)run(&w, seed, mv, n);
            print_case(seed, mv, n, w.why[0] ? w.why : why);
            fail_msg("sequence %u (%lu of %lu): %s", seed, i + 1, count, why);
        }
        events += w.events;
        for (unsigned k = 0; k < NSEEN; k++)
            seen[k] += (w.seen >> k) & 1;
    }
    printf("# %lu sequences, %lu events, %lu upgrades, every invariant held "
           "after each; sequences with:",
           count, events, upgrades);
    for (unsigned k = 0; k < NSEEN; k++)
        printf(" %s %lu", seen_names[k], seen[k]);
    printf("\n");
}

/* --- fixed cases: the defects found before, as sequences
 * ---------------------- */

static void
replay(unsigned seed, const struct move *mv, size_t n)
{
    static struct world w;

    if (run(&w, seed, mv, n) < 0)
        fail_msg("seed %u: %s", seed, w.why);
}

/* A world with one plan, set by hand, for the fixed cases. */
static struct world fw;

static void
fixed_start(struct deploy_conf *c)
{
    memset(&fw, 0, sizeof(fw));
    fw.tame = 1;
    fw.now = 1000;
    deploy_init(&fw.d);
    event(&fw, (struct deploy_event){.kind = DEV_START, .conf = c});
}

static void
fixed_conf(struct deploy_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->plan = 1;
    c->processes = 2;
    c->restart = DEPLOY_RESTART_ALWAYS;
    c->steered = 1;
    c->drain_signal = SIGTERM;
    c->ready_timeout = 60000;
    c->drain_timeout = 1000;
    c->stop_timeout = 1000;
    snprintf(c->ready, sizeof(c->ready), "listen");
}

/* Ready every starting process now. */
static void
all_ready_now(void)
{
    for (size_t i = 0; i < fw.nprocs; i++)
        if (fw.procs[i].ready_at)
            fw.procs[i].ready_at = fw.now;
    advance(&fw, 0);
}

/* Defect 2: SIGTTOU during a canary retires a slot: no rollback. */
static void
defect2_scale_down_during_canary_is_no_crash(void **state)
{
    struct deploy_conf c;

    (void)state;
    fixed_conf(&c);
    c.nsteps = 1;
    c.steps[0] = (struct deploy_step){1000, 5000};
    fixed_start(&c);
    advance(&fw, 500);
    assert_int_equal(fw.d.active, 1);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    assert_int_equal(deploy_gen(&fw.d, 2)->state, GEN_CANARY);
    apply(&fw, &(struct move){M_SCALE, 0, 0});
    advance(&fw, 500); /* the retired process exits */
    assert_int_equal(fw.d.rollbacks[DEPLOY_CRASH], 0);
    assert_int_equal(deploy_gen(&fw.d, 2)->state, GEN_CANARY);
    advance(&fw, 5000);
    assert_int_equal(fw.d.active, 2);
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* Defect 7: a kept generation whose last process exits ends its keeping:
 * kept_end, no guard, no timer, nothing to roll back to. */
static void
defect7_kept_generation_dies(void **state)
{
    struct deploy_conf c;
    size_t from;

    (void)state;
    fixed_conf(&c);
    c.keep_previous = 10000;
    c.restart = DEPLOY_RESTART_NEVER;
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    assert_int_equal(fw.d.active, 2);
    assert_int_equal(deploy_gen(&fw.d, 1)->state, GEN_KEPT);
    assert_int_equal(fw.d.guard_cur, 2);
    fw.out.n = 0;
    for (size_t i = fw.nprocs; i-- > 0;)
        if (fw.procs[i].gen == 1)
            apply(&fw, &(struct move){M_CRASH, (unsigned)i, 2});
    from = 0;
    assert_null(deploy_gen(&fw.d, 1));
    assert_int_equal(fw.d.guard_cur, 0);
    (void)from;
    apply(&fw, &(struct move){M_ROLLBACK, 0, 0});
    assert_int_equal(fw.answers[fw.nclients - 1], 1);
    assert_int_equal(fw.d.active, 2);
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* A stop drains every generation at once, a superseded one still waiting
 * for its queue or drain_delay too: handoff(8) says every worker gets the
 * drain signal, and a drain_delay of 30 s held the stop for 30 s. */
static void
stop_drains_a_retiring_generation(void **state)
{
    struct deploy_conf c;
    const struct deploy_gen *g1;

    (void)state;
    fixed_conf(&c);
    c.drain_delay = 30000;
    c.drain_timeout = 60000;
    c.stop_timeout = 5000;
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    assert_int_equal(fw.d.active, 2);
    g1 = deploy_gen(&fw.d, 1);
    assert_non_null(g1);
    assert_int_not_equal(g1->retire_at, 0);
    assert_int_equal(g1->drain_at, 0);
    apply(&fw, &(struct move){M_STOP, SIGTERM, 0});
    g1 = deploy_gen(&fw.d, 1);
    assert_true(g1 == NULL || (g1->drain_at == fw.now && g1->retire_at == 0));
    advance(&fw, 5000);
    assert_null(deploy_gen(&fw.d, 1));
    assert_null(deploy_gen(&fw.d, 2));
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* Defect 8: traffic returns to a kept generation that lost a process: it
 * comes back at its size. Defect 11: status then names the rollback. */
static void
defect8_11_rollback_restores_size_and_status(void **state)
{
    struct deploy_conf c;

    (void)state;
    fixed_conf(&c);
    c.keep_previous = 10000;
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    assert_int_equal(deploy_gen(&fw.d, 1)->state, GEN_KEPT);
    for (size_t i = 0; i < fw.nprocs; i++)
        if (fw.procs[i].gen == 1) {
            apply(&fw, &(struct move){M_CRASH, (unsigned)i, 1});
            break;
        }
    assert_int_equal(deploy_gen(&fw.d, 1)->live, 1);
    apply(&fw, &(struct move){M_GUARD, 1, 0});
    assert_int_equal(fw.d.active, 1);
    assert_int_equal(deploy_gen(&fw.d, 1)->live, 2);
    assert_int_equal(fw.d.last_outcome, -1);
    assert_int_equal(fw.d.last_gen, 2);
    assert_int_equal(fw.d.rollbacks[DEPLOY_PROBE], 1);
    advance(&fw, 3000);
    assert_null(deploy_gen(&fw.d, 2));
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* Defect 9: restart = never; the active generation's last process exits
 * during a canary, which then rolls back: handoff stops with that code. */
static void
defect9_rollback_to_nothing_stops(void **state)
{
    struct deploy_conf c;

    (void)state;
    fixed_conf(&c);
    c.processes = 1;
    c.restart = DEPLOY_RESTART_NEVER;
    c.nsteps = 1;
    c.steps[0] = (struct deploy_step){1000, 5000};
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    assert_int_equal(deploy_gen(&fw.d, 2)->state, GEN_CANARY);
    for (size_t i = 0; i < fw.nprocs; i++)
        if (fw.procs[i].gen == 1) {
            apply(&fw, &(struct move){M_CRASH, (unsigned)i, 2});
            break;
        }
    assert_int_equal(fw.d.stopping, 0); /* the canary may still be promoted */
    apply(&fw, &(struct move){M_GUARD, 1, 0});
    assert_int_equal(fw.d.stopping, 1);
    advance(&fw, 5000);
    assert_int_equal(fw.exited, 1);
    assert_int_equal(fw.exit_code, 128 + SIGKILL);
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* Defect 10: rolls queued with canaries of their own keep them, and a
 * refused one changes none. */
static void
defect10_queued_rolls_keep_their_steps(void **state)
{
    struct deploy_conf c;

    (void)state;
    fixed_conf(&c);
    fixed_start(&c);
    advance(&fw, 500);
    fw.procs[0].ready_at = 0; /* gen 2 stays starting a while */
    apply(&fw, &(struct move){M_ROLL, 1, 0});
    apply(&fw, &(struct move){M_ROLL, 1, 1});
    apply(&fw, &(struct move){M_ROLL, 1, 2});
    apply(&fw, &(struct move){M_ROLL, 1, 2});
    assert_int_equal(fw.d.nqueue, 2);
    for (int i = 0; i < 30 && !fw.why[0]; i++) {
        all_ready_now();
        advance(&fw, 1000);
    }
    assert_string_equal(fw.why, "");
    for (unsigned k = 0; k < 4; k++)
        assert_int_equal(fw.answers[k], 1);
    assert_int_equal(fw.answer_gen[0], 2);
    assert_int_equal(fw.answer_gen[1], 3);
    assert_int_equal(fw.answer_gen[2], 4);
    assert_int_equal(fw.answer_gen[3], 4);
    deploy_free(&fw.d);
}

/* Defect 24: a swap refused at promotion: the old generation stays active
 * and routed, the new one failed. */
static void
defect24_failed_swap_changes_nothing(void **state)
{
    struct deploy_conf c;

    (void)state;
    fixed_conf(&c);
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_FAILSWAP, 0, 0});
    apply(&fw, &(struct move){M_ROLL, 1, 0});
    advance(&fw, 500);
    assert_int_equal(fw.d.active, 1);
    assert_int_equal(fw.main, 1);
    assert_int_equal(deploy_gen(&fw.d, 1)->live, 2);
    assert_int_equal(fw.answer_gen[0], 0); /* failed */
    assert_int_equal(fw.d.rolls_failed, 1);
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* A rollback's swap that fails changes nothing either: the canary keeps
 * its share and its state, the guard's rollback is tried again a second
 * later (the canary held at its step), the operator is told it failed; a
 * promotion is answered only once its swap worked. */
static void
failed_rollback_and_promote_swaps_change_nothing(void **state)
{
    struct deploy_conf c;
    struct deploy_gen *g;

    (void)state;
    fixed_conf(&c);
    c.nsteps = 1;
    c.steps[0] = (struct deploy_step){1000, 5000};
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    assert_int_equal(deploy_gen(&fw.d, 2)->state, GEN_CANARY);
    assert_int_equal(fw.canary, 2);
    /* The operator's rollback: refused, nothing changed, not retried. */
    apply(&fw, &(struct move){M_FAILSWAP, 0, 0});
    apply(&fw, &(struct move){M_ROLLBACK, 0, 0});
    assert_int_equal(fw.answers[0], 1);
    assert_int_equal(fw.answer_gen[0], 0);
    g = deploy_gen(&fw.d, 2);
    assert_int_equal(g->state, GEN_CANARY);
    assert_int_not_equal(g->step_at, 0);
    assert_int_equal(fw.canary, 2);
    assert_int_equal(fw.d.route_canary, 2);
    assert_int_equal(fw.d.rollbacks[DEPLOY_OPERATOR], 0);
    assert_int_equal(fw.d.rb.retry_at, 0);
    /* The guard's: the canary holds its step, tried again 1 s later. */
    apply(&fw, &(struct move){M_FAILSWAP, 0, 0});
    apply(&fw, &(struct move){M_GUARD, 1, 0});
    assert_int_equal(g->state, GEN_CANARY);
    assert_int_equal(g->step_at, 0);
    assert_int_equal(fw.canary, 2);
    assert_int_equal(fw.d.rollbacks[DEPLOY_PROBE], 0);
    assert_int_not_equal(fw.d.rb.retry_at, 0);
    advance(&fw, DEPLOY_ROLLBACK_RETRY_MS);
    assert_int_equal(fw.canary, 0);
    assert_int_equal(fw.main, 1);
    assert_int_equal(fw.d.rollbacks[DEPLOY_PROBE], 1);
    assert_int_not_equal(deploy_gen_c(&fw.d, 2) ? deploy_gen_c(&fw.d, 2)->state
                                                : GEN_DONE,
                         GEN_CANARY);
    /* A promotion whose swap fails is answered as failed. */
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    assert_int_equal(deploy_gen(&fw.d, 3)->state, GEN_CANARY);
    apply(&fw, &(struct move){M_FAILSWAP, 0, 0});
    apply(&fw, &(struct move){M_PROMOTE, 0, 0});
    assert_int_equal(fw.answers[1], 1);
    assert_int_equal(fw.answer_gen[1], 0);
    assert_int_equal(fw.d.active, 1);
    assert_int_equal(fw.main, 1);
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* A canary step's swap refused, and the swap back to the step before
 * refused too: the canary keeps that step's share and its state until the
 * swap back works (tried again every second); then its roll fails. */
static void
failed_step_and_failed_swap_back_change_nothing(void **state)
{
    struct deploy_conf c;
    struct deploy_gen *g;

    (void)state;
    fixed_conf(&c);
    c.nsteps = 2;
    c.steps[0] = (struct deploy_step){1000, 1000};
    c.steps[1] = (struct deploy_step){5000, 1000};
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 500);
    g = deploy_gen(&fw.d, 2);
    assert_int_equal(g->state, GEN_CANARY);
    assert_int_equal(fw.bps, 1000);
    apply(&fw, &(struct move){M_FAILSWAP, 1, 0}); /* two refusals */
    advance(&fw, 1000);                           /* step 2 is due */
    assert_int_equal(g->state, GEN_CANARY);
    assert_int_equal(fw.canary, 2);
    assert_int_equal(fw.bps, 1000); /* step 1's share, as the kernel has it */
    assert_int_equal(fw.d.route_canary, 2);
    assert_int_equal(fw.d.route_bps, 1000);
    assert_int_equal(fw.d.rolls_failed, 0);
    assert_int_not_equal(fw.d.rb.retry_at, 0);
    advance(&fw, DEPLOY_ROLLBACK_RETRY_MS);
    assert_int_equal(fw.canary, 0);
    assert_int_equal(fw.main, 1);
    assert_int_equal(fw.d.rolls_failed, 1);
    assert_int_equal(fw.d.active, 1);
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* Defect 6: during keep_previous the guard does not judge latency. */
static void
defect6_no_latency_verdict_while_kept(void **state)
{
    struct deploy_conf c;

    (void)state;
    fixed_conf(&c);
    c.keep_previous = 10000;
    c.nsteps = 1;
    c.steps[0] = (struct deploy_step){1000, 300};
    fixed_start(&c);
    advance(&fw, 500);
    apply(&fw, &(struct move){M_ROLL, 0, 0});
    advance(&fw, 100);
    assert_int_equal(deploy_gen(&fw.d, 2)->state, GEN_CANARY);
    assert_int_equal(fw.d.guard_latency, 1);
    advance(&fw, 300);
    assert_int_equal(deploy_gen(&fw.d, 1)->state, GEN_KEPT);
    assert_int_equal(fw.d.guard_cur, 2);
    assert_int_equal(fw.d.guard_latency, 0);
    assert_string_equal(fw.why, "");
    deploy_free(&fw.d);
}

/* Sequences the random search found, shrunk, kept: each broke an
 * invariant of an earlier version of the core. */
static void
found_sequences_replay(void **state)
{
    /* SIGTTOU retired the one slot with a restart due, while the other's
     * process had ended (restart = on-failure, code 0): nothing served
     * and nothing started (I6). The slot retired is now one with nothing
     * to stop. */
    static const struct move case_620[] = {
        {M_ROLL, 0, 3},     {M_ADVANCE, 561, 0}, {M_CRASH, 0, 0},
        {M_ROLLBACK, 0, 0}, {M_RELOAD, 198, 0},  {M_FAILSPAWN, 0, 0},
        {M_RELOAD, 482, 0}, {M_QEMPTY, 0, 0},    {M_ADVANCE, 549, 0},
        {M_CRASH, 2, 1},    {M_ADVANCE, 426, 0}, {M_CRASH, 0, 1},
        {M_SCALE, 0, 0},
    };
    /* drain_delay longer than drain_timeout held a retired generation
     * past drain_timeout (I4). */
    static const struct move case_11402[] = {
        {M_SCALE, 1, 0},     {M_ADVANCE, 509, 0}, {M_ROLL, 1, 0},
        {M_ADVANCE, 343, 0}, {M_RELOAD, 206, 0},  {M_ADVANCE, 634, 0},
        {M_ADVANCE, 290, 0}, {M_ROLLBACK, 0, 0},  {M_QEMPTY, 0, 0},
        {M_ADVANCE, 663, 0},
    };

    (void)state;
    replay(620, case_620, sizeof(case_620) / sizeof(case_620[0]));
    replay(11402, case_11402, sizeof(case_11402) / sizeof(case_11402[0]));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defect2_scale_down_during_canary_is_no_crash),
        cmocka_unit_test(defect6_no_latency_verdict_while_kept),
        cmocka_unit_test(defect7_kept_generation_dies),
        cmocka_unit_test(defect8_11_rollback_restores_size_and_status),
        cmocka_unit_test(stop_drains_a_retiring_generation),
        cmocka_unit_test(defect9_rollback_to_nothing_stops),
        cmocka_unit_test(defect10_queued_rolls_keep_their_steps),
        cmocka_unit_test(defect24_failed_swap_changes_nothing),
        cmocka_unit_test(failed_rollback_and_promote_swaps_change_nothing),
        cmocka_unit_test(failed_step_and_failed_swap_back_change_nothing),
        cmocka_unit_test(found_sequences_replay),
        cmocka_unit_test(random_sequences_keep_every_invariant),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
