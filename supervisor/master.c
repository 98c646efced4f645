/* master.c: the shell around the deployment core: libuv callbacks in as events,
 * the core's actions carried out. */

/*
 * Every decision of the roll (DESIGN.md "The roll, step by step") is the
 * deployment core's (deploy.h): which generation starts, when it is
 * promoted, kept, rolled back, drained or killed, which process restarts
 * and when handoff exits. This file turns what happens (signals, exits,
 * readiness, timers, control requests) into the core's events, and does
 * what the core asks: start a worker, signal or kill a generation, swap a
 * steering program, answer a client, log. It holds what the core may not:
 * the workers' processes, fds and handles, the plans and their listeners.
 *
 * One timer stands for every deadline of the core. A program swap that can
 * fail is answered at once (DEV_STEERED); a worker that cannot even be
 * forked is reported once the actions of its event are all carried out.
 */
#include "master.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "carry.h"
#include "channel.h"
#include "control.h"
#include "guard.h"
#include "handle.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "parse.h"
#include "proc.h"
#include "readiness.h"
#include "rundir.h"
#include "sdnotify.h"
#include "signals.h"
#include "source.h"
#include "traffic.h"
#include "version.h"
#include "worker.h"

#define PATH_CHECK_MS 2000 /* how often unix socket files are looked for */
#define RETIRE_POLL_MS 5   /* how often a retiring generation's queue is */
#define SYNC_CLIENT ((unsigned)-1) /* a request answered before it returns */
#define MAX_WAITING 64             /* events that came while acting */

static void feed(struct master *m, const struct deploy_event *ev);
static void master_roll(struct master *m, const char *why);
static void finish(struct master *m);

uint64_t
master_now(void)
{
    return uv_hrtime();
}

static uint64_t
now_ms(void)
{
    return master_now() / 1000000;
}

static unsigned long long
ms_since(uint64_t ns)
{
    return (unsigned long long)((master_now() - ns) / 1000000);
}

/* --- plans ---------------------------------------------------------------- */

/* The plans something still uses (active, reloaded, every generation's;
 * NULLs included), at most cap in out: those whose steered listeners
 * follow the steering plan (traffic.h). Returns how many. */
static size_t
live_plans(void *arg, struct plan **out, size_t cap)
{
    return gens_live_plans(&((struct master *)arg)->gens, out, cap);
}

/* NOTIFY_SOCKET is for one user's workers: c's, which a reload may change. */
static void
own_rundir(struct master *m, const struct config *c)
{
    int rc = rundir_own(m->rundir, m->notify_path, c);

    if (rc < 0)
        log_event(LOG_WARN, "rundir", "path=%s error=%s", log_q(m->rundir),
                  log_q(strerror(-rc)));
}

/* Between rolls the active generation accepts only from the socket whose
 * file is gone: a roll brings one that accepts from the new socket. */
static void
on_path_check(uv_timer_t *t)
{
    struct master *m = t->data;

    if (!m->stopping && plan_restore_paths(m->gens.plan, "check") > 0)
        master_roll(m, "unix_path_lost");
}

/* --- generations: what the shell holds for each -------------------------- */

static void
gen_free(struct master *m, struct gen *g)
{
    traffic_leave(&m->traffic, g, m->stopping);
    gens_remove(&m->gens, g);
}

/* The deployment now, for status and metrics (view.h). */
static int
master_view(void *arg, struct view *v)
{
    struct master *m = arg;
    struct plan *plans[TRAFFIC_MAX_PLANS];
    struct view_shell sh = {.gens = m->gens.list,
                            .plans = plans,
                            .nplans = live_plans(m, plans, TRAFFIC_MAX_PLANS),
                            .cfg = m->gens.plan->cfg,
                            .guard = m->guard,
                            .live = m->live,
                            .data = &m->metrics_data,
                            .uptime_ms = ms_since(m->started_ns),
                            .last_ms = m->last_ms};

    return view_take(v, &m->d, now_ms(), &sh);
}

/* The core's state, copied where traffic, the guard and the workers'
 * handling read it. */
static void
sync_mirrors(struct master *m)
{
    const struct deploy *d = &m->d;

    m->stopping = d->stopping;
    for (struct gen *g = m->gens.list; g; g = g->next) {
        const struct deploy_gen *cg = deploy_gen_c(d, g->id);

        if (cg == NULL)
            continue;
        g->state = cg->state;
        g->killed = cg->killed;
        /* What later rolls of its plan start (SIGTTIN, SIGTTOU). */
        g->plan->cfg->processes = (long)cg->conf.processes;
        if (gen_reserve(g, cg->nslots) < 0)
            continue;
        for (size_t i = 0; i < cg->nslots; i++)
            g->slots[i].retired = cg->slots[i].retired;
    }
}

