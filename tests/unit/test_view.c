/* test_view.c: status and metrics say what the deployment core's state is, through the view built from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "deploy.h"
#include "metrics.h"
#include "status.h"
#include "view.h"

static struct deploy d;
static struct deploy_out out;
static uint64_t now;

/* One event at t; a program swap the core asks for works. */
static void
feed(uint64_t t, struct deploy_event ev)
{
    now = t;
    out.n = 0;
    assert_int_equal(deploy_event(&d, &ev, now, &out), 0);
    while (d.pending != DP_NONE) {
        out.n = 0;
        assert_int_equal(
            deploy_event(&d, &(struct deploy_event){.kind = DEV_STEERED}, now,
                         &out),
            0);
    }
}

static void
ready(uint64_t t, unsigned gen, size_t slot)
{
    feed(t, (struct deploy_event){.kind = DEV_READY, .gen = gen, .slot = slot});
}

/* What the shell knows: pid = 100 x gen + slot, a STATUS= for one. */
static void
fake_proc(void *arg, unsigned gen, size_t slot, struct view_proc *p)
{
    (void)arg;
    p->pid = (pid_t)(100 * gen + slot);
    p->ready = p->w == DW_READY;
    if (gen == 2 && slot == 0)
        snprintf(p->status, sizeof(p->status), "warming \"caches\"");
}

/* A steered plan of n processes, restarted always. */
static void
plan(struct deploy_conf *c, unsigned n)
{
    memset(c, 0, sizeof(*c));
    c->plan = 1;
    c->processes = n;
    c->restart = DEPLOY_RESTART_ALWAYS;
    c->steered = 1;
    c->drain_signal = SIGTERM;
    c->ready_timeout = 60000;
    c->drain_timeout = 1000;
    c->stop_timeout = 1000;
    snprintf(c->ready, sizeof(c->ready), "listen");
}

/*
 * Generation 1 active with 2 processes, one of which crashed and waits for
 * its restart; generation 2 a canary at 10% of its first of two steps.
 */
static void
canary_with_a_restart(void)
{
    struct deploy_conf c;

    plan(&c, 2);
    c.nsteps = 2;
    c.steps[0] = (struct deploy_step){1000, 60000};
    c.steps[1] = (struct deploy_step){5000, 60000};
    deploy_init(&d);
    feed(1000, (struct deploy_event){.kind = DEV_START, .conf = &c});
    ready(1100, 1, 0);
    ready(1100, 1, 1);
    assert_int_equal(d.active, 1);
    feed(2000, (struct deploy_event){.kind = DEV_ROLL});
    ready(2200, 2, 0);
    ready(2300, 2, 1);
    assert_int_equal(deploy_gen(&d, 2)->state, GEN_CANARY);
    feed(2500, (struct deploy_event){
                   .kind = DEV_EXITED, .gen = 1, .slot = 1, .status = 1 << 8});
    assert_int_not_equal(deploy_gen(&d, 1)->slots[1].restart_at, 0);
}

static void
the_view_is_the_cores_state(void **state)
{
    struct view v;

    (void)state;
    canary_with_a_restart();
    assert_int_equal(view_build(&v, &d, 3000, fake_proc, NULL), 0);
    assert_int_equal(v.ngens, 2);
    assert_int_equal(v.active, 1);
    assert_int_equal(v.rolls_ok, 1); /* the first generation's start */
    assert_true(v.steered);
    /* Newest first, with the core's shares and step. */
    assert_int_equal(v.gens[0].id, 2);
    assert_int_equal(v.gens[0].state, GEN_CANARY);
    assert_true(v.gens[0].routed);
    assert_int_equal(v.gens[0].share_bps, 1000);
    assert_int_equal(v.gens[0].step, 0);
    assert_int_equal(v.gens[0].nsteps, 2);
    assert_int_equal(v.gens[0].uptime_ms, 1000);
    assert_int_equal(v.gens[1].id, 1);
    assert_int_equal(v.gens[1].share_bps, 9000);
    assert_int_equal(v.gens[1].live, 1);
    /* The crashed slot: restarting, no process, the shell not asked. */
    assert_int_equal(v.gens[1].nprocs, 2);
    assert_int_equal(v.gens[1].procs[1].pid, 0);
    assert_string_equal(view_proc_state(&v.gens[1].procs[1]), "restarting");
    assert_int_equal(v.gens[1].procs[0].pid, 100);
    assert_int_equal(v.gens[1].procs[1].restarts, 1); /* counted when due */
    assert_int_equal(v.restarts, 1);
    assert_int_equal(v.gens[0].procs[1].pid, 201);
    assert_int_equal(v.gens[0].procs[1].uptime_ms, 1000);
    /* GET /readyz: serving until a stop begins, stop_delay included. */
    assert_true(view_serving(&v));
    view_free(&v);
    d.delay_at = 4000;
    assert_int_equal(view_build(&v, &d, 3000, fake_proc, NULL), 0);
    assert_true(v.delaying);
    assert_false(view_serving(&v));
    view_free(&v);
    d.delay_at = 0;
    d.stopping = 1;
    assert_int_equal(view_build(&v, &d, 3000, fake_proc, NULL), 0);
    assert_false(view_serving(&v));
    view_free(&v);
    deploy_free(&d);
}

