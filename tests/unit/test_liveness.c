/* test_liveness.c: the liveness keys, the verdicts on the active generation, the action chosen, the replacement's backoff and what an upgrade carries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "livecheck.h"
#include "liveness.h"

static void
sizes_read(void **state)
{
    static const struct {
        const char *in;
        uint64_t bytes;
    } good[] = {
        {"0", 0},
        {"4096", 4096},
        {"512K", 512 << 10},
        {"100M", 100 << 20},
        {"2G", 2ULL << 30},
        {"1m", 1 << 20},
    };
    static const char *const bad[] = {
        "", "M", "-1", "10MB", "1.5G", "10 M", "99999999999999999999G"};
    char msg[200];
    uint64_t b;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(liveness_parse_size(good[i].in, &b, msg, sizeof(msg)),
                         0);
        assert_int_equal(b, good[i].bytes);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(liveness_parse_size(bad[i], &b, msg, sizeof(msg)),
                         -EINVAL);
        assert_non_null(strstr(msg, "expected a size"));
    }
}

static void
keys_and_checks(void **state)
{
    struct liveness_conf c;
    char msg[300];

    (void)state;
    liveness_conf_init(&c);
    assert_int_equal(c.interval, 10000);
    assert_int_equal(c.failures, 3);
    assert_int_equal(c.timeout, 2000);
    assert_false(liveness_conf_active(&c));
    assert_null(liveness_conf_check(&c, 1, msg, sizeof(msg)));
    assert_int_equal(liveness_conf_set(&c, "liveness", "http://127.0.0.1:1/",
                                       msg, sizeof(msg)),
                     1);
    assert_string_equal(c.probe, "http:http://127.0.0.1:1/");
    assert_true(liveness_conf_active(&c));
    assert_int_equal(
        liveness_conf_set(&c, "liveness", "ping:x", msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "unknown liveness"));
    assert_string_equal(c.probe, "http:http://127.0.0.1:1/"); /* unchanged */
    assert_int_equal(liveness_conf_set(&c, "max_rss", "100M", msg, sizeof(msg)),
                     1);
    assert_int_equal(c.max_rss, 100 << 20);
    assert_int_equal(
        liveness_conf_set(&c, "guard", "tcp:1.2.3.4:5", msg, sizeof(msg)), 0);
    /* restart kills for restart = to start again: never would not. */
    c.action = LIVENESS_RESTART;
    assert_string_equal(liveness_conf_check(&c, 1, msg, sizeof(msg)),
                        "liveness_action");
    assert_null(liveness_conf_check(&c, 0, msg, sizeof(msg)));
    c.interval = 5;
    assert_string_equal(liveness_conf_check(&c, 0, msg, sizeof(msg)),
                        "liveness_interval");
    c.interval = 100;
    c.watchdog = 3;
    assert_string_equal(liveness_conf_check(&c, 0, msg, sizeof(msg)),
                        "watchdog");
    liveness_conf_free(&c);
}

/* failures in a row fail the generation; a pass starts the count over; a
 * generation still failing is failed again every failures more. */
static void
failures_in_a_row(void **state)
{
    struct liveness l;

    (void)state;
    liveness_init(&l);
    liveness_judge(&l, 1);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 0);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 0);
    assert_int_equal(liveness_probe(&l, 1, 1, 3), 0);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 0);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 0);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 1);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 0);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 0);
    assert_int_equal(liveness_probe(&l, 1, 0, 3), 1);
    /* A verdict on a generation no longer judged counts for nothing. */
    assert_int_equal(liveness_probe(&l, 2, 0, 1), 0);
    /* A new active generation starts with no failure. */
    liveness_judge(&l, 2);
    assert_int_equal(liveness_probe(&l, 2, 0, 2), 0);
    assert_int_equal(liveness_probe(&l, 2, 0, 2), 1);
    assert_int_equal(liveness_probe(&l, 1, 0, 1), 0);
}

/* The action: now, not while a roll or a canary (the operator's) or our
 * own replacement is under way, not for a generation no longer judged. */