/* --- carrying the core's actions out ---------------------------------------
 */

/* Events that came while actions were carried out, taken after them. */
struct waiting {
    struct deploy_event ev;
    char text[256];
    char hint[512];
};
static struct waiting waiting[MAX_WAITING];
static size_t nwaiting;

static void
wait_event(const struct deploy_event *ev)
{
    struct waiting *w;

    if (nwaiting == MAX_WAITING) {
        log_event(LOG_ERROR, "event_dropped", "kind=%d gen=%u", (int)ev->kind,
                  ev->gen);
        return;
    }
    w = &waiting[nwaiting++];
    w->ev = *ev;
    snprintf(w->text, sizeof(w->text), "%s", ev->text ? ev->text : "");
    snprintf(w->hint, sizeof(w->hint), "%s", ev->hint ? ev->hint : "");
    w->ev.text = ev->text ? w->text : NULL;
    w->ev.hint = ev->hint ? w->hint : NULL;
}

static void
spawn_failed(struct gen *g, size_t slot, int rc)
{
    struct deploy_event ev = {.kind = DEV_SPAWN_FAILED,
                              .gen = g->id,
                              .slot = slot,
                              .text = strerror(-rc)};

    wait_event(&ev);
}

static void
on_retire_tick(uv_timer_t *t)
{
    struct gen *g = t->data;
    struct master *m = t->loop->data;
    const struct deploy_gen *cg;

    if (g == NULL)
        return;
    cg = deploy_gen_c(&m->d, g->id);
    if (cg == NULL || cg->retire_at == 0) {
        uv_timer_stop(t);
        return;
    }
    if (traffic_queued(g) == 0) {
        uv_timer_stop(t);
        feed(m, &(struct deploy_event){.kind = DEV_QUEUE_EMPTY, .gen = g->id});
    }
}

/* The core's log line, with what only the shell knows of it. */
static void
act_log(struct master *m, const struct deploy_action *a)
{
    static const enum log_level levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARN,
                                            LOG_ERROR};
    enum log_level level = levels[a->level];
    unsigned long long mono = (unsigned long long)(master_now() / 1000);
    unsigned gen = 0;
    struct gen *g;

    if (!log_enabled(level))
        return;
    if (strcmp(a->event, "promote") == 0)
        log_event(level, a->event, "%s mono_us=%llu swap_us=%llu", a->text,
                  mono, (unsigned long long)m->swap_us);
    else if (strcmp(a->event, "rollback") == 0)
        log_event(level, a->event, "%s mono_us=%llu", a->text, mono);
    else if ((strcmp(a->event, "retire") == 0 ||
              strcmp(a->event, "retired") == 0) &&
             sscanf(a->text, "gen=%u", &gen) == 1 &&
             (g = gen_find(m->gens.list, gen)) != NULL)
        log_event(level, a->event, "%s queued=%d", a->text, traffic_queued(g));
    else
        log_event(level, a->event, "%s", a->text);
}

static void
act_steer(struct master *m, const struct deploy_action *a, struct gen *g)
{
    uint64_t t0 = master_now();
    int rc = 0;

    switch (a->steer) {
    case DS_PROMOTE:
        rc = g != NULL ? traffic_promote(&m->traffic, g) : -ENOENT;
        m->swap_us = (master_now() - t0) / 1000;
        break;
    case DS_SHARE:
        rc = g != NULL
                 ? traffic_share(&m->traffic, g,
                                 gen_find(m->gens.list, m->d.active), a->bps)
                 : -ENOENT;
        break;
    case DS_DRAINED:
        if (g != NULL)
            traffic_drained(&m->traffic, g, m->stopping);
        return;
    }
    if (m->d.pending != DP_NONE) {
        /* Answered before anything else: the core waits for it. */
        struct deploy_event ev = {.kind = DEV_STEERED, .err = rc};
        /* Its actions follow in the same list. */
        (void)deploy_event(&m->d, &ev, now_ms(), m->out);
    } else if (rc < 0) {
        log_event(LOG_ERROR, "steer_failed", "gen=%u error=%s", g ? g->id : 0,
                  log_q(strerror(-rc)));
    }
}

