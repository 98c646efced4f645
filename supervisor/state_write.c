/* state_write.c: the deployment core's state written as JSON, for the image
 * that comes after an upgrade. */
#include "state.h"

#include <string.h>

#include "log.h"
#include "version.h"

/*
 * Every field of the core's structs is written here; state_read.c reads
 * the same names. test_state.c checks the structs' sizes, so that a field
 * added without being carried fails the tests instead of being lost at
 * the first upgrade.
 */

void
state_put(json_t *o, const char *key, json_t *v, int *failed)
{
    if (v == NULL || json_object_set_new(o, key, v) < 0)
        *failed = 1;
}

json_t *
state_num(long long v)
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

json_t *
state_numbers(const unsigned *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, state_num(v[i])) < 0) {
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
    state_put(o, "plan", state_num(c->plan), &f);
    state_put(o, "processes", state_num(c->processes), &f);
    state_put(o, "restart", state_num(c->restart), &f);
    state_put(o, "steered", state_num(c->steered), &f);
    state_put(o, "drain_signal", state_num(c->drain_signal), &f);
    state_put(o, "ready_timeout", state_num((long long)c->ready_timeout), &f);
    state_put(o, "drain_timeout", state_num((long long)c->drain_timeout), &f);
    state_put(o, "drain_delay", state_num((long long)c->drain_delay), &f);
    state_put(o, "stop_timeout", state_num((long long)c->stop_timeout), &f);
    state_put(o, "stop_delay", state_num((long long)c->stop_delay), &f);
    state_put(o, "keep_previous", state_num((long long)c->keep_previous), &f);
    state_put(o, "shim", state_num(c->shim), &f);
    state_put(o, "ready", text(c->ready), &f);
    state_put(o, "steps", steps(c->steps, c->nsteps), &f);
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
    state_put(o, "id", state_num(g->id), &f);
    state_put(o, "state", state_num(g->state), &f);
    state_put(o, "conf", conf(&g->conf), &f);
    state_put(o, "slots", slots, &f);
    state_put(o, "live", state_num((long long)g->live), &f);
    state_put(o, "started", state_num((long long)g->started), &f);
    state_put(o, "ready_at", state_num((long long)g->ready_at), &f);
    state_put(o, "retire_at", state_num((long long)g->retire_at), &f);
    state_put(o, "queue_empty", state_num(g->queue_empty), &f);
    state_put(o, "drain_at", state_num((long long)g->drain_at), &f);
    state_put(o, "kill_at", state_num((long long)g->kill_at), &f);
    state_put(o, "killed", state_num(g->killed), &f);
    state_put(o, "steps", steps(g->steps, g->nsteps), &f);
    state_put(o, "step", state_num((long long)g->step), &f);
    state_put(o, "step_at", state_num((long long)g->step_at), &f);
    state_put(o, "keep_at", state_num((long long)g->keep_at), &f);
    state_put(o, "exit_code", state_num(g->exit_code), &f);
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
                     state_numbers(r->clients, r->nclients));
}

static json_t *
rollback(const struct deploy_rollback *rb)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "gen", (json_int_t)rb->gen,
        "cause", (json_int_t)rb->cause, "client", (json_int_t)rb->client,
        "retry_at", (json_int_t)rb->retry_at, "crashed",
        (json_int_t)rb->crashed, "slot", (json_int_t)rb->slot, "status",
        (json_int_t)rb->status, "ran", (json_int_t)rb->ran, "step_failed",
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
    state_put(o, "gens", gens, &f);
    state_put(o, "queue", queue, &f);
    state_put(o, "waiters", waiters, &f);
    state_put(o, "next_id", state_num(d->next_id), &f);
    state_put(o, "active", state_num(d->active), &f);
    state_put(o, "starting", state_num(d->starting), &f);
    state_put(o, "conf", conf(&d->conf), &f);
    state_put(o, "next", conf(&d->next), &f);
    state_put(o, "have_next", state_num(d->have_next), &f);
    state_put(o, "route_main", state_num(d->route_main), &f);
    state_put(o, "route_canary", state_num(d->route_canary), &f);
    state_put(o, "route_bps", state_num(d->route_bps), &f);
    state_put(o, "pending", state_num(d->pending), &f);
    state_put(o, "pending_gen", state_num(d->pending_gen), &f);
    state_put(o, "pending_client", state_num(d->pending_client), &f);
    state_put(o, "rb", rollback(&d->rb), &f);
    state_put(o, "guard_cur", state_num(d->guard_cur), &f);
    state_put(o, "guard_prev", state_num(d->guard_prev), &f);
    state_put(o, "guard_latency", state_num(d->guard_latency), &f);
    state_put(o, "stopping", state_num(d->stopping), &f);
    state_put(o, "finished", state_num(d->finished), &f);
    state_put(o, "stop_sig", state_num(d->stop_sig), &f);
    state_put(o, "stop_gen", state_num(d->stop_gen), &f);
    state_put(o, "delay_at", state_num((long long)d->delay_at), &f);
    state_put(o, "delay_sig", state_num(d->delay_sig), &f);
    state_put(o, "stop_at", state_num((long long)d->stop_at), &f);
    state_put(o, "grace_at", state_num((long long)d->grace_at), &f);
    state_put(o, "exit_code", state_num(d->exit_code), &f);
    state_put(o, "have_exit_code", state_num(d->have_exit_code), &f);
    state_put(o, "rolls_ok", state_num(d->rolls_ok), &f);
    state_put(o, "rolls_failed", state_num(d->rolls_failed), &f);
    state_put(o, "restarts", state_num(d->restarts), &f);
    state_put(o, "rollbacks", state_numbers(d->rollbacks, DEPLOY_NCAUSES), &f);
    state_put(o, "last_outcome", state_num(d->last_outcome), &f);
    state_put(o, "last_gen", state_num(d->last_gen), &f);
    state_put(o, "last_reason", text(d->last_reason), &f);
    state_put(o, "timer_at", state_num((long long)d->timer_at), &f);
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
                     handoff_state_version, "written_by", handoff_version,
                     "deploy", state_write_deploy(d));
}

json_t *
state_hex(const void *b, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = b;
    char *s = malloc(2 * len + 1);
    json_t *v;

    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    s[2 * len] = '\0';
    v = json_stringn(s, 2 * len);
    free(s);
    return v;
}
