/* master.c: the master: generations' lifecycle, the roll, restarts, stop. */

/*
 * The roll, in order (DESIGN.md "The roll, step by step"):
 *
 * 1. The listeners in the plan are opened once, at start or when a reload
 *    adds one, and never closed while a generation uses them: the kernel's
 *    accept queue outlives every roll. A steered listener is a group of
 *    sockets, one per generation (traffic.h).
 * 2. master_roll() (SIGUSR2) starts a generation (start_roll): it joins
 *    its listeners' groups (traffic_join), every slot gets a worker
 *    (worker_start), with its generation's sockets, a control channel and
 *    NOTIFY_SOCKET, and its readiness check starts; a timer runs for
 *    ready_timeout. A generation that failed a roll before and still
 *    drains is killed now (drain_cap_failed): retries never pile up.
 * 3. master_worker_ready() counts ready workers; when every slot is ready
 *    the generation goes through its canary, if any (rollout.h), and is
 *    promoted (master_promote).
 * 4. master_promote() swaps every new connection to it, makes it active,
 *    and retires the previous generation (drain_retire: its queue, then
 *    drain_signal, drain_timeout, SIGKILL) unless keep_previous keeps it;
 *    a generation still draining from an earlier roll is killed (the cap).
 * 5. A worker that exits before it is ready, or the ready timer, fails the
 *    roll (fail_roll): the new generation, which no client reached when
 *    steered, is drained and the active one never notices. Only the first
 *    generation has nothing to fall back to: its failure stops handoff
 *    with the worker's exit code.
 * 6. A roll asked for during a roll sets roll_pending; master_roll_finished()
 *    starts it once the current one is promoted or failed.
 *
 * Every state change of a generation goes through master_set_state(), which asks
 * gen_transition() and logs it.
 */
#include "master.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "control.h"
#include "drain.h"
#include "handle.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "parse.h"
#include "proc.h"
#include "reach.h"
#include "rollout.h"
#include "readiness.h"
#include "rundir.h"
#include "scale.h"
#include "sdnotify.h"
#include "signals.h"
#include "traffic.h"
#include "worker.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define HEALTHY_MS 60000
#define STOP_GRACE_MS 1000 /* after stop_timeout's SIGKILL, at most */
#define PATH_CHECK_MS 2000 /* how often unix socket files are looked for */

static void schedule_restart(struct master *m, struct gen *g, size_t slot,
                             uint64_t ran_ms);
static void maybe_finish(struct master *m);
static void start_roll(struct master *m);

uint64_t
master_now(void)
{
    return uv_hrtime();
}

static unsigned long long
ms_since(uint64_t ns)
{
    return (unsigned long long)((master_now() - ns) / 1000000);
}

/*
 * Now on the monotonic clock (uv_hrtime's, CLOCK_MONOTONIC), in µs: the
 * log's ts has 1 ms resolution, too coarse to time readiness -> promote ->
 * drain, which take microseconds. Workers can read the same clock.
 */
static unsigned long long
mono_us(void)
{
    return (unsigned long long)(master_now() / 1000);
}

/* --- generations ------------------------------------------------------ */

int
master_set_state(struct gen *g, enum gen_event e)
{
    int next = gen_transition(g->state, e);

    if (next < 0) {
        log_event(LOG_DEBUG, "transition_ignored", "gen=%u state=%s on=%s",
                  g->id, gen_state_name(g->state), gen_event_name(e));
        return -1;
    }
    if ((enum gen_state)next != g->state)
        log_event(LOG_DEBUG, "transition", "gen=%u from=%s to=%s on=%s",
                  g->id, gen_state_name(g->state),
                  gen_state_name((enum gen_state)next), gen_event_name(e));
    g->state = (enum gen_state)next;
    return 0;
}

static struct gen *
gen_new(struct master *m, struct plan *p)
{
    struct gen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->nslots = (size_t)p->cfg->processes;
    g->slots = calloc(g->nslots, sizeof(*g->slots));
    g->timer = handle_timer(m->loop, g);
    g->rollout_timer = handle_timer(m->loop, g);
    if (g->slots == NULL || g->timer == NULL || g->rollout_timer == NULL) {
        handle_close(g->timer);
        handle_close(g->rollout_timer);
        free(g->slots);
        free(g);
        return NULL;
    }
    g->id = ++m->next_id;
    g->master = m;
    g->plan = plan_ref(p);
    g->state = GEN_STARTING;
    g->started_ns = master_now();
    g->next = m->gens;
    m->gens = g;
    return g;
}

