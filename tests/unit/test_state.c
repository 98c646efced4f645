/* test_state.c: the deployment core written and read back as an upgrade carries it: the same state, the same decisions after, every bad document refused. */
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

#include "deploy.h"
#include "state.h"

static struct deploy_out out;

/* One event at t; a swap the core asks for works. The actions are left in
 * out (the swap's answer's appended). */
static void
feed(struct deploy *d, uint64_t t, struct deploy_event ev)
{
    out.n = 0;
    assert_int_equal(deploy_event(d, &ev, t, &out), 0);
    while (d->pending != DP_NONE)
        assert_int_equal(
            deploy_event(d, &(struct deploy_event){.kind = DEV_STEERED}, t,
                         &out),
            0);
}

static void
ready(struct deploy *d, uint64_t t, unsigned gen, size_t slot)
{
    feed(d, t,
         (struct deploy_event){.kind = DEV_READY, .gen = gen, .slot = slot});
}

static void
plan(struct deploy_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->plan = 7;
    c->processes = 2;
    c->restart = DEPLOY_RESTART_ALWAYS;
    c->steered = 1;
    c->drain_signal = SIGQUIT;
    c->ready_timeout = 60000;
    c->drain_timeout = 300000; /* the drained one stays: three at once */
    c->drain_delay = 50;
    c->stop_timeout = 9000;
    c->stop_delay = 1500;
    c->keep_previous = 120000;
    c->shim = 1;
    snprintf(c->ready, sizeof(c->ready), "listen");
}

/*
 * Three generations at once: 1 draining (its processes take their time), 2
 * active with a crashed process waiting out its backoff, 3 a canary at its
 * first step with its guard and its client waiting; a roll queued with its
 * own steps and its client; counters and the last outcome set.
 */
static void
busy_canary(struct deploy *d)
{
    struct deploy_conf c;
    struct deploy_step mine[2] = {{2500, 40000}, {5000, 30000}};

    plan(&c);
    deploy_init(d);
    feed(d, 1000, (struct deploy_event){.kind = DEV_START, .conf = &c});
    ready(d, 1100, 1, 0);
    ready(d, 1150, 1, 1);
    feed(d, 2000, (struct deploy_event){.kind = DEV_ROLL});
    ready(d, 2100, 2, 0);
    ready(d, 2200, 2, 1);
    assert_int_equal(d->active, 2);
    /* A new roll ends the keeping of 1, which drains for 300 s. */
    feed(d, 3000,
         (struct deploy_event){
             .kind = DEV_ROLL, .client = 4, .steps = mine, .nsteps = 2});
    feed(d, 3100, (struct deploy_event){.kind = DEV_ASKED, .gen = 3});
    ready(d, 3200, 3, 0);
    ready(d, 3300, 3, 1);
    assert_int_equal(deploy_gen(d, 3)->state, GEN_CANARY);
    assert_non_null(deploy_gen(d, 1));
    /* A crash of the active generation: restarted after its backoff. */
    feed(d, 3400,
         (struct deploy_event){.kind = DEV_EXITED,
                               .gen = 2,
                               .slot = 1,
                               .status = 3 << 8,
                               .text = "exited with code 3"});
    assert_int_not_equal(deploy_gen(d, 2)->slots[1].restart_at, 0);
    /* Queued behind the canary, with steps of its own. */
    feed(d, 3500,
         (struct deploy_event){
             .kind = DEV_ROLL, .client = 9, .steps = mine + 1, .nsteps = 1});
    assert_int_equal(d->nqueue, 1);
    feed(d, 3600, (struct deploy_event){.kind = DEV_SCALE, .delta = 1});
}

/* 2 active and 1 kept by keep_previous, a process of the kept one lost. */
static void
kept(struct deploy *d)
{
    struct deploy_conf c;

    plan(&c);
    deploy_init(d);
    feed(d, 1000, (struct deploy_event){.kind = DEV_START, .conf = &c});
    ready(d, 1100, 1, 0);
    ready(d, 1150, 1, 1);
    feed(d, 2000, (struct deploy_event){.kind = DEV_ROLL, .client = 3});
    ready(d, 2100, 2, 0);
    ready(d, 2200, 2, 1);
    assert_int_equal(deploy_gen(d, 1)->state, GEN_KEPT);
    feed(d, 2300,
         (struct deploy_event){
             .kind = DEV_EXITED, .gen = 1, .slot = 0, .status = SIGKILL});
    feed(d, 2600, (struct deploy_event){.kind = DEV_TICK});
    feed(d, 2700, (struct deploy_event){.kind = DEV_STOP, .sig = SIGTERM});
    assert_int_not_equal(d->delay_at, 0); /* stop_delay under way */
}