static void
act_join(struct master *m, const struct deploy_action *a)
{
    const struct deploy_gen *cg = deploy_gen_c(&m->d, a->gen);
    struct plan *p = cg ? gens_plan(&m->gens, cg->conf.plan) : NULL;
    struct gen *g;
    int rc;

    if (p == NULL ||
        (g = gens_add(&m->gens, m->loop, a->gen, p, master_now())) == NULL) {
        wait_event(&(struct deploy_event){.kind = DEV_SPAWN_FAILED,
                                          .gen = a->gen,
                                          .slot = DEPLOY_ALL_SLOTS,
                                          .text = "out of memory"});
        return;
    }
    if (p == m->gens.next) {
        plan_unref(m->gens.next); /* the generation holds it now */
        m->gens.next = NULL;
    }
    /* The new generation is lent the new socket: no roll more needed. */
    plan_restore_paths(p, "roll");
    {
        const struct deploy_gen *ag = deploy_gen_c(&m->d, m->d.active);
        sdnotify_roll_started(m->sdnotify, m->d.active, ag ? ag->live : 0,
                              g->id);
    }
    worker_check_reach(g);
    own_rundir(m, p->cfg);
    if ((rc = traffic_join(&m->traffic, g)) < 0) {
        g->join_failed = 1;
        spawn_failed(g, DEPLOY_ALL_SLOTS, rc);
    }
}

static void
act_spawn(struct master *m, const struct deploy_action *a, struct gen *g)
{
    int rc;

    if (g == NULL || gen_reserve(g, a->slot + 1) < 0) {
        if (g != NULL)
            spawn_failed(g, a->slot, -ENOMEM);
        return;
    }
    if (g->join_failed) {
        spawn_failed(g, a->slot, -ENOTCONN);
        return;
    }
    /* One that could not even be forked (no fd, no memory, no process
     * left) is reported: no exit will ever come for it. */
    rc = worker_start(&m->workers, g, a->slot);
    if (rc < 0 && g->slots[a->slot].w == NULL)
        spawn_failed(g, a->slot, rc);
}

static void
act_ended(struct master *m, const struct deploy_action *a, struct gen *g)
{
    uint64_t since = g ? g->started_ns : master_now();

    m->last_ms = ms_since(since);
    {
        const struct deploy_gen *ag = deploy_gen_c(&m->d, m->d.active);
        sdnotify_roll_ended(m->sdnotify, m->d.active, ag ? ag->live : 0, a->gen,
                            a->ok ? NULL : a->text);
    }
    if (a->ok)
        metrics_hist_observe(&m->metrics_data.roll,
                             (double)(master_now() - since) / 1e9);
    else if (m->gens.plan != NULL)
        own_rundir(m, m->gens.plan->cfg); /* back to those still serving */
}

static void
act_plan(struct master *m, struct gen *g)
{
    if (g == NULL || m->gens.plan == g->plan)
        return;
    plan_unref(m->gens.plan);
    m->gens.plan = plan_ref(g->plan);
    log_setup(m->gens.plan->cfg->log_level, m->gens.plan->cfg->log_format);
}

static void
act(struct master *m, const struct deploy_action *a)
{
    struct gen *g = gen_find(m->gens.list, a->gen);

    switch (a->kind) {
    case DA_JOIN:
        act_join(m, a);
        break;
    case DA_SPAWN:
        act_spawn(m, a, g);
        break;
    case DA_SIGNAL:
        if (g != NULL && a->slot < g->nslots && g->slots[a->slot].w != NULL)
            worker_drain(g->slots[a->slot].w, a->sig);
        break;
    case DA_KILL:
        if (g != NULL)
            worker_kill_all(g, a->text);
        break;
    case DA_STEER:
        act_steer(m, a, g);
        break;
    case DA_RETIRE:
        if (g != NULL)
            uv_timer_start(g->timer, on_retire_tick, RETIRE_POLL_MS,
                           RETIRE_POLL_MS);
        break;
    case DA_GONE:
        if (g != NULL)
            gen_free(m, g);
        break;
    case DA_PLAN:
        act_plan(m, g);
        break;
    case DA_GUARD:
        if (guard_watches(m->guard, a->gen, a->prev)) {
            guard_judge_latency(m->guard, a->latency); /* the canary ended */
            break;
        }
        guard_stop(m->guard);
        m->guard = NULL;
        if (g != NULL && gen_find(m->gens.list, a->prev) != NULL)
            m->guard = guard_start(&m->guards, &g->plan->cfg->canary, a->gen,
                                   a->prev, a->latency);
        break;
    case DA_ANSWER:
        if (a->client == SYNC_CLIENT) {
            m->sync_ok = a->ok;
            m->sync_gen = a->gen;
            if (m->sync_why != NULL)
                snprintf(m->sync_why, m->sync_len, "%s", a->text);
        } else {
            control_roll_answer(m->control, a->client, a->gen, a->ok, a->text,
                                g ? ms_since(g->started_ns) : 0);
        }
        break;
    case DA_PROGRESS:
        sdnotify_status(m->sdnotify, a->text);
        control_roll_progress(m->control, a->text);
        break;
    case DA_ENDED:
        act_ended(m, a, g);
        livecheck_roll_ended(m->live, a->gen, a->ok);
        break;
    case DA_LOG:
        act_log(m, a);
        break;
    case DA_STOPPING:
        m->stopping = 1; /* traffic.c keeps the routes from now on */
        sdnotify_stopping(m->sdnotify);
        plan_unref(m->gens.next);
        m->gens.next = NULL;
        break;
    case DA_KILL_ORPHANS:
        proc_kill_children(SIGKILL);
        m->orphans_killed = 1;
        break;
    case DA_EXIT:
        m->exit_code = a->code;
        m->gens_gone = 1;
        if (a->ok)
            finish(m);
        break;
    case DA_TIMER:
        break;
    }
}

