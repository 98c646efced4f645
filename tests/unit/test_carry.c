/* test_carry.c: the master's whole document: written from its parts, accepted by the check a new binary runs, refused naming the part at fault; every field of struct master carried or rebuilt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carry.h"
#include "config.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "plan.h"
#include "source.h"
#include "steer.h"

static uv_loop_t loop;

static void
on_notify(void *ctx, pid_t pid, const struct notify_msg *msg)
{
    (void)ctx, (void)pid, (void)msg;
}

/* A master's parts as they are at its start: one plan, no generation. */
struct parts {
    char *argv[6];
    struct config_args args;
    struct deploy d;
    struct gens gens;
    struct steer_plan steering;
    struct metrics_data data;
    struct reaper reaper;
    struct worker_ctx workers;
    struct guard *guard;
    struct notify *notify;
    struct sdnotify *sdnotify;
    struct control *control;
    struct metrics *metrics;
    struct livecheck *live; /* none: liveness is off */
    char dir[64], rundir[PATH_MAX], notify_path[PATH_MAX];
    uint64_t started_ns, swap_us;
    unsigned long long last_ms;
    struct carry c;
};

static void
parts_make(struct parts *p)
{
    char *av[] = {"handoff", "-l", "127.0.0.1:0", "--", "/bin/true", NULL};
    char err[256], *text;
    struct config *cfg;
    size_t len;

    memset(p, 0, sizeof(*p));
    memcpy(p->argv, av, sizeof(av));
    if (config_args_parse(5, p->argv, &p->args, err, sizeof(err)) < 0 ||
        source_load(&p->args, &cfg, &text, &len, err, sizeof(err)) < 0 ||
        plan_new(cfg, NULL, 0, &p->gens.plan, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    p->gens.plan->id = p->gens.next_id = 1;
    plan_set_source(p->gens.plan, text, len);
    deploy_init(&p->d);
    steer_plan_init(&p->steering, 23000, 23999);
    snprintf(p->dir, sizeof(p->dir), "/tmp/test_carry.XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->rundir, sizeof(p->rundir), "%s", p->dir);
    snprintf(p->notify_path, sizeof(p->notify_path), "%s/notify", p->dir);
    assert_int_equal(
        notify_open(&loop, p->notify_path, on_notify, NULL, &p->notify), 0);
    p->started_ns = 1000;
    p->last_ms = 120;
    p->swap_us = 40;
    p->c = (struct carry){.loop = &loop,
                          .args = &p->args,
                          .argv = p->argv,
                          .d = &p->d,
                          .gens = &p->gens,
                          .steering = &p->steering,
                          .metrics_data = &p->data,
                          .reaper = &p->reaper,
                          .workers = &p->workers,
                          .guard = &p->guard,
                          .live = &p->live,
                          .notify = &p->notify,
                          .on_notify = on_notify,
                          .sdnotify = &p->sdnotify,
                          .control = &p->control,
                          .metrics = &p->metrics,
                          .rundir = p->rundir,
                          .notify_path = p->notify_path,
                          .started_ns = &p->started_ns,
                          .last_ms = &p->last_ms,
                          .swap_us = &p->swap_us,
                          .asked_ns = 5000};
}

static void
parts_free(struct parts *p)
{
    notify_close(p->notify);
    gens_free(&p->gens);
    deploy_free(&p->d);
    config_args_free(&p->args);
    uv_run(&loop, UV_RUN_NOWAIT);
    rmdir(p->dir);
}

/* What a new binary's --upgrade-check does with the document: accepted. */
static void
the_check_accepts_what_the_master_writes(void **state)
{
    struct parts p;
    char err[512] = "";
    json_t *doc, *m;

    (void)state;
    parts_make(&p);
    doc = carry_write(&p.c);
    assert_non_null(doc);
    if (carry_check(doc, err, sizeof(err)) != 0)
        fail_msg("refused: %s", err);
    m = json_object_get(doc, "master");
    assert_string_equal(json_string_value(json_object_get(m, "rundir")),
                        p.rundir);
    assert_string_equal(json_string_value(json_object_get(m, "asked_ns")),
                        "5000");
    assert_int_equal(json_array_size(json_object_get(doc, "argv")), 5);
    assert_true(json_is_null(json_object_get(doc, "control")));
    assert_true(json_is_array(json_object_get(doc, "remnants")));
    json_decref(doc);
    parts_free(&p);
}

/* A document short of a part, or with one this binary cannot read, is
 * refused naming it: the upgrade is refused, nothing changed. */
static void
the_check_refuses_naming_the_part(void **state)
{
    static const struct {
        const char *key;
        json_t *(*value)(void);
        const char *want;
    } cases[] = {
        {"argv", json_null, "argv: not an array"},
        {"gens", json_null, "gens"},
        {"steering", json_null, "steering"},
        {"metrics_data", json_null, "metrics data: not an object"},
    };
    struct parts p;
    char err[512];

    (void)state;
    parts_make(&p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *doc = carry_write(&p.c);

        json_object_set_new(doc, cases[i].key, cases[i].value());
        err[0] = '\0';
        assert_int_not_equal(carry_check(doc, err, sizeof(err)), 0);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("%s: refused with \"%s\", not \"%s\"", cases[i].key, err,
                     cases[i].want);
        json_decref(doc);
    }
    {
        /* Flags this binary does not know: refused as at a start. */
        json_t *doc = carry_write(&p.c);

        json_array_insert_new(json_object_get(doc, "argv"), 1,
                              json_string("--no-such-flag"));
        assert_int_not_equal(carry_check(doc, err, sizeof(err)), 0);
        assert_non_null(strstr(err, "--no-such-flag"));
        json_decref(doc);
    }
    parts_free(&p);
}

/* What cannot be carried yet makes the master busy, saying what. */
static void
busy_says_what(void **state)
{
    struct parts p;
    char why[256] = "";

    (void)state;
    parts_make(&p);
    assert_int_equal(carry_busy(&p.c, why, sizeof(why)), 0);
    p.d.stopping = 1;
    assert_int_equal(carry_busy(&p.c, why, sizeof(why)), 1);
    assert_string_equal(why, "handoff is stopping");
    p.d.stopping = 0;
    p.d.pending = DP_PROMOTE;
    assert_int_equal(carry_busy(&p.c, why, sizeof(why)), 1);
    assert_string_equal(why, "a swap of steering programs is awaited");
    p.d.pending = DP_NONE;
    parts_free(&p);
}

/*
 * Every field of struct master is carried (carry.h: each part's module
 * writes it) or rebuilt by the image that takes it over: the loop, args
 * and argv (the same argv), the contexts and ops (pointers: rebuilt as at
 * a start), out and running (between events only), the timers (armed
 * again from the core's deadlines), stopping (the core's, copied by
 * sync_mirrors), gens_gone, finished, orphans_* and exit_code
 * (the stop, which an upgrade waits for), shim_path (found again), sync_*
 * (a promote or rollback being answered: none across an exec), carry
 * (lent during an upgrade), lives (a context, as the others); live is
 * carried (livecheck.h). A field added changes the size (on this
 * 64-bit build): carry it or say here why it is rebuilt, then set the new
 * figure.
 */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct master), 29000);
    assert_int_equal(sizeof(struct carry), 216);
#else
    skip();
#endif
}

static int
setup(void **state)
{
    (void)state;
    return uv_loop_init(&loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_check_accepts_what_the_master_writes),
        cmocka_unit_test(the_check_refuses_naming_the_part),
        cmocka_unit_test(busy_says_what),
        cmocka_unit_test(every_field_is_carried),
    };

    log_setup(LOG_ERROR, LOG_LOGFMT);
    return cmocka_run_group_tests(tests, setup, NULL);
}