static void
action_chosen(void **state)
{
    struct liveness l;

    (void)state;
    liveness_init(&l);
    liveness_judge(&l, 4);
    assert_int_equal(liveness_failed(&l, 3, LIVENESS_PROBE, 0, 10),
                     LIVENESS_STALE);
    assert_int_equal(liveness_failed(&l, 4, LIVENESS_MAX_RSS, 1, 10),
                     LIVENESS_BUSY);
    assert_int_equal(liveness_failed(&l, 4, LIVENESS_WATCHDOG, 0, 10),
                     LIVENESS_REPLACE);
    liveness_replacing(&l, 5, 10);
    assert_int_equal(l.replacing, 5);
    assert_int_equal(l.replaced, 4);
    assert_int_equal(l.replacements[LIVENESS_WATCHDOG], 1);
    /* Never two replacements at once. */
    assert_int_equal(liveness_failed(&l, 4, LIVENESS_PROBE, 0, 20),
                     LIVENESS_BUSY);
    assert_int_equal(l.failures[LIVENESS_PROBE], 1);
    assert_int_equal(l.failures[LIVENESS_MAX_RSS], 1);
    assert_int_equal(l.failures[LIVENESS_WATCHDOG], 1);
    /* Promoted: the new one is judged, the next replacement has no wait. */
    assert_int_equal(liveness_roll_ended(&l, 5, 1, 30), 0);
    liveness_judge(&l, 5);
    assert_int_equal(liveness_failed(&l, 5, LIVENESS_MAX_RSS, 0, 31),
                     LIVENESS_REPLACE);
}

/* A replacement that does not become ready: the old one serves on, and the
 * next waits 1 s, 2 s, 4 s... at most 5 min; a promotion resets it. */
static void
backoff(void **state)
{
    struct liveness l;
    uint64_t now = 1000, want = LIVENESS_BACKOFF_FIRST_MS;
    unsigned next = 2;

    (void)state;
    liveness_init(&l);
    liveness_judge(&l, 1);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(liveness_failed(&l, 1, LIVENESS_PROBE, 0, now),
                         LIVENESS_REPLACE);
        liveness_replacing(&l, next, now);
        /* The end of another roll is not the replacement's. */
        assert_int_equal(liveness_roll_ended(&l, next + 100, 0, now), 0);
        assert_int_equal(l.replacing, next);
        now += 2000;
        assert_int_equal(liveness_roll_ended(&l, next, 0, now), want);
        assert_int_equal(l.replacing, 0);
        assert_int_equal(
            liveness_failed(&l, 1, LIVENESS_PROBE, 0, now + want - 1),
            LIVENESS_BACKOFF);
        now += want;
        want = want * 2 > LIVENESS_BACKOFF_MAX_MS ? LIVENESS_BACKOFF_MAX_MS
                                                  : want * 2;
        next++;
    }
    assert_int_equal(want, LIVENESS_BACKOFF_MAX_MS);
    assert_int_equal(l.replacements[LIVENESS_PROBE], 12);
    /* A promoted replacement starts the backoff over. */
    assert_int_equal(liveness_failed(&l, 1, LIVENESS_PROBE, 0, now),
                     LIVENESS_REPLACE);
    liveness_replacing(&l, next, now);
    assert_int_equal(liveness_roll_ended(&l, next, 1, now + 10), 0);
    liveness_judge(&l, next);
    assert_int_equal(liveness_failed(&l, next, LIVENESS_PROBE, 0, now + 11),
                     LIVENESS_REPLACE);
    liveness_replacing(&l, next + 1, now + 11);
    assert_int_equal(liveness_roll_ended(&l, next + 1, 0, now + 20),
                     LIVENESS_BACKOFF_FIRST_MS);
}

/* restart: done once the process is killed; the next one waits the
 * backoff unless a probe passes in between (the restarted one serves). */
static void
restart_backoff(void **state)
{
    struct liveness l;

    (void)state;
    liveness_init(&l);
    liveness_judge(&l, 1);
    assert_int_equal(liveness_failed(&l, 1, LIVENESS_WATCHDOG, 0, 100),
                     LIVENESS_REPLACE);
    liveness_replacing(&l, 0, 100);
    assert_int_equal(l.replacing, 0);
    assert_int_equal(liveness_failed(&l, 1, LIVENESS_WATCHDOG, 0, 600),
                     LIVENESS_BACKOFF);
    assert_int_equal(liveness_failed(&l, 1, LIVENESS_WATCHDOG, 0, 1100),
                     LIVENESS_REPLACE);
    liveness_replacing(&l, 0, 1100);
    assert_int_equal(liveness_failed(&l, 1, LIVENESS_WATCHDOG, 0, 2100),
                     LIVENESS_BACKOFF); /* 2 s now */
    assert_int_equal(liveness_probe(&l, 1, 1, 3), 0);
    assert_int_equal(liveness_failed(&l, 1, LIVENESS_WATCHDOG, 0, 2101),
                     LIVENESS_REPLACE);
}