static void
maybe_finish(struct master *m)
{
    if (!m->gens_gone || m->finished)
        return;
    if (reap_any_left()) {
        /* Workers are gone; what they left behind gets the same chance. */
        if (!m->orphans_termed) {
            m->orphans_termed = 1;
            proc_kill_children(SIGTERM);
        }
        return;
    }
    finish(m);
}

static void on_core_timer(uv_timer_t *t);

/* The liveness checks follow the active generation and its plan. */
static void
judge(struct master *m)
{
    struct gen *g = gen_find(m->gens.list, m->d.active);

    livecheck_judge(m->live, m->stopping || g == NULL ? 0 : g->id,
                    g ? &g->plan->cfg->liveness : NULL);
}

static void
arm_timer(struct master *m)
{
    uint64_t at = deploy_next_deadline(&m->d), now = now_ms();

    if (m->core_timer == NULL || m->finished)
        return;
    if (at == 0)
        uv_timer_stop(m->core_timer);
    else
        uv_timer_start(m->core_timer, on_core_timer, at > now ? at - now : 0,
                       0);
}

/* One event to the core, and everything it asks for carried out; events
 * that come meanwhile (a spawn that failed) are taken after. */
static void
feed(struct master *m, const struct deploy_event *ev)
{
    if (m->running || m->finished) {
        if (!m->finished)
            wait_event(ev);
        return;
    }
    m->running = 1;
    for (;;) {
        m->out->n = 0;
        m->out->overflow = 0;
        if (deploy_event(&m->d, ev, now_ms(), m->out) < 0)
            log_event(LOG_ERROR, "event_refused", "kind=%d", (int)ev->kind);
        for (size_t i = 0; i < m->out->n && !m->finished; i++)
            act(m, &m->out->a[i]);
        if (m->out->overflow)
            log_event(LOG_ERROR, "actions_dropped", "kind=%d", (int)ev->kind);
        sync_mirrors(m);
        if (nwaiting == 0 || m->finished)
            break;
        /* The next one that waited; ev points into the table until then. */
        static struct waiting cur;
        cur = waiting[0];
        memmove(&waiting[0], &waiting[1], --nwaiting * sizeof(waiting[0]));
        cur.ev.text = cur.ev.text ? cur.text : NULL;
        cur.ev.hint = cur.ev.hint ? cur.hint : NULL;
        ev = &cur.ev;
    }
    m->running = 0;
    judge(m);
    arm_timer(m);
    if (m->gens_gone)
        maybe_finish(m);
}

/*
 * The ready timeout's reason names shim workers that never asked: the core
 * hears of a worker's first request here, once per slot. One at a time: a
 * deadline due may end a generation under the walk.
 */
static int
feed_asked(struct master *m)
{
    for (struct gen *g = m->gens.list; g; g = g->next) {
        const struct deploy_gen *cg = deploy_gen_c(&m->d, g->id);

        for (size_t i = 0;
             cg && cg->state == GEN_STARTING && i < g->nslots && i < cg->nslots;
             i++)
            if (g->slots[i].w != NULL && !cg->slots[i].asked &&
                !worker_never_asked(g->slots[i].w)) {
                feed(m, &(struct deploy_event){
                            .kind = DEV_ASKED, .gen = g->id, .slot = i});
                return 1;
            }
    }
    return 0;
}

static void
on_core_timer(uv_timer_t *t)
{
    struct master *m = t->data;

    while (!m->finished && feed_asked(m))
        ;
    feed(m, &(struct deploy_event){.kind = DEV_TICK});
}

/* --- events --------------------------------------------------------------- */

static void
master_roll(struct master *m, const char *why)
{
    feed(m, &(struct deploy_event){.kind = DEV_ROLL, .text = why});
}