/* d written, read back into e: the document of e is the document of d. */
static void
round_trip(const struct deploy *d, struct deploy *e)
{
    char err[256] = "";
    json_t *doc = state_write(d), *again;
    char *text = json_dumps(doc, JSON_COMPACT), *back;
    json_error_t je;
    json_t *parsed;

    assert_non_null(doc);
    assert_non_null(text);
    /* Through its text, as it travels. */
    parsed = json_loads(text, 0, &je);
    assert_non_null(parsed);
    if (state_read(e, parsed, err, sizeof(err)) != 0)
        fail_msg("read back: %s", err);
    again = state_write(e);
    back = json_dumps(again, JSON_COMPACT);
    if (!json_equal(doc, again))
        fail_msg("written:\n%s\nread and written again:\n%s", text, back);
    assert_int_equal(deploy_next_deadline(e), deploy_next_deadline(d));
    free(text);
    free(back);
    json_decref(doc);
    json_decref(again);
    json_decref(parsed);
}

/* The same event to both: the same actions. */
static void
same_decision(struct deploy *d, struct deploy *e, uint64_t t,
              struct deploy_event ev)
{
    static struct deploy_out a;

    feed(d, t, ev);
    a = out;
    feed(e, t, ev);
    assert_int_equal(a.n, out.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.a[i].kind, out.a[i].kind);
        assert_int_equal(a.a[i].gen, out.a[i].gen);
        assert_int_equal(a.a[i].slot, out.a[i].slot);
        assert_int_equal(a.a[i].client, out.a[i].client);
        assert_string_equal(a.a[i].text, out.a[i].text);
    }
}

static void
a_canary_three_generations_and_a_backoff_carry_over(void **state)
{
    struct deploy d, e;

    (void)state;
    busy_canary(&d);
    round_trip(&d, &e);
    assert_int_equal(e.active, 2);
    assert_int_equal(e.starting, 3);
    assert_int_equal(deploy_gen(&e, 3)->state, GEN_CANARY);
    assert_int_equal(deploy_gen(&e, 1)->state, GEN_DRAINING);
    assert_int_equal(e.nqueue, 1);
    assert_int_equal(e.queue[0].clients[0], 9);
    assert_int_equal(e.queue[0].steps[0].bps, 5000);
    assert_int_equal(e.route_canary, 3);
    assert_int_equal(e.route_bps, 2500);
    assert_int_equal(e.guard_cur, 3);
    assert_int_equal(deploy_gen(&e, 2)->slots[1].restart_at,
                     deploy_gen(&d, 2)->slots[1].restart_at);
    /* After it, the two decide alike: the restart, the canary's end, the
     * queued roll, the drained generation's kill, the stop. */
    same_decision(&d, &e, 3700, (struct deploy_event){.kind = DEV_TICK});
    same_decision(
        &d, &e, 3800,
        (struct deploy_event){.kind = DEV_READY, .gen = 2, .slot = 1});
    same_decision(&d, &e, 43400, (struct deploy_event){.kind = DEV_TICK});
    same_decision(
        &d, &e, 43500,
        (struct deploy_event){.kind = DEV_READY, .gen = 4, .slot = 0});
    same_decision(&d, &e, 400000, (struct deploy_event){.kind = DEV_TICK});
    same_decision(&d, &e, 400100,
                  (struct deploy_event){.kind = DEV_STOP, .sig = SIGINT});
    same_decision(&d, &e, 500000, (struct deploy_event){.kind = DEV_TICK});
    deploy_free(&d);
    deploy_free(&e);
}

static void
a_kept_generation_and_a_stop_delay_carry_over(void **state)
{
    struct deploy d, e;

    (void)state;
    kept(&d);
    round_trip(&d, &e);
    assert_int_equal(deploy_gen(&e, 1)->state, GEN_KEPT);
    assert_int_equal(deploy_gen(&e, 1)->keep_at, deploy_gen(&d, 1)->keep_at);
    assert_int_equal(e.delay_at, d.delay_at);
    same_decision(&d, &e, 2800,
                  (struct deploy_event){.kind = DEV_ROLLBACK, .client = 5});
    same_decision(&d, &e, 4300, (struct deploy_event){.kind = DEV_TICK});
    same_decision(&d, &e, 20000, (struct deploy_event){.kind = DEV_TICK});
    deploy_free(&d);
    deploy_free(&e);
}