/* Random sequences: never a replacement while one is under way, never
 * one before its backoff ran out, the backoff within its bounds. */
static void
random_sequences(void **state)
{
    (void)state;
    srand(7);
    for (int run = 0; run < 2000; run++) {
        struct liveness l;
        uint64_t now = 0;
        unsigned active = 1, next = 2;

        liveness_init(&l);
        liveness_judge(&l, active);
        for (int step = 0; step < 200; step++) {
            now += (uint64_t)(rand() % 3000);
            switch (rand() % 4) {
            case 0:
                if (liveness_probe(&l, active, rand() % 3 == 0, 3) == 0)
                    break;
                /* a verdict */
                __attribute__((fallthrough));
            case 1: {
                unsigned replacing = l.replacing;
                uint64_t retry = l.retry_at;
                int busy = rand() % 5 == 0;
                enum liveness_do d = liveness_failed(
                    &l, active, (enum liveness_reason)(rand() % 3), busy, now);

                if (d == LIVENESS_REPLACE) {
                    assert_int_equal(replacing, 0);
                    assert_false(busy);
                    assert_true(retry == 0 || now >= retry);
                    liveness_replacing(&l, rand() % 4 ? next++ : 0, now);
                }
                break;
            }
            default:
                if (l.replacing != 0) {
                    int ok = rand() % 2;
                    unsigned g = l.replacing;
                    liveness_roll_ended(&l, g, ok, now);
                    assert_int_equal(l.replacing, 0);
                    if (ok) {
                        active = g;
                        liveness_judge(&l, active);
                    }
                }
            }
            assert_true(l.backoff_ms >= LIVENESS_BACKOFF_FIRST_MS &&
                        l.backoff_ms <= LIVENESS_BACKOFF_MAX_MS);
        }
    }
}

static size_t
no_pids(void *arg, unsigned gen, pid_t *out, size_t cap)
{
    (void)arg, (void)gen, (void)out, (void)cap;
    return 0;
}

/* What an upgrade carries comes back as it was written: the counts, the
 * replacement under way and its backoff, the watchdog's pings; a damaged
 * document is refused with the field named, and changes nothing. */
static void
state_round_trip(void **state)
{
    static const struct liveness_conf c = {
        .watchdog = 1000, .interval = 500, .failures = 3, .timeout = 200};
    struct livecheck_ctx ctx = {.pids = no_pids};
    struct livecheck *a, *b;
    uv_loop_t loop;
    json_t *doc, *back;
    char err[200];

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    ctx.loop = &loop;
    a = livecheck_new(&ctx);
    b = livecheck_new(&ctx);
    assert_non_null(a);
    assert_non_null(b);
    livecheck_judge(a, 4, &c);
    livecheck_watchdog(a, 4, 4242, 0);
    livecheck_watchdog(a, 4, 4243, 0);
    livecheck_watchdog(a, 3, 9999, 0); /* not the judged one: not kept */
    doc = livecheck_state_write(a);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "gen")), 4);
    assert_int_equal(json_array_size(json_object_get(doc, "pings")), 2);
    /* Damaged: refused, b unchanged. */
    back = json_deep_copy(doc);
    json_object_set_new(back, "backoff_ms", json_integer(5));
    assert_int_equal(livecheck_state_read(b, back, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "backoff_ms"));
    assert_int_equal(livecheck_state(b)->gen, 0);
    json_object_set_new(back, "backoff_ms", json_integer(2000));
    json_object_set_new(back, "pings", json_pack("[[i,i]]", -1, 5));
    assert_int_equal(livecheck_state_read(b, back, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "pings"));
    json_decref(back);
    /* An image from before liveness carried none: nothing to read. */
    assert_int_equal(livecheck_state_read(b, NULL, err, sizeof(err)), 0);
    assert_int_equal(livecheck_state_read(b, doc, err, sizeof(err)), 0);
    assert_int_equal(livecheck_state(b)->gen, 4);
    /* The same generation judged by the image that took over: kept. */
    livecheck_judge(b, 4, &c);
    back = livecheck_state_write(b);
    assert_true(json_equal(doc, back));
    json_decref(back);
    json_decref(doc);
    livecheck_free(a);
    livecheck_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_read),        cmocka_unit_test(keys_and_checks),
        cmocka_unit_test(failures_in_a_row), cmocka_unit_test(action_chosen),
        cmocka_unit_test(backoff),           cmocka_unit_test(restart_backoff),
        cmocka_unit_test(random_sequences),  cmocka_unit_test(state_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