static void
request_roll(void *arg, unsigned client, const struct canary_step *steps,
             size_t nsteps)
{
    struct deploy_step s[DEPLOY_MAX_STEPS];
    struct deploy_event ev = {
        .kind = DEV_ROLL, .client = client, .text = "control"};

    if (steps != NULL) {
        for (size_t i = 0; i < nsteps && i < DEPLOY_MAX_STEPS; i++) {
            s[i].bps = steps[i].bps;
            s[i].ms = steps[i].ms;
        }
        ev.steps = s;
        ev.nsteps = nsteps;
    }
    feed(arg, &ev);
}

static int
sync_request(struct master *m, enum deploy_event_kind kind, unsigned *gen,
             char *why, size_t len)
{
    m->sync_ok = -1;
    m->sync_gen = 0;
    m->sync_why = why;
    m->sync_len = len;
    feed(m, &(struct deploy_event){.kind = kind, .client = SYNC_CLIENT});
    m->sync_why = NULL;
    *gen = m->sync_gen;
    return m->sync_ok == 1 ? 0 : -ENOENT;
}

static int
request_promote(void *arg, unsigned *gen, char *why, size_t len)
{
    return sync_request(arg, DEV_PROMOTE, gen, why, len);
}

static int
request_rollback(void *arg, unsigned *gen, char *why, size_t len)
{
    return sync_request(arg, DEV_ROLLBACK, gen, why, len);
}

/* The guard of gen judged it failed (guard.h): a rollback. */
static void
guard_failed(void *arg, unsigned gen, enum deploy_cause cause, const char *why)
{
    feed(arg, &(struct deploy_event){.kind = DEV_GUARD_FAILED,
                                     .gen = gen,
                                     .cause = cause,
                                     .text = why});
}

/* For the guard: a line for the clients waiting with progress. */
static void
guard_progress(void *arg, const char *text)
{
    control_roll_progress(((struct master *)arg)->control, text);
}

/* For the guard: the first process of gen, for %p in its spec. */
static pid_t
guard_pid(void *arg, unsigned gen)
{
    pid_t pid = 0;

    gen_pids(gen_find(((struct master *)arg)->gens.list, gen), &pid, 1);
    return pid;
}

/* For the guard: the source port of gen's probes. */
static unsigned
guard_port(void *arg, unsigned gen)
{
    struct gen *g = gen_find(((struct master *)arg)->gens.list, gen);

    return g != NULL ? traffic_probe_port(&((struct master *)arg)->traffic, g)
                     : 0;
}

/* For the liveness checks: the main processes of gen's workers. */
static size_t
live_pids(void *arg, unsigned gen, pid_t *out, size_t cap)
{
    return gen_pids(gen_find(((struct master *)arg)->gens.list, gen), out,
                    cap);
}

static int
live_busy(void *arg)
{
    return deploy_busy(&((struct master *)arg)->d);
}

/* A failed generation replaced: a roll with no canary (the same
 * configuration, promoted on readiness), or its processes killed for
 * restart = to start again. */
static unsigned
live_replace(void *arg, unsigned gen, enum liveness_action a, pid_t pid)
{
    struct master *m = arg;
    struct gen *g = gen_find(m->gens.list, gen);
    struct worker *w;

    if (a == LIVENESS_ROLL) {
        feed(m, &(struct deploy_event){.kind = DEV_ROLL,
                                       .text = "liveness",
                                       .steps = &(struct deploy_step){0},
                                       .nsteps = 0});
        return m->d.starting;
    }
    for (size_t i = 0; g != NULL && i < g->nslots; i++)
        if ((w = g->slots[i].w) != NULL && w->state != W_EXITED &&
            (pid == 0 || w->child.pid == pid))
            worker_kill(w, SIGKILL);
    return 0;
}

static void
master_reload(struct master *m)
{
    struct deploy_conf c;
    int rc;

    if (m->stopping)
        return;
    if ((rc = gens_reload(&m->gens, m->args, &c)) == -ENOENT)
        master_roll(m, "SIGHUP");
    else if (rc == 0)
        feed(m, &(struct deploy_event){
                    .kind = DEV_RELOAD, .conf = &c, .text = "SIGHUP"});
}

static void
master_stop(void *m, int sig)
{
    feed(m, &(struct deploy_event){.kind = DEV_STOP, .sig = sig});
}

static void
master_scale(struct master *m, int delta)
{
    feed(m, &(struct deploy_event){.kind = DEV_SCALE, .delta = delta});
}

static void
master_forward(struct master *m, int sig)
{
    struct gen *g = gen_find(m->gens.list, m->d.active);

    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i].w != NULL && worker_signal(g->slots[i].w, sig) == 0)
            log_event(LOG_DEBUG, "forward", "gen=%u pid=%d signal=%s", g->id,
                      (int)g->slots[i].w->child.pid, parse_signal_name(sig));
}

