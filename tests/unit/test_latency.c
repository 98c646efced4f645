/* test_latency.c: when guard_latency calls a generation slower, and when noise does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "latency.h"

/* pairs: n ticks of (cur, prev); the verdicts given, -1 when none. */
static int
pairs(struct latency *l, size_t n, uint64_t cur, uint64_t prev, double ratio)
{
    int v = -1;

    for (size_t i = 0; i < n; i++)
        if (latency_add(l, cur, prev, ratio))
            v = l->slower;
    return v;
}

static void
p95_is_nearest_rank(void **state)
{
    uint64_t v[20] = {0};

    (void)state;
    assert_int_equal(latency_p95(v, 0), 0);
    for (size_t i = 0; i < 20; i++) /* 20000..1000: backwards */
        v[i] = (20 - i) * 1000;
    assert_int_equal(latency_p95(v, 20), 19000); /* the 19th of 20 */
    uint64_t w[4] = {500, 500, 500, 9000};
    assert_int_equal(latency_p95(w, 4), 9000); /* of 4: the slowest */
}

static void
verdict_only_when_full(void **state)
{
    struct latency l = {0};

    (void)state;
    assert_int_equal(pairs(&l, LATENCY_WINDOW - 1, 60000, 1000, 1.2), -1);
    assert_int_equal(l.n, LATENCY_WINDOW - 1);
    assert_int_equal(latency_add(&l, 60000, 1000, 1.2), 1);
    assert_true(l.slower);
    assert_int_equal(l.p95_cur, 60000);
    assert_int_equal(l.p95_prev, 1000);
    assert_int_equal(l.cur_slower, LATENCY_WINDOW);
}

/* Each verdict is over 20 pairs of its own: a window of a slow moment does
 * not carry into the next verdicts, as a sliding window did for 19 more. */
static void
windows_share_no_sample(void **state)
{
    struct latency l = {0};
    int verdicts = 0, slow = 0;

    (void)state;
    /* Two slow ticks of the new one (a busy moment) at the end of the first
     * window: its p95 is 40 ms, but it was slower in only 2 of 20 pairs. */
    for (size_t i = 0; i < 3 * LATENCY_WINDOW; i++) {
        uint64_t cur = i == 18 || i == 19 ? 40000 : 3000;
        if (latency_add(&l, cur, 3000 + (i % 2) * 100, 1.2)) {
            verdicts++;
            slow += l.slower;
        }
    }
    assert_int_equal(verdicts, 3);
    assert_int_equal(slow, 0);
    /* A slow window, then an equal one: the second verdict is judged on
     * its own 20 pairs, none of the slow ones (a sliding window would
     * still hold 19 of them and say slower again). */
    l = (struct latency){0};
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 40000, 3000, 1.2), 1);
    assert_int_equal(l.n, 0);
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 3000, 3000, 1.2), 0);
    assert_int_equal(l.p95_cur, 3000);
}

/*
 * Two equally fast versions on a loaded host (canary.sh case 3 under two
 * busy loops: times of both spread 3-30 ms): a window where the new one
 * had the two worst ticks has a p95 above 1.2 times the other's and by
 * more than 5 ms, which alone rolled good versions back; in the pairs it
 * was the slower one only half of the time: noise, not a regression.
 */
static void
noisy_equal_is_not_slower(void **state)
{
    static const uint64_t cur[LATENCY_WINDOW] = {
        4100, 3900, 5200, 4300,  30700, 4000, 3800, 6100, 4400, 4200,
        3700, 4800, 4100, 27900, 3600,  4500, 3900, 4200, 5000, 4300};
    static const uint64_t prev[LATENCY_WINDOW] = {
        4300, 4000, 4900, 4600,  12100, 3800, 4100, 5800, 4500, 3900,
        3900, 4600, 4400, 20000, 3500,  4800, 4000, 4100, 5200, 4100};
    struct latency l = {0};
    int v = -1;

    (void)state;
    for (size_t i = 0; i < LATENCY_WINDOW; i++)
        if (latency_add(&l, cur[i], prev[i], 1.2))
            v = l.slower;
    assert_int_equal(v, 0);
    /* The p95 rule alone would have called it slower. */
    assert_int_equal(l.p95_cur, 27900);
    assert_int_equal(l.p95_prev, 12100);
    assert_true((double)l.p95_cur > 1.2 * l.p95_prev &&
                l.p95_cur > l.p95_prev + LATENCY_FLOOR_US);
    assert_true(2 * l.cur_slower <= LATENCY_WINDOW);
}

/* A version 60 ms slower, with the same noise on both: slower in every
 * window. */
static void
consistently_slower_is_slower(void **state)
{
    struct latency l = {0};
    int verdicts = 0, slow = 0;

    (void)state;
    for (size_t i = 0; i < 3 * LATENCY_WINDOW; i++) {
        uint64_t noise = (i * 7919) % 25000; /* 0-25 ms, both sides */
        if (latency_add(&l, 60000 + noise + 2000, noise + 2000, 1.2)) {
            verdicts++;
            slow += l.slower;
        }
    }
    assert_int_equal(verdicts, 3);
    assert_int_equal(slow, 3);
}

static void
floor_and_ratio(void **state)
{
    struct latency l = {0};

    (void)state;
    /* 4.8 ms against 1.5 ms in every pair is noise: under the floor. */
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 4800, 1500, 1.2), 0);
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 6600, 1500, 1.2), 1);
    /* Above the floor, at the ratio exactly: not above it. */
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 20000, 10000, 2.0), 0);
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 20000, 10000, 1.9), 1);
    /* Faster is never slower. */
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 10000, 20000, 1.01), 0);
}

/* Slower in most pairs but not at the p95 (a version 1 ms slower than a
 * fast one): the contract is the p95, so not slower. */
static void
most_pairs_alone_is_not_slower(void **state)
{
    struct latency l = {0};

    (void)state;
    assert_int_equal(pairs(&l, LATENCY_WINDOW, 3000, 2000, 1.2), 0);
    assert_int_equal(l.cur_slower, LATENCY_WINDOW);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(p95_is_nearest_rank),
        cmocka_unit_test(verdict_only_when_full),
        cmocka_unit_test(windows_share_no_sample),
        cmocka_unit_test(noisy_equal_is_not_slower),
        cmocka_unit_test(consistently_slower_is_slower),
        cmocka_unit_test(floor_and_ratio),
        cmocka_unit_test(most_pairs_alone_is_not_slower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
