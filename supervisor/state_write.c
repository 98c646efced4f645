/* state_write.c: the deployment core's state written as JSON, for the image that comes after an upgrade. */
#include "state.h"

#include <string.h>

#include "log.h"

/*
 * Every field of the core's structs is written here; state_read.c reads
 * the same names. test_state.c checks the structs' sizes, so that a field
 * added without being carried fails the tests instead of being lost at
 * the first upgrade.
 */

/* o[key] = v; the first failure is kept in *failed. */
static void
put(json_t *o, const char *key, json_t *v, int *failed)
{
    if (v == NULL || json_object_set_new(o, key, v) < 0)
        *failed = 1;
}

static json_t *
num(long long v)
{
    return json_integer((json_int_t)v);
}

/* A string as it is when it is UTF-8, as the log writes it when not (a
 * worker's bytes in a reason). */
static json_t *
text(const char *s)
{
    json_t *v = json_string(s);

    return v != NULL ? v : log_json_string(s, strlen(s));
}

static json_t *
steps(const struct deploy_step *s, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_pack("[I,I]", (json_int_t)s[i].bps,
                                               (json_int_t)s[i].ms)) < 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

static json_t *
numbers(const unsigned *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, num(v[i])) < 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

static json_t *
conf(const struct deploy_conf *c)
{
    json_t *o = json_object();
    int f = o == NULL;

    if (f)
        return NULL;
    put(o, "plan", num(c->plan), &f);
    put(o, "processes", num(c->processes), &f);
    put(o, "restart", num(c->restart), &f);
    put(o, "steered", num(c->steered), &f);
    put(o, "drain_signal", num(c->drain_signal), &f);
    put(o, "ready_timeout", num((long long)c->ready_timeout), &f);
    put(o, "drain_timeout", num((long long)c->drain_timeout), &f);
    put(o, "drain_delay", num((long long)c->drain_delay), &f);
    put(o, "stop_timeout", num((long long)c->stop_timeout), &f);
    put(o, "stop_delay", num((long long)c->stop_delay), &f);
    put(o, "keep_previous", num((long long)c->keep_previous), &f);
    put(o, "shim", num(c->shim), &f);
    put(o, "ready", text(c->ready), &f);
    put(o, "steps", steps(c->steps, c->nsteps), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
slot(const struct deploy_slot *s)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "w",
                     (json_int_t)s->w, "started", (json_int_t)s->started,
                     "backoff_ms", (json_int_t)s->backoff_ms, "restart_at",
                     (json_int_t)s->restart_at, "retired",
                     (json_int_t)s->retired, "lost", (json_int_t)s->lost,
                     "asked", (json_int_t)s->asked, "ended",
                     (json_int_t)s->ended, "restarts", (json_int_t)s->restarts);
}

static json_t *
gen(const struct deploy_gen *g)
{
    json_t *o = json_object(), *slots = json_array();
    int f = o == NULL || slots == NULL;

    for (size_t i = 0; !f && i < g->nslots; i++)
        f = json_array_append_new(slots, slot(&g->slots[i])) < 0;
    if (f) {
        json_decref(o);
        json_decref(slots);
        return NULL;
    }
    put(o, "id", num(g->id), &f);
    put(o, "state", num(g->state), &f);
    put(o, "conf", conf(&g->conf), &f);
    put(o, "slots", slots, &f);
    put(o, "live", num((long long)g->live), &f);
    put(o, "started", num((long long)g->started), &f);
    put(o, "ready_at", num((long long)g->ready_at), &f);
    put(o, "retire_at", num((long long)g->retire_at), &f);
    put(o, "queue_empty", num(g->queue_empty), &f);
    put(o, "drain_at", num((long long)g->drain_at), &f);
    put(o, "kill_at", num((long long)g->kill_at), &f);
    put(o, "killed", num(g->killed), &f);
    put(o, "steps", steps(g->steps, g->nsteps), &f);
    put(o, "step", num((long long)g->step), &f);
    put(o, "step_at", num((long long)g->step_at), &f);
    put(o, "keep_at", num((long long)g->keep_at), &f);
    put(o, "exit_code", num(g->exit_code), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
roll(const struct deploy_roll *r)
{
    return json_pack("{s:I,s:o,s:o}", "explicit_steps",
                     (json_int_t)r->explicit_steps, "steps",
                     steps(r->steps, r->nsteps), "clients",
                     numbers(r->clients, r->nclients));
}

static json_t *
rollback(const struct deploy_rollback *rb)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "gen",
                     (json_int_t)rb->gen, "cause", (json_int_t)rb->cause,
                     "client", (json_int_t)rb->client, "retry_at",
                     (json_int_t)rb->retry_at, "crashed",
                     (json_int_t)rb->crashed, "slot", (json_int_t)rb->slot,
                     "status", (json_int_t)rb->status, "ran",
                     (json_int_t)rb->ran, "step_failed",
                     (json_int_t)rb->step_failed, "why", text(rb->why));
}