static void
status_says_what_the_view_holds(void **state)
{
    struct view v;
    struct control_buf b = {0};
    json_t *j, *g;
    json_error_t err;

    (void)state;
    canary_with_a_restart();
    assert_int_equal(view_build(&v, &d, 3000, fake_proc, NULL), 0);
    v.pid = 42;
    v.pass = "shim";
    v.ready = "listen";
    v.processes = 2;
    status_text(&v, &b);
    assert_false(b.failed);
    assert_non_null(strstr(b.s, "rolls: 1 promoted, 0 failed; restarts: 1\n"));
    assert_non_null(strstr(b.s, "gen 2: canary, 2 processes, up 1.0s, "
                                "share=10.00% step=1/2\n"));
    assert_non_null(strstr(b.s, "gen 1: active, 1 process, up 2.0s, "
                                "share=90.00%\n"));
    assert_non_null(strstr(b.s, "  slot 1: restarting, restarts 1\n"));
    assert_non_null(strstr(b.s, "  pid 200: ready, up 1.0s, restarts 0, "
                                "status \"warming \\\"caches\\\"\"\n"));
    /* Newest first. */
    assert_true(strstr(b.s, "gen 2:") < strstr(b.s, "gen 1:"));
    free(b.s);

    memset(&b, 0, sizeof(b));
    status_json(&v, &b);
    assert_false(b.failed);
    j = json_loads(b.s, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "active")), 1);
    g = json_array_get(json_object_get(j, "generations"), 0);
    assert_int_equal(json_integer_value(json_object_get(g, "share_bps")), 1000);
    assert_int_equal(json_integer_value(json_object_get(g, "canary_step")), 1);
    g = json_array_get(json_object_get(j, "generations"), 1);
    g = json_array_get(json_object_get(g, "processes"), 1);
    assert_true(json_is_null(json_object_get(g, "pid")));
    assert_string_equal(json_string_value(json_object_get(g, "state")),
                        "restarting");
    json_decref(j);
    free(b.s);

    memset(&b, 0, sizeof(b));
    metrics_render(&v, &b, NULL);
    assert_false(b.failed);
    assert_non_null(strstr(b.s, "\nhandoff_generation_share_ratio"
                                "{generation=\"2\"} 0.1\n"));
    assert_non_null(strstr(b.s, "\nhandoff_generation_processes"
                                "{generation=\"1\",state=\"restarting\"} 1\n"));
    assert_non_null(strstr(b.s, "\nhandoff_generation_processes"
                                "{generation=\"2\",state=\"ready\"} 2\n"));
    free(b.s);
    view_free(&v);
    deploy_free(&d);
}

/* Promoted with keep_previous: the kept generation is in the group with no
 * client, and status says so. */
static void
a_kept_generation_has_no_share(void **state)
{
    struct deploy_conf c;
    struct view v;
    struct control_buf b = {0};

    (void)state;
    plan(&c, 1);
    c.keep_previous = 10000;
    deploy_init(&d);
    feed(1000, (struct deploy_event){.kind = DEV_START, .conf = &c});
    ready(1100, 1, 0);
    feed(2000, (struct deploy_event){.kind = DEV_ROLL});
    ready(2100, 2, 0);
    assert_int_equal(deploy_gen(&d, 1)->state, GEN_KEPT);
    assert_int_equal(view_build(&v, &d, 2200, fake_proc, NULL), 0);
    assert_int_equal(v.gens[0].share_bps, 10000);
    assert_int_equal(v.gens[1].state, GEN_KEPT);
    assert_true(v.gens[1].routed);
    assert_int_equal(v.gens[1].share_bps, 0);
    status_text(&v, &b);
    assert_non_null(strstr(b.s, "gen 1: kept, 1 process, up 1.2s, "
                                "share=0% kept\n"));
    free(b.s);
    view_free(&v);
    deploy_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_view_is_the_cores_state),
        cmocka_unit_test(status_says_what_the_view_holds),
        cmocka_unit_test(a_kept_generation_has_no_share),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