static void
gen_free(struct master *m, struct gen *g)
{
    traffic_leave(m, g);
    for (struct gen **pp = &m->gens; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    for (size_t i = 0; i < g->nslots; i++) {
        handle_close(g->slots[i].restart_timer);
        worker_free(g->slots[i].w); /* none left running by now */
    }
    handle_close(g->timer);
    handle_close(g->rollout_timer);
    plan_unref(g->plan);
    free(g->slots);
    free(g);
}

/* The last process of a draining or failed generation is gone. */
void
master_gen_done(struct master *m, struct gen *g)
{
    if (master_set_state(g, GEV_ALL_EXITED) < 0)
        return;
    log_event(LOG_INFO, "gone", "gen=%u drain_ms=%llu", g->id,
              g->drain_ns ? ms_since(g->drain_ns) : 0ULL);
    if (m->active == g)
        m->active = NULL;
    gen_free(m, g);
    /* During a stop, the last generation may end with no exit to reap (one
     * retired with no process left, by its timer): that ends the stop too. */
    maybe_finish(m);
}

/*
 * Start every slot of g. A worker that cannot even be forked (no fd, no
 * memory) stops here with its error: nothing would exit to report it.
 */
static int
spawn_slots(struct master *m, struct gen *g)
{
    for (size_t i = 0; i < g->nslots; i++) {
        int rc = worker_start(m, g, i);
        if (rc < 0 && g->slots[i].w == NULL)
            return rc;
    }
    return 0;
}

/* --- the roll ----------------------------------------------------------- */

/*
 * restart = never or on-failure: g, the active generation, has no process
 * left and none to restart. The service has ended, with its last status.
 */
void
master_service_ended(struct master *m, struct gen *g)
{
    log_event(LOG_INFO, "no_worker_left", "gen=%u", g->id);
    m->exit_code = g->exit_code;
    m->have_exit_code = 1;
    m->active = NULL;
    master_set_state(g, GEV_ALL_EXITED);
    gen_free(m, g);
    master_stop(m, 0);
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

static void
fail_roll(struct master *m, struct gen *g, enum gen_event e, const char *why,
          int code)
{
    if (master_set_state(g, e) < 0)
        return;
    if (m->starting == g)
        m->starting = NULL;
    m->rolls_failed++;
    log_event(LOG_ERROR, "roll_failed", "gen=%u reason=%s roll_ms=%llu%s",
              g->id, log_q(why), ms_since(g->started_ns),
              m->active ? "" : " first=1");
    control_roll_ended(m, g, why);
    sdnotify_roll_ended(m, g, why);
    drain_gen(m, g, g->plan->cfg->drain_timeout);
    if (m->active != NULL)
        own_rundir(m, m->active->plan->cfg); /* back to those still serving */
    if (m->active == NULL && !m->stopping) {
        /* The first generation: nothing to fall back to. */
        m->exit_code = code;
        m->have_exit_code = 1;
        master_stop(m, 0);
        return;
    }
    if (m->active != NULL && !m->stopping && !gen_has_future(m->active)) {
        /* Its last process exited during the roll: nothing serves now. */
        master_service_ended(m, m->active);
        return;
    }
    master_roll_finished(m);
}

#define BYPASS_HINT "; a worker never asked for a managed address: a static, " \
                    "Go or setuid program bypasses LD_PRELOAD, use pass = " \
                    "systemd or inherit"

/* A new version that exits 0 beside a running one: Apache with one PidFile
 * for every generation ("httpd (pid N) already running"). */
#define BESIDE_HINT "; a new version that exits 0 before it is ready is " \
                    "probably refusing to run beside the old one: a pid " \
                    "file or a lock; give each generation its own, e.g. " \
                    "with HANDOFF_GENERATION"

/* Whether a worker of a shim generation never asked for a socket. */
static int
never_asked(const struct gen *g, const struct worker *w)
{
    return g->plan->cfg->pass == PASS_SHIM &&
           (w->chan == NULL || w->chan->requests == 0);
}

static void
on_ready_timeout(uv_timer_t *t)
{
    struct gen *g = t->data;
    char why[256];
    int silent = 0;

    if (g == NULL || g->state != GEN_STARTING)
        return;
    /* A shim worker that never asked for a socket did not load the shim. */
    for (size_t i = 0; i < g->nslots; i++) {
        struct worker *w = g->slots[i].w;
        if (w != NULL && w->state == W_STARTING && never_asked(g, w))
            silent = 1;
    }
    snprintf(why, sizeof(why), "not ready within ready_timeout (%zu of %zu "
             "ready, ready = %s)%s", gen_count_state(g, W_READY), g->nslots,
             config_ready_name(g->plan->cfg->ready),
             silent ? BYPASS_HINT : "");
    fail_roll(g->master, g, GEV_READY_TIMEOUT, why, 1);
}

void
master_swap_failed(struct master *m, struct gen *g, int rc, const char *at)
{
    char why[200];

    snprintf(why, sizeof(why),
             "the steering program could not be attached (%s) at %s: "
             "generation %u stays active",
             strerror(-rc), at, m->active ? m->active->id : 0);
    if (g->state == GEN_CANARY) {
        rollout_stop(m); /* no next step, no guard on a failed canary */
        if (m->active != NULL)
            (void)traffic_promote(m, m->active);
    }
    fail_roll(m, g, g->state == GEN_CANARY ? GEV_ROLLBACK : GEV_READY_TIMEOUT,
              why, 1);
}

void
master_promote(struct master *m, struct gen *g)
{
    struct gen *old = m->active;
    uint64_t swap_ns;
    int rc;

    if (g->state == GEN_STARTING && rollout_ready(m, g))
        return; /* a canary first: promoted after its last step */
    if (gen_transition(g->state, GEV_ALL_READY) < 0) {
        (void)master_set_state(g, GEV_ALL_READY); /* says it is ignored */
        return;
    }
    swap_ns = master_now();
    /* First: new connections go to g from now. A refused swap changes
     * nothing: the old generation stays active and routed; g failed. */
    if ((rc = traffic_promote(m, g)) < 0) {
        master_swap_failed(m, g, rc, "promotion");
        return;
    }
    swap_ns = master_now() - swap_ns;
    master_set_state(g, GEV_ALL_READY);
    uv_timer_stop(g->timer);
    m->starting = NULL;
    m->active = g;
    if (m->plan != g->plan) {
        plan_unref(m->plan);
        m->plan = plan_ref(g->plan);
        log_setup(m->plan->cfg->log_level, m->plan->cfg->log_format);
    }
    m->rolls_ok++;
    log_event(LOG_INFO, "promote", "gen=%u old=%u roll_ms=%llu mono_us=%llu "
              "swap_us=%llu", g->id, old ? old->id : 0,
              ms_since(m->roll_ns ? m->roll_ns : g->started_ns), mono_us(),
              (unsigned long long)(swap_ns / 1000));
    metrics_observe_roll(m, (double)(master_now() - (m->roll_ns ? m->roll_ns : g->started_ns)) / 1e9);
    control_roll_ended(m, g, NULL);
    sdnotify_roll_ended(m, g, NULL);
    /* The cap: a generation still draining from an earlier roll goes now;
     * one still emptying its queue drains once that is done (a queue
     * killed would be reset) and drain_timeout bounds that. */
    for (struct gen *d = m->gens, *next; d; d = next) {
        next = d->next; /* drain_gen() may free d */
        if (d != g && d != old && d->state == GEN_DRAINING && !d->killed) {
            if (d->drain_ns == 0 && traffic_queued(d) == 0)
                drain_gen(m, d, d->plan->cfg->drain_timeout);
            else if (d->drain_ns != 0)
                drain_kill(d, "drain_cap");
        }
    }
    if (!rollout_promoted(m, g, old) && old != NULL &&
        master_set_state(old, GEV_SUPERSEDED) == 0)
        drain_retire(m, old);
    master_roll_finished(m);
}

void
master_restore(struct master *m, struct gen *kept)
{
    m->active = kept;
    if (m->plan != kept->plan) {
        plan_unref(m->plan);
        m->plan = plan_ref(kept->plan);
        log_setup(m->plan->cfg->log_level, m->plan->cfg->log_format);
    }
}

void
master_roll_finished(struct master *m)
{
    if (m->roll_pending && !m->stopping && m->starting == NULL) {
        m->roll_pending = 0;
        start_roll(m);
    }
}

/* Say at once when the shim cannot reach the command (see reach.h). */
static void
warn_bypass(struct gen *g)
{
    const struct config *c = g->plan->cfg;
    char why[512];

    if (c->pass == PASS_SHIM &&
        reach_bypasses(c->argv[0], getenv("PATH"),
                       c->uid != (uid_t)-1 ? c->uid : geteuid(),
                       c->gid != (gid_t)-1 ? c->gid : getegid(), why,
                       sizeof(why)) > 0) {
        g->bypassed = 1;
        log_event(LOG_WARN, "shim_bypassed", "gen=%u reason=%s hint=%s",
                  g->id, log_q(why),
                  log_q("LD_PRELOAD cannot reach it: use pass = systemd or "
                        "inherit"));
    }
}

/*
 * A unix socket file removed behind the shim's back (by a static binary,
 * an rm from outside) leaves its listener unreachable: every connect()
 * fails with ENOENT. The file cannot be linked to the socket again, so a
 * new socket is made at the path (listener_restore()) and lent from then
 * on. Returns how many were made.
 */
static int
restore_paths(struct plan *p, const char *when)
{
    int n = 0, rc;

    for (size_t i = 0; p != NULL && i < p->nls; i++) {
        struct listener *l = p->ls[i];

        if ((rc = listener_restore(l)) == 0)
            continue;
        if (rc > 0)
            n++;
        log_event(rc > 0 ? LOG_WARN : LOG_ERROR, "unix_path_lost",
                  "name=%s address=%s found=%s action=%s%s%s", log_q(l->name),
                  log_q(l->bound_text), when,
                  rc > 0 ? "new_socket" : "none",
                  rc > 0 ? "" : " error=", rc > 0 ? "" : log_q(strerror(-rc)));
    }
    return n;
}

/* Between rolls the active generation accepts only from the socket whose
 * file is gone: a roll brings one that accepts from the new socket. */
static void
on_path_check(uv_timer_t *t)
{
    struct master *m = t->data;

    if (!m->stopping && restore_paths(m->plan, "check") > 0)
        master_roll(m, "unix_path_lost");
}

static void
start_roll(struct master *m)
{
    struct plan *p = m->next_plan ? m->next_plan : plan_ref(m->plan);
    struct gen *g;
    int rc;

    m->next_plan = NULL;
    /* The new generation is lent the new socket: no roll more needed. */
    restore_paths(p, "roll");
    m->roll_ns = master_now();
    rollout_roll_starting(m);
    g = gen_new(m, p);
    plan_unref(p); /* the generation holds it now */
    if (g == NULL) {
        log_event(LOG_ERROR, "roll_failed", "reason=%s", "out of memory");
        return;
    }
    m->starting = g;
    /* This roll's canary: handoff roll --canary's, else the file's. */
    g->nsteps = m->roll_nsteps ? m->roll_nsteps : p->cfg->canary.nsteps;
    memcpy(g->steps, m->roll_nsteps ? m->roll_steps : p->cfg->canary.steps,
           sizeof(g->steps));
    m->roll_nsteps = 0;
    log_event(LOG_INFO, "roll", "gen=%u processes=%zu ready=%s", g->id,
              g->nslots, config_ready_name(p->cfg->ready));
    drain_cap_failed(m, g);
    sdnotify_roll_started(m, g);
    warn_bypass(g);
    own_rundir(m, p->cfg);
    uv_timer_start(g->timer, on_ready_timeout, p->cfg->ready_timeout, 0);
    if ((rc = traffic_join(m, g)) == 0)
        rc = spawn_slots(m, g);
    if (rc < 0) {
        /* Like a new worker that exits before it is ready: the roll fails
         * whole, and the active generation keeps its every process. */
        char why[128];
        snprintf(why, sizeof(why), "cannot start a worker: %s", strerror(-rc));
        fail_roll(m, g, GEV_WORKER_EXIT, why, 1);
    }
}

void
master_roll(struct master *m, const char *why)
{
    if (m->stopping)
        return;
    if (m->delay_timer != NULL) {
        log_event(LOG_INFO, "roll_ignored", "reason=%s during=stop_delay", why);
        return;
    }
    if (m->starting != NULL) {
        m->roll_pending = 1;
        log_event(LOG_INFO, "roll_queued", "during=%u reason=%s",
                  m->starting->id, why);
        return;
    }
    start_roll(m);
}

/* --- workers ------------------------------------------------------------ */

static struct worker *
find_worker(struct master *m, pid_t pid)
{
    for (struct gen *g = m->gens; g; g = g->next)
        for (size_t i = 0; i < g->nslots; i++)
            if (g->slots[i].w && g->slots[i].w->child.pid == pid)
                return g->slots[i].w;
    return NULL;
}

/* The worker pid is, or descends from (a pre-forking server's child). */
static struct worker *
attribute(struct master *m, pid_t pid)
{
    pid_t self = getpid();

    for (int depth = 0; pid > 1 && pid != self && depth < 16; depth++) {
        struct worker *w = find_worker(m, pid);
        if (w != NULL)
            return w;
        pid = proc_parent_of(pid);
    }
    return NULL;
}

void
master_worker_ready(struct master *m, struct worker *w, enum ready_kind via)
{
    struct gen *g = w->gen;

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
    metrics_observe_ready(m, (double)(w->ready_ns - w->started_ns) / 1e9);
    log_event(LOG_INFO, "ready", "gen=%u pid=%d via=%s ready_ms=%llu "
              "mono_us=%llu", g->id, (int)w->child.pid,
              config_ready_name(via),
              (unsigned long long)((w->ready_ns - w->started_ns) / 1000000),
              (unsigned long long)(w->ready_ns / 1000));
    {
        char text[96];
        snprintf(text, sizeof(text), "gen %u: pid %d ready, %zu of %zu",
                 g->id, (int)w->child.pid, gen_count_state(g, W_READY), g->nslots);
        control_roll_progress(m, text);
    }
    if (g->state == GEN_STARTING && gen_all_ready(g))
        master_promote(m, g);
}

void
master_notify(struct master *m, pid_t pid, int ready, int stopping,
              const char *status)
{
    struct worker *w = attribute(m, pid);

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
    if (stopping && !w->stopping_notified) {
        w->stopping_notified = 1;
        log_event(LOG_INFO, "stopping", "gen=%u pid=%d", w->gen->id,
                  (int)w->child.pid);
        if (w->gen->state == GEN_STARTING)
            fail_roll(m, w->gen, GEV_WORKER_EXIT, "worker sent STOPPING=1", 1);
        return;
    }
    if (ready)
        master_worker_ready(m, w, READY_NOTIFY);
}

/*
 * Start the worker of a slot of the active generation. One that could not
 * even be forked (no fd, no memory, no process left) is tried again with
 * the restart backoff: no exit will ever come to bring it back.
 */
void
master_start_slot(struct master *m, struct gen *g, size_t slot)
{
    int rc = worker_start(m, g, slot);

    if (rc < 0 && g->slots[slot].w == NULL) {
        log_event(LOG_ERROR, "restart_failed", "gen=%u slot=%zu error=%s",
                  g->id, slot, log_q(strerror(-rc)));
        schedule_restart(m, g, slot, 0);
    }
}

static void
on_restart_timer(uv_timer_t *t)
{
    struct gen *g = t->data;

    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i].restart_timer == t) {
            handle_close(t);
            g->slots[i].restart_timer = NULL;
            if (g->state == GEN_KEPT && !g->slots[i].retired)
                g->slots[i].lost = 1; /* started if traffic returns */
            if (g->state == GEN_ACTIVE && !g->master->stopping &&
                !g->slots[i].retired && g->slots[i].w == NULL)
                master_start_slot(g->master, g, i);
            return;
        }
}