json_t *
state_write_deploy(const struct deploy *d)
{
    json_t *o = json_object(), *gens = json_array(), *queue = json_array(),
           *waiters = json_array();
    int f = o == NULL || gens == NULL || queue == NULL || waiters == NULL;

    /* In the order of the table: the order ids were given is theirs. */
    for (size_t i = 0; !f && i < DEPLOY_MAX_GENS; i++)
        if (d->gens[i].id != 0)
            f = json_array_append_new(gens, gen(&d->gens[i])) < 0;
    for (size_t i = 0; !f && i < d->nqueue; i++)
        f = json_array_append_new(queue, roll(&d->queue[i])) < 0;
    for (size_t i = 0; !f && i < d->nwaiters; i++)
        f = json_array_append_new(
                waiters, json_pack("[I,I]", (json_int_t)d->waiters[i].client,
                                   (json_int_t)d->waiters[i].gen)) < 0;
    if (f) {
        json_decref(o);
        json_decref(gens);
        json_decref(queue);
        json_decref(waiters);
        return NULL;
    }
    put(o, "gens", gens, &f);
    put(o, "queue", queue, &f);
    put(o, "waiters", waiters, &f);
    put(o, "next_id", num(d->next_id), &f);
    put(o, "active", num(d->active), &f);
    put(o, "starting", num(d->starting), &f);
    put(o, "conf", conf(&d->conf), &f);
    put(o, "next", conf(&d->next), &f);
    put(o, "have_next", num(d->have_next), &f);
    put(o, "route_main", num(d->route_main), &f);
    put(o, "route_canary", num(d->route_canary), &f);
    put(o, "route_bps", num(d->route_bps), &f);
    put(o, "pending", num(d->pending), &f);
    put(o, "pending_gen", num(d->pending_gen), &f);
    put(o, "pending_client", num(d->pending_client), &f);
    put(o, "rb", rollback(&d->rb), &f);
    put(o, "guard_cur", num(d->guard_cur), &f);
    put(o, "guard_prev", num(d->guard_prev), &f);
    put(o, "guard_latency", num(d->guard_latency), &f);
    put(o, "stopping", num(d->stopping), &f);
    put(o, "finished", num(d->finished), &f);
    put(o, "stop_sig", num(d->stop_sig), &f);
    put(o, "stop_gen", num(d->stop_gen), &f);
    put(o, "delay_at", num((long long)d->delay_at), &f);
    put(o, "delay_sig", num(d->delay_sig), &f);
    put(o, "stop_at", num((long long)d->stop_at), &f);
    put(o, "grace_at", num((long long)d->grace_at), &f);
    put(o, "exit_code", num(d->exit_code), &f);
    put(o, "have_exit_code", num(d->have_exit_code), &f);
    put(o, "rolls_ok", num(d->rolls_ok), &f);
    put(o, "rolls_failed", num(d->rolls_failed), &f);
    put(o, "restarts", num(d->restarts), &f);
    put(o, "rollbacks", numbers(d->rollbacks, DEPLOY_NCAUSES), &f);
    put(o, "last_outcome", num(d->last_outcome), &f);
    put(o, "last_gen", num(d->last_gen), &f);
    put(o, "last_reason", text(d->last_reason), &f);
    put(o, "timer_at", num((long long)d->timer_at), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
state_write(const struct deploy *d)
{
    return json_pack("{s:s,s:i,s:s,s:o}", "format", STATE_FORMAT, "version",
                     STATE_VERSION, "written_by", PACKAGE_VERSION, "deploy",
                     state_write_deploy(d));
}