/*
 * Every field of the core is carried: state_write.c writes each one and
 * state_read.c reads it. A field added to these structs changes their size
 * (on this 64-bit build): carry it in both files and in the round trips
 * above, then set the new size here.
 */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct deploy), 14832);
    assert_int_equal(sizeof(struct deploy_gen), 744);
    assert_int_equal(sizeof(struct deploy_slot), 56);
    assert_int_equal(sizeof(struct deploy_conf), 360);
    assert_int_equal(sizeof(struct deploy_roll), 344);
    assert_int_equal(sizeof(struct deploy_rollback), 264);
    assert_int_equal(sizeof(struct deploy_waiter), 8);
    assert_int_equal(sizeof(struct deploy_step), 16);
#else
    skip();
#endif
}

/* A document changed by f is refused with a message containing want. */
static void
refused(void (*f)(json_t *doc), int rc, const char *want)
{
    struct deploy d, e;
    char err[256] = "";
    json_t *doc;

    busy_canary(&d);
    doc = state_write(&d);
    f(doc);
    assert_int_equal(state_read(&e, doc, err, sizeof(err)), rc);
    if (strstr(err, want) == NULL)
        fail_msg("refused with \"%s\", not \"%s\"", err, want);
    assert_int_equal(e.active, 0); /* nothing half read */
    assert_int_equal(deploy_gen_c(&e, 2) == NULL, 1);
    json_decref(doc);
    deploy_free(&d);
    deploy_free(&e);
}

static json_t *
dep(json_t *doc)
{
    return json_object_get(doc, "deploy");
}

static json_t *
gen0(json_t *doc)
{
    return json_array_get(json_object_get(dep(doc), "gens"), 0);
}

static void
newer(json_t *doc)
{
    json_object_set_new(doc, "version", json_integer(STATE_VERSION + 1));
}
static void
other(json_t *doc)
{
    json_object_set_new(doc, "format", json_string("nginx"));
}
static void
state9(json_t *doc)
{
    json_object_set_new(json_array_get(json_object_get(gen0(doc), "slots"), 0),
                        "w", json_integer(9));
}
static void
twice(json_t *doc)
{
    json_array_append(json_object_get(dep(doc), "gens"), gen0(doc));
}
static void
ghost(json_t *doc)
{
    json_object_set_new(dep(doc), "active", json_integer(12));
}
static void
liar(json_t *doc)
{
    json_object_set_new(gen0(doc), "live", json_integer(3));
}
static void
nosuch(json_t *doc)
{
    json_object_del(dep(doc), "rolls_ok");
}
static void
share(json_t *doc)
{
    json_object_set_new(dep(doc), "route_bps", json_integer(10001));
}
static void
huge(json_t *doc)
{
    json_object_set_new(json_object_get(gen0(doc), "conf"), "ready",
                        json_string("a ready spec of more than fifteen bytes"));
}

static void
bad_documents_are_refused_naming_the_field(void **state)
{
    (void)state;
    refused(newer, -EPROTONOSUPPORT,
            "state format 2 written by handoff " PACKAGE_VERSION);
    refused(other, -EINVAL, "not a state of handoff");
    refused(state9, -EINVAL, "deploy.gens[0].slots[0].w: 9 is not one of 0..3");
    refused(twice, -EINVAL, "twice");
    refused(ghost, -EINVAL, "deploy.active: generation 12 is not among gens");
    refused(liar, -EINVAL,
            "deploy.gens[0].live: 3, but 2 slots have a process");
    refused(nosuch, -EINVAL, "deploy.rolls_ok: missing");
    refused(share, -EINVAL, "deploy.route_bps: 10001 is not one of 0..10000");
    refused(huge, -EINVAL, "deploy.gens[0].conf.ready: longer than 15 bytes");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_canary_three_generations_and_a_backoff_carry_over),
        cmocka_unit_test(a_kept_generation_and_a_stop_delay_carry_over),
        cmocka_unit_test(every_field_is_carried),
        cmocka_unit_test(bad_documents_are_refused_naming_the_field),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