static int
wants_restart(enum restart_mode r, int status)
{
    if (r == RESTART_ALWAYS)
        return 1;
    if (r == RESTART_ON_FAILURE)
        return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

static void
schedule_restart(struct master *m, struct gen *g, size_t slot, uint64_t ran_ms)
{
    struct slot *s = &g->slots[slot];
    uint64_t delay;

    if (ran_ms >= HEALTHY_MS || s->backoff_ms == 0)
        s->backoff_ms = BACKOFF_FIRST_MS;
    delay = s->backoff_ms;
    s->backoff_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
    if (s->restart_timer == NULL)
        s->restart_timer = handle_timer(m->loop, g);
    if (s->restart_timer == NULL)
        return;
    s->restarts++;
    m->restarts++;
    log_event(LOG_INFO, "restart", "gen=%u slot=%zu delay_ms=%llu", g->id,
              slot, (unsigned long long)delay);
    uv_timer_start(s->restart_timer, on_restart_timer, delay, 0);
}

void
master_on_worker_exit(struct child *c, int status)
{
    struct worker *w = (struct worker *)c; /* child is its first member */
    struct gen *g = w->gen;
    struct master *m = g->master;
    uint64_t ran_ms = (master_now() - w->started_ns) / 1000000;
    int code = reap_exit_code(status);
    size_t slot = w->slot;
    /* Exiting before asking is normal for a bad configuration: the hint
     * is for a program that shim_bypassed already flagged. */
    int silent = g->bypassed && never_asked(g, w);
    char desc[64], execerr[400];

    /* Its exec's report first, if the exit came before it: the log tells
     * spawn or exec_failed, then exit. */
    worker_exec_report(w, 1);
    worker_exec_error(w, execerr, sizeof(execerr));
    log_event(g->state == GEN_ACTIVE && !m->stopping ? LOG_WARN : LOG_INFO,
              "exit", "gen=%u pid=%d %s ran_ms=%llu", g->id, (int)c->pid,
              reap_describe(status, desc, sizeof(desc)),
              (unsigned long long)ran_ms);
    metrics_observe_drain(m, w);
    w->state = W_EXITED;
    g->slots[slot].w = NULL;
    g->live--;
    g->exit_code = code;
    worker_free(w);
    if (m->stopping && g == m->stop_gen && !m->have_exit_code)
        m->exit_code = worker_stop_code(status, g->plan->cfg->drain_signal,
                                        m->stop_sig);

    switch (g->state) {
    case GEN_STARTING: {
        char why[1024];
        if (g->slots[slot].retired)
            break; /* SIGTTOU's: not a failure of the roll */
        snprintf(
            why, sizeof(why), "worker exited before it was ready (%s)%s%s%s%s",
            desc, execerr[0] ? ": " : "", execerr, silent ? BYPASS_HINT : "",
            m->active != NULL && WIFEXITED(status) && WEXITSTATUS(status) == 0
                ? BESIDE_HINT
                : "");
        fail_roll(m, g, GEV_WORKER_EXIT, why, code);
        break;
    }
    case GEN_CANARY:
    case GEN_ACTIVE:
        if (rollout_worker_exit(m, g, slot, desc))
            break; /* rolled back: g drains */
        if (g->state == GEN_CANARY)
            break; /* its slot is not restarted */
        master_set_state(g, GEV_WORKER_EXIT);
        if (!g->slots[slot].retired &&
            wants_restart(g->plan->cfg->restart, status)) {
            schedule_restart(m, g, slot, ran_ms);
        } else if (!gen_has_future(g) && m->starting == NULL) {
            master_service_ended(m, g); /* in a roll, its outcome decides */
            return;
        }
        break;
    case GEN_DRAINING:
    case GEN_FAILED:
        if (g->live == 0)
            master_gen_done(m, g);
        break;
    case GEN_KEPT:
        rollout_kept_exit(m, g, slot,
                          wants_restart(g->plan->cfg->restart, status));
        break;
    case GEN_DONE:
        break;
    }
    if (m->stopping)
        maybe_finish(m);
}

/* --- signals ------------------------------------------------------------ */

size_t
master_live_plans(struct master *m, struct plan **out, size_t cap)
{
    size_t n = 0;

    out[n++] = m->plan;
    out[n++] = m->next_plan;
    for (struct gen *g = m->gens; g && n < cap; g = g->next)
        out[n++] = g->plan;
    return n;
}

void
master_reload(struct master *m)
{
    char err[CONFIG_ERRLEN];
    struct config *cfg;
    struct plan *p, *live[MASTER_MAX_PLANS];
    const char *keys[3];
    size_t nlive;
    int nkeys;

    if (m->stopping)
        return;
    nlive = master_live_plans(m, live, MASTER_MAX_PLANS);
    if (m->args->file == NULL) {
        log_event(LOG_INFO, "reload", "file=none action=roll");
        master_roll(m, "SIGHUP");
        return;
    }
    if (config_load(m->args, &cfg, err, sizeof(err)) < 0) {
        log_event(LOG_ERROR, "reload_failed", "file=%s error=%s",
                  log_q(m->args->file), log_q(err));
        return;
    }
    nkeys = config_keep_start_keys(m->plan->cfg, cfg, keys, 3);
    if (plan_new(cfg, live, nlive, &p, err, sizeof(err)) < 0) {
        log_event(LOG_ERROR, "reload_failed", "file=%s error=%s",
                  log_q(m->args->file), log_q(err));
        config_free(cfg);
        return;
    }
    for (int i = 0; i < nkeys; i++)
        log_event(LOG_WARN, "reload_not_applied", "key=%s reason=%s", keys[i],
                  log_q("read at start only: restart handoff to apply it"));
    log_event(LOG_INFO, "reload", "file=%s action=roll", log_q(m->args->file));
    plan_unref(m->next_plan);
    m->next_plan = p;
    master_roll(m, "SIGHUP");
}

static void finish(struct master *m);

/* The stop's last word: what the SIGKILL round left does not hold it. */
static void
on_stop_grace(uv_timer_t *t)
{
    struct master *m = t->data;

    if (m == NULL || m->finished)
        return;
    log_event(LOG_WARN, "stop_abandoned", "grace_ms=%d", STOP_GRACE_MS);
    finish(m);
}

static void
on_stop_timeout(uv_timer_t *t)
{
    struct master *m = t->data;

    if (m == NULL)
        return;
    log_event(LOG_WARN, "stop_timeout", "action=SIGKILL");
    for (struct gen *g = m->gens; g; g = g->next)
        drain_kill(g, "stop_timeout");
    proc_kill_children(SIGKILL);
    m->orphans_killed = 1;
    uv_timer_start(t, on_stop_grace, STOP_GRACE_MS, 0);
}

static void
on_stop_delay(uv_timer_t *t)
{
    struct master *m = t->data;

    master_stop(m, m->delay_sig);
}

void
master_stop(struct master *m, int sig)
{
    struct gen *g, *next;

    if (m->stopping) {
        if (sig != 0)
            log_event(LOG_INFO, "stop_pending", "signal=%s",
                      parse_signal_name(sig));
        return;
    }
    if (m->delay_timer != NULL) {
        /* The delay ran out, or a second signal: stop now. */
        handle_close(m->delay_timer);
        m->delay_timer = NULL;
    } else if (sig != 0 && m->plan->cfg->stop_delay > 0 && m->active != NULL &&
               (m->delay_timer = handle_timer(m->loop, m)) != NULL) {
        /* A load balancer still sends traffic for a while after it was told
         * this instance is going: keep serving it. */
        m->delay_sig = sig;
        log_event(LOG_INFO, "stop_delay", "signal=%s delay_ms=%llu",
                  parse_signal_name(sig),
                  (unsigned long long)m->plan->cfg->stop_delay);
        uv_timer_start(m->delay_timer, on_stop_delay, m->plan->cfg->stop_delay, 0);
        return;
    }
    m->stopping = 1;
    rollout_stop(m);
    m->stop_sig = sig;
    /* Generation 1 still starting is all there is: its status counts. */
    m->stop_gen = m->active ? m->active : m->starting;
    m->roll_pending = 0;
    plan_unref(m->next_plan);
    m->next_plan = NULL;
    log_event(LOG_INFO, "stop", "signal=%s timeout_ms=%llu",
              sig ? parse_signal_name(sig) : "none",
              (unsigned long long)m->plan->cfg->stop_timeout);
    control_stopping(m);
    sdnotify_stopping(m);
    m->stop_timer = handle_timer(m->loop, m);
    if (m->stop_timer != NULL)
        uv_timer_start(m->stop_timer, on_stop_timeout,
                       m->plan->cfg->stop_timeout, 0);
    for (g = m->gens; g; g = next) {
        next = g->next; /* drain_gen() may free g */
        if (g->state == GEN_STARTING || g->state == GEN_ACTIVE ||
            g->state == GEN_CANARY || g->state == GEN_KEPT) {
            if (m->starting == g)
                m->starting = NULL;
            master_set_state(g, GEV_STOP);
            drain_gen(m, g, m->plan->cfg->stop_timeout);
        }
    }
    maybe_finish(m);
}

static void
finish(struct master *m)
{
    log_event(LOG_INFO, "exit_master", "code=%d rolls=%u failed_rolls=%u "
              "orphans_reaped=%lu", m->exit_code, m->rolls_ok,
              m->rolls_failed, m->reaper.orphans);
    m->finished = 1;
    handle_close(m->stop_timer);
    m->stop_timer = NULL;
    signals_stop(m);
    notify_close(m->notify);
    m->notify = NULL;
    uv_stop(m->loop);
}

static void
maybe_finish(struct master *m)
{
    if (!m->stopping || m->finished || m->gens != NULL)
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

void
master_reap(struct master *m)
{
    reap_all(&m->reaper);
    /* After stop_timeout, an orphan re-parented since (its parent just
     * died) gets SIGKILL at once, or the stop would wait for it. */
    if (m->orphans_killed && !m->finished)
        proc_kill_children(SIGKILL);
    maybe_finish(m);
}

void
master_scale(struct master *m, int delta)
{
    struct gen *gs[2];
    size_t n = scale_targets(m->active, m->starting, gs);

    for (size_t k = 0; k < n && !m->stopping; k++) {
        struct gen *g = gs[k];
        struct config *c = g->plan->cfg;
        long i = delta > 0 ? scale_grow(g) : scale_victim(g);

        if (i < 0) {
            log_event(LOG_INFO, "scale", "gen=%u processes=%zu action=none "
                      "reason=%s", g->id, scale_count(g),
                      i == -ENOENT ? "minimum" : "out-of-memory");
            continue;
        }
        g->slots[i].retired = delta < 0;
        c->processes = (long)scale_count(g); /* what later rolls start */
        log_event(LOG_INFO, "scale", "gen=%u processes=%ld", g->id,
                  c->processes);
        if (delta > 0) {
            master_start_slot(m, g, (size_t)i);
            continue;
        }
        handle_close(g->slots[i].restart_timer);
        g->slots[i].restart_timer = NULL;
        if (g->slots[i].w != NULL)
            drain_worker(g->slots[i].w, c->drain_signal);
    }
    /* The slot just retired may be all the starting generation waited for. */
    if (m->starting != NULL && m->starting->state == GEN_STARTING &&
        gen_all_ready(m->starting))
        master_promote(m, m->starting);
}

void
master_forward(struct master *m, int sig)
{
    struct gen *g = m->active;

    if (g == NULL)
        return;
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i].w != NULL && worker_signal(g->slots[i].w, sig) == 0)
            log_event(LOG_DEBUG, "forward", "gen=%u pid=%d signal=%s", g->id,
                      (int)g->slots[i].w->child.pid, parse_signal_name(sig));
}

