/* test_latency.c: when guard_latency calls a generation slower, and when noise does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "latency.h"

static void
fill(struct latency *l, size_t n, uint64_t us)
{
    for (size_t i = 0; i < n; i++)
        latency_add(l, us);
}

static void
p95_is_nearest_rank(void **state)
{
    struct latency l = {0};

    (void)state;
    assert_int_equal(latency_p95(&l), 0);
    for (uint64_t i = 20; i >= 1; i--) /* 1000..20000, added backwards */
        latency_add(&l, i * 1000);
    assert_int_equal(latency_p95(&l), 19000); /* the 19th of 20 */
    l = (struct latency){0};
    fill(&l, 3, 500);
    latency_add(&l, 9000);
    assert_int_equal(latency_p95(&l), 9000); /* of 4: the slowest */
}

static void
window_forgets_the_oldest(void **state)
{
    struct latency l = {0};

    (void)state;
    fill(&l, LATENCY_WINDOW, 50000);
    assert_int_equal(latency_p95(&l), 50000);
    fill(&l, LATENCY_WINDOW - 1, 1000);
    assert_int_equal(l.n, LATENCY_WINDOW);
    assert_int_equal(latency_p95(&l), 1000); /* one 50 ms left: ignored */
    latency_add(&l, 1000);
    for (size_t i = 0; i < LATENCY_WINDOW; i++)
        assert_int_equal(l.us[i], 1000);
}

static void
slower_needs_full_windows(void **state)
{
    struct latency a = {0}, b = {0};

    (void)state;
    fill(&a, LATENCY_WINDOW - 1, 60000);
    fill(&b, LATENCY_WINDOW, 1000);
    assert_false(latency_slower(&a, &b, 1.2)); /* a: 19 samples */
    latency_add(&a, 60000);
    assert_true(latency_slower(&a, &b, 1.2));
    b = (struct latency){0};
    fill(&b, LATENCY_WINDOW - 1, 1000);
    assert_false(latency_slower(&a, &b, 1.2)); /* b: 19 samples */
}

static void
one_outlier_is_noise(void **state)
{
    struct latency a = {0}, b = {0};

    (void)state;
    /* A cold first request of 9 ms among 1.5 ms ones: not a regression. */
    latency_add(&a, 9000);
    fill(&a, LATENCY_WINDOW - 1, 1500);
    fill(&b, LATENCY_WINDOW, 1500);
    assert_false(latency_slower(&a, &b, 1.2));
    /* The next one replaces it, the oldest: still one in the window. */
    latency_add(&a, 9000);
    assert_false(latency_slower(&a, &b, 1.2));
    /* Two in the window are a p95 of 9 ms. */
    latency_add(&a, 9000);
    assert_true(latency_slower(&a, &b, 1.2));
}

static void
floor_and_ratio(void **state)
{
    struct latency a = {0}, b = {0};

    (void)state;
    /* Windows of two equally fast versions on a busy host (the p95 of
     * each, measured): 4.8 ms against 1.5 ms is noise, under the floor. */
    fill(&a, LATENCY_WINDOW, 4800);
    fill(&b, LATENCY_WINDOW, 1500);
    assert_false(latency_slower(&a, &b, 1.2));
    fill(&a, LATENCY_WINDOW, 6600);
    assert_true(latency_slower(&a, &b, 1.2));
    /* Above the floor, at the ratio exactly: not above it. */
    a = b = (struct latency){0};
    fill(&a, LATENCY_WINDOW, 20000);
    fill(&b, LATENCY_WINDOW, 10000);
    assert_false(latency_slower(&a, &b, 2.0));
    assert_true(latency_slower(&a, &b, 1.9));
    /* Faster is never slower. */
    assert_false(latency_slower(&b, &a, 1.01));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(p95_is_nearest_rank),
        cmocka_unit_test(window_forgets_the_oldest),
        cmocka_unit_test(slower_needs_full_windows),
        cmocka_unit_test(one_outlier_is_noise),
        cmocka_unit_test(floor_and_ratio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