static void
master_reap(struct master *m)
{
    reap_all(&m->reaper);
    /* After stop_timeout, an orphan re-parented since (its parent just
     * died) gets SIGKILL at once, or the stop would wait for it. */
    if (m->orphans_killed && !m->finished)
        proc_kill_children(SIGKILL);
    maybe_finish(m);
}

/* A signal handoff got (signals.c), by the action signals.h gives it. */
static void
on_signal(void *arg, enum signal_action act, int sig)
{
    struct master *m = arg;

    if (act == SIGACT_ROLL)
        master_roll(m, "SIGUSR2");
    else if (act == SIGACT_RELOAD)
        master_reload(m);
    else if (act == SIGACT_STOP)
        master_stop(m, sig);
    else if (act == SIGACT_MORE || act == SIGACT_FEWER)
        master_scale(m, act == SIGACT_MORE ? +1 : -1);
    else if (act == SIGACT_REAP)
        master_reap(m);
    else if (act == SIGACT_FORWARD)
        master_forward(m, sig);
}

/* --- workers -------------------------------------------------------------- */

/* A check passed, or w said it is ready (readiness.h, channel.h, notify). */
static void
master_worker_ready(void *arg, struct worker *w, enum ready_kind via)
{
    struct master *m = arg;
    struct gen *g = w->gen;
    char text[96];

    if (via != g->plan->cfg->ready) {
        log_event(LOG_DEBUG, "ready_ignored", "gen=%u pid=%d via=%s ready=%s",
                  g->id, (int)w->child.pid, config_ready_name(via),
                  config_ready_name(g->plan->cfg->ready));
        return;
    }
    if (w->state != W_STARTING)
        return;
    w->state = W_READY;
    w->ready_ns = master_now();
    readiness_stop(w);
    metrics_hist_observe(&m->metrics_data.ready,
                         (double)(w->ready_ns - w->started_ns) / 1e9);
    log_event(LOG_INFO, "ready",
              "gen=%u pid=%d via=%s ready_ms=%llu "
              "mono_us=%llu",
              g->id, (int)w->child.pid, config_ready_name(via),
              (unsigned long long)((w->ready_ns - w->started_ns) / 1000000),
              (unsigned long long)(w->ready_ns / 1000));
    snprintf(text, sizeof(text), "gen %u: pid %d ready, %zu of %zu", g->id,
             (int)w->child.pid, gen_count_state(g, W_READY), g->nslots);
    control_roll_progress(m->control, text);
    feed(m, &(struct deploy_event){
                .kind = DEV_READY, .gen = g->id, .slot = w->slot});
}

/* For readiness.h: the source port of g's probes. */
static unsigned
probe_port(void *arg, struct gen *g)
{
    return traffic_probe_port(&((struct master *)arg)->traffic, g);
}

/* What a process said on NOTIFY_SOCKET (notify.c). */
static void
on_notify(void *arg, pid_t pid, const struct notify_msg *nm)
{
    struct master *m = arg;
    struct worker *w = worker_of_pid(m->gens.list, pid);
    const char *status = nm->has_status ? nm->status : NULL;

    if (w == NULL) {
        log_event(LOG_WARN, "notify_ignored", "pid=%d reason=not-a-worker",
                  (int)pid);
        return;
    }
    if (status != NULL && strcmp(status, w->status) != 0) {
        snprintf(w->status, sizeof(w->status), "%s", status);
        log_event(LOG_INFO, "status", "gen=%u pid=%d status=%s", w->gen->id,
                  (int)w->child.pid, log_q(status));
    }
    if (nm->stopping && !w->stopping_notified) {
        w->stopping_notified = 1;
        log_event(LOG_INFO, "stopping", "gen=%u pid=%d", w->gen->id,
                  (int)w->child.pid);
        feed(m, &(struct deploy_event){
                    .kind = DEV_STOPPING, .gen = w->gen->id, .slot = w->slot});
        return;
    }
    if (nm->watchdog || nm->trigger)
        livecheck_watchdog(m->live, w->gen->id, w->child.pid, nm->trigger);
    if (nm->ready)
        master_worker_ready(m, w, READY_NOTIFY);
}

/* For worker.h: w's main process exited (logged, and w out of its slot). */
static void
worker_exited(void *arg, struct worker *w, int status, const char *desc)
{
    struct master *m = arg;
    struct gen *g = w->gen;
    size_t slot = w->slot;
    char hint[1024];

    worker_exit_hint(w, status, gen_find(m->gens.list, m->d.active) != NULL,
                     hint, sizeof(hint));
    metrics_observe_drain(&m->metrics_data, w->drain_ns);
    worker_free(w);
    feed(m, &(struct deploy_event){.kind = DEV_EXITED,
                                   .gen = g->id,
                                   .slot = slot,
                                   .status = status,
                                   .text = desc,
                                   .hint = hint});
}