/* --- start and end -------------------------------------------------------- */

int
master_run(const struct config_args *args, struct config *cfg)
{
    struct master m;
    uv_loop_t loop;
    char err[CONFIG_ERRLEN];
    int rc;

    memset(&m, 0, sizeof(m));
    m.args = args;
    m.loop = &loop;
    if (uv_loop_init(&loop) < 0) {
        config_free(cfg);
        fprintf(stderr, "handoff: cannot start the event loop\n");
        return 1;
    }
    loop.data = &m;
    log_attach(&loop);
    m.started_ns = master_now();
    /* Before anything is started: no child may inherit NOTIFY_SOCKET. */
    if ((rc = sdnotify_open(&m.sdnotify)) < 0)
        log_event(LOG_WARN, "sdnotify_failed", "error=%s",
                  log_q(strerror(-rc)));
    if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_event(LOG_WARN, "subreaper", "error=%s", log_q(strerror(errno)));
    log_event(LOG_INFO, "start", "pid=%d version=%s pass=%s ready=%s "
              "processes=%ld", (int)getpid(), PACKAGE_VERSION,
              config_pass_name(cfg->pass), config_ready_name(cfg->ready),
              cfg->processes);
    if (signals_start(&m) < 0) {
        config_free(cfg);
        fprintf(stderr, "handoff: cannot install signal handlers\n");
        goto out;
    }
    if (worker_find_shim(m.shim_path, sizeof(m.shim_path)) < 0 &&
        cfg->pass == PASS_SHIM) {
        fprintf(stderr, "handoff: pass = shim: %s is missing; use pass = "
                        "systemd, inherit or protocol\n", m.shim_path);
        config_free(cfg);
        m.exit_code = 2;
        goto out;
    }
    if (control_open(&m, cfg->control, err, sizeof(err)) < 0) {
        fprintf(stderr, "handoff: %s\n", err);
        log_event(LOG_ERROR, "control_failed", "error=%s", log_q(err));
        config_free(cfg);
        m.exit_code = 1;
        goto out;
    }
    if (metrics_open(&m, cfg->metrics, err, sizeof(err)) < 0) {
        fprintf(stderr, "handoff: %s\n", err);
        config_free(cfg);
        m.exit_code = 1;
        goto out;
    }
    steer_plan_init(&m.steering, cfg->probe_lo, cfg->probe_hi);
    if ((rc = plan_new(cfg, NULL, 0, &m.plan, err, sizeof(err))) < 0) {
        config_free(cfg);
        fprintf(stderr, "handoff: listen %s\n", err);
        log_event(LOG_ERROR, "listen_failed", "error=%s", log_q(err));
        m.exit_code = 1;
        goto out;
    }
    if (rundir_make(m.rundir, sizeof(m.rundir), m.notify_path,
                    sizeof(m.notify_path)) < 0 ||
        (rc = notify_open(&m, m.notify_path, &m.notify)) < 0) {
        fprintf(stderr, "handoff: cannot make the notify socket in %s\n",
                m.rundir[0] ? m.rundir : "/run or /tmp");
        m.exit_code = 1;
        goto out;
    }
    if ((m.path_timer = handle_timer(&loop, &m)) != NULL) {
        uv_timer_start(m.path_timer, on_path_check, PATH_CHECK_MS,
                       PATH_CHECK_MS);
        uv_unref((uv_handle_t *)m.path_timer);
    }
    start_roll(&m); /* which hands the rundir to its workers' user */
    uv_run(&loop, UV_RUN_DEFAULT);
out:
    handle_close(m.path_timer);
    control_close(&m);
    metrics_close(&m);
    sdnotify_close(m.sdnotify);
    signals_stop(&m);
    notify_close(m.notify);
    handle_close(m.stop_timer);
    while (m.gens != NULL)
        gen_free(&m, m.gens);
    worker_remnants_close(&m);
    plan_unref(m.next_plan);
    plan_unref(m.plan);
    if (m.rundir[0] != '\0')
        rmdir(m.rundir);
    log_detach();
    /* Let libuv run the close callbacks that free the handles. */
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return m.exit_code;
}