/* For worker.h: once stopping, exited workers' groups get stop_timeout. */
static int
stopping(void *arg, uint64_t *stop_ms)
{
    struct master *m = arg;

    *stop_ms = m->stopping ? m->gens.plan->cfg->stop_timeout : 0;
    return m->stopping;
}

/* --- start and end -------------------------------------------------------- */

static void
finish(struct master *m)
{
    if (m->finished)
        return;
    log_event(LOG_INFO, "exit_master",
              "code=%d rolls=%u failed_rolls=%u "
              "orphans_reaped=%lu",
              m->exit_code, m->d.rolls_ok, m->d.rolls_failed, m->reaper.orphans);
    m->finished = 1;
    handle_close(m->core_timer);
    m->core_timer = NULL;
    signals_stop(m->signals);
    m->signals = NULL;
    notify_close(m->notify);
    m->notify = NULL;
    uv_stop(m->loop);
}

/* --- handoff upgrade -------------------------------------------------------
 */

/* The control request: answered by the image after it, or why not. */
static void
request_upgrade(void *arg, const char *binary, uint64_t timeout_ms)
{
    carry_upgrade(&((struct master *)arg)->carry, binary, timeout_ms);
}

/*
 * The state an earlier image handed over (carry.h), taken back: the same
 * sockets, workers, generations and timers. Signals are still blocked
 * from before the exec; the caller unblocks them (signals_start) once
 * this worked. 0, or -errno with why in err.
 */
static int
resume(struct master *m, const json_t *doc, char *err, size_t len)
{
    uint64_t asked_ns = 0;
    int rc;

    if ((rc = carry_adopt(&m->carry, doc, &asked_ns, err, len)) < 0)
        return rc;
    log_setup(m->gens.plan->cfg->log_level, m->gens.plan->cfg->log_format);
    sync_mirrors(m);
    for (struct gen *g = m->gens.list; g; g = g->next) {
        const struct deploy_gen *cg = deploy_gen_c(&m->d, g->id);

        if (cg != NULL && cg->retire_at != 0)
            uv_timer_start(g->timer, on_retire_tick, RETIRE_POLL_MS,
                           RETIRE_POLL_MS);
    }
    judge(m); /* checked by this image, from what was carried */
    arm_timer(m);
    carry_resumed(&m->carry, doc, asked_ns);
    return 0;
}

/* A fresh start: the sockets opened, the first generation asked for. */
static int
start(struct master *m, struct config *cfg, char **source, size_t len)
{
    struct deploy_conf c;
    char err[CONFIG_ERRLEN];
    int rc;

    /* Before anything is started: no child may inherit NOTIFY_SOCKET. */
    if ((rc = sdnotify_open(&m->sdnotify)) < 0)
        log_event(LOG_WARN, "sdnotify_failed", "error=%s",
                  log_q(strerror(-rc)));
    log_event(LOG_INFO, "start",
              "pid=%d version=%s pass=%s ready=%s "
              "processes=%ld",
              (int)getpid(), handoff_version, config_pass_name(cfg->pass),
              config_ready_name(cfg->ready), cfg->processes);
    if (worker_find_shim(m->shim_path, sizeof(m->shim_path)) < 0 &&
        cfg->pass == PASS_SHIM) {
        fprintf(stderr,
                "handoff: pass = shim: %s is missing; use pass = "
                "systemd, inherit or protocol\n",
                m->shim_path);
        config_free(cfg);
        return 2;
    }
    if (carry_open(&m->carry, cfg, source, len, err, sizeof(err)) < 0) {
        fprintf(stderr, "handoff: %s\n", err);
        return 1;
    }
    m->core_timer = handle_timer(m->loop, m);
    plan_conf(m->gens.plan, &c);
    /* The first roll hands the rundir to its workers' user. */
    feed(m, &(struct deploy_event){.kind = DEV_START, .conf = &c});
    return 0;
}

int
master_run(const struct config_args *args, char *const *argv,
           struct config *cfg, char *source, size_t len, json_t *doc)
{
    struct master m;
    uv_loop_t loop;
    char err[1024];

    memset(&m, 0, sizeof(m));
    m.args = args;
    m.argv = argv;
    m.loop = &loop;
    m.probes = (struct probe_host){&loop, &m.reaper};
    m.readiness =
        (struct readiness_ctx){&m.probes, probe_port, master_worker_ready, &m};
    m.channels = (struct channel_ctx){&loop, master_worker_ready, &m};
    m.workers = (struct worker_ctx){&loop,         &m.reaper,     &m.channels,
                                    &m.readiness,  m.notify_path, m.shim_path,
                                    worker_exited, stopping,      &m,
                                    NULL,          &m.steering};
    m.traffic = (struct traffic){&m.steering, live_plans, &m};
    m.control_ops = (struct control_ops){request_roll,
                                         request_promote,
                                         request_rollback,
                                         master_stop,
                                         request_upgrade,
                                         master_view,
                                         &m};
    m.guards =
        (struct guard_ctx){&loop,          &m.probes,    guard_pid, guard_port,
                           guard_progress, guard_failed, &m};
    m.lives = (struct livecheck_ctx){&loop,     &m.probes,    guard_port,
                                     live_pids, live_busy, live_replace, &m};
    /* What an upgrade is lent (carry.h): where each part of the state is. */
    m.carry = (struct carry){.loop = &loop,
                             .args = args,
                             .argv = argv,
                             .d = &m.d,
                             .gens = &m.gens,
                             .steering = &m.steering,
                             .metrics_data = &m.metrics_data,
                             .reaper = &m.reaper,
                             .workers = &m.workers,
                             .guard = &m.guard,
                             .guards = &m.guards,
                             .live = &m.live,
                             .notify = &m.notify,
                             .on_notify = on_notify,
                             .notify_arg = &m,
                             .sdnotify = &m.sdnotify,
                             .control = &m.control,
                             .control_ops = &m.control_ops,
                             .metrics = &m.metrics,
                             .view = master_view,
                             .view_arg = &m,
                             .rundir = m.rundir,
                             .notify_path = m.notify_path,
                             .started_ns = &m.started_ns,
                             .last_ms = &m.last_ms,
                             .swap_us = &m.swap_us};
    deploy_init(&m.d);
    if ((m.out = calloc(1, sizeof(*m.out))) == NULL ||
        uv_loop_init(&loop) < 0) {
        free(m.out);
        config_free(cfg);
        free(source);
        json_decref(doc);
        fprintf(stderr, "handoff: cannot start the event loop\n");
        return 1;
    }
    loop.data = &m;
    log_attach(&loop);
    m.started_ns = master_now();
    if ((m.live = livecheck_new(&m.lives)) == NULL)
        log_event(LOG_ERROR, "liveness", "error=%s", log_q(strerror(ENOMEM)));
    if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_event(LOG_WARN, "subreaper", "error=%s", log_q(strerror(errno)));
    /* After an upgrade's exec, every signal stays blocked (pending in the
     * kernel) until the state is taken over: an image that cannot take it
     * executes the one before with them still pending. */
    if (doc == NULL && signals_start(&loop, on_signal, &m, &m.signals) < 0) {
        config_free(cfg);
        fprintf(stderr, "handoff: cannot install signal handlers\n");
        goto out;
    }
    if (doc != NULL) {
        (void)worker_find_shim(m.shim_path, sizeof(m.shim_path));
        m.core_timer = handle_timer(&loop, &m);
        if (resume(&m, doc, err, sizeof(err)) < 0) {
            carry_give_back(doc, argv, err); /* returns only if it cannot */
            fprintf(stderr, "handoff: the state handed over: %s\n", err);
            m.exit_code = 1;
            goto out;
        }
        json_decref(doc);
        doc = NULL;
        /* The handlers in place, signals unblocked: those that came
         * meanwhile are taken by the loop now. */
        if (signals_start(&loop, on_signal, &m, &m.signals) < 0) {
            fprintf(stderr, "handoff: cannot install signal handlers\n");
            m.exit_code = 1;
            goto out;
        }
        master_reap(&m); /* exits while the exec ran */
    } else if ((m.exit_code = start(&m, cfg, &source, len)) != 0) {
        goto out;
    }
    if ((m.path_timer = handle_timer(&loop, &m)) != NULL) {
        uv_timer_start(m.path_timer, on_path_check, PATH_CHECK_MS,
                       PATH_CHECK_MS);
        uv_unref((uv_handle_t *)m.path_timer);
    }
    if (!m.finished)
        uv_run(&loop, UV_RUN_DEFAULT);
out:
    json_decref(doc);
    handle_close(m.path_timer);
    handle_close(m.core_timer);
    control_close(m.control);
    metrics_close(m.metrics);
    sdnotify_close(m.sdnotify);
    signals_stop(m.signals);
    notify_close(m.notify);
    guard_stop(m.guard);
    livecheck_free(m.live);
    while (m.gens.list != NULL)
        gen_free(&m, m.gens.list);
    worker_remnants_close(&m.workers);
    gens_free(&m.gens);
    free(source); /* unless the first plan took it */
    if (m.rundir[0] != '\0')
        rmdir(m.rundir);
    log_detach();
    deploy_free(&m.d);
    free(m.out);
    /* Let libuv run the close callbacks that free the handles. */
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return m.exit_code;
}
