/* test_scale.c: which generations SIGTTIN and SIGTTOU change, and which slot. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scale.h"

/* A generation of n slots and no process: what scale.c looks at. */
static struct gen *
gen_of(size_t n)
{
    struct gen *g = calloc(1, sizeof(*g));

    assert_non_null(g);
    g->nslots = n;
    g->slots = calloc(n ? n : 1, sizeof(*g->slots));
    assert_non_null(g->slots);
    return g;
}

static void
gen_drop(struct gen *g)
{
    free(g->slots);
    free(g);
}

static void
scale_during_a_roll_applies_to_the_starting_generation_too(void **state)
{
    struct gen *active = gen_of(1), *starting = gen_of(1), *out[2];

    (void)state;
    assert_int_equal(scale_targets(active, starting, out), 2);
    assert_ptr_equal(out[0], active);
    assert_ptr_equal(out[1], starting); /* last: its count is what stays */
    gen_drop(active);
    gen_drop(starting);
}

static void
scale_without_a_roll_applies_to_the_active_generation(void **state)
{
    struct gen *active = gen_of(1), *out[2];

    (void)state;
    assert_int_equal(scale_targets(active, NULL, out), 1);
    assert_ptr_equal(out[0], active);
    gen_drop(active);
}

static void
scale_while_generation_1_starts_applies_to_it(void **state)
{
    struct gen *starting = gen_of(1), *out[2];

    (void)state;
    assert_int_equal(scale_targets(NULL, starting, out), 1);
    assert_ptr_equal(out[0], starting);
    assert_int_equal(scale_targets(NULL, NULL, out), 0);
    gen_drop(starting);
}

static void
ttou_never_takes_the_last_process(void **state)
{
    struct gen *g = gen_of(1);

    (void)state;
    assert_int_equal(scale_victim(g), -ENOENT);
    gen_drop(g);
}

static void
ttou_takes_the_newest_slot_that_counts(void **state)
{
    struct gen *g = gen_of(3);

    (void)state;
    assert_int_equal(scale_count(g), 3);
    assert_int_equal(scale_victim(g), 2);
    g->slots[2].retired = 1;
    assert_int_equal(scale_count(g), 2);
    assert_int_equal(scale_victim(g), 1);
    g->slots[1].retired = 1;
    /* Three slots, one that counts: the last process stays. */
    assert_int_equal(scale_count(g), 1);
    assert_int_equal(scale_victim(g), -ENOENT);
    gen_drop(g);
}

static void
ttin_adds_an_empty_slot_at_the_end(void **state)
{
    struct gen *g = gen_of(1);

    (void)state;
    g->slots[0].retired = 1;
    g->slots[0].restarts = 4;
    assert_int_equal(scale_grow(g), 1);
    assert_int_equal(g->nslots, 2);
    assert_int_equal(g->slots[0].retired, 1); /* kept across realloc */
    assert_int_equal(g->slots[0].restarts, 4);
    assert_null(g->slots[1].w);
    assert_int_equal(g->slots[1].retired, 0);
    assert_null(g->slots[1].restart_timer);
    assert_int_equal(scale_count(g), 1);
    gen_drop(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scale_during_a_roll_applies_to_the_starting_generation_too),
        cmocka_unit_test(scale_without_a_roll_applies_to_the_active_generation),
        cmocka_unit_test(scale_while_generation_1_starts_applies_to_it),
        cmocka_unit_test(ttou_never_takes_the_last_process),
        cmocka_unit_test(ttou_takes_the_newest_slot_that_counts),
        cmocka_unit_test(ttin_adds_an_empty_slot_at_the_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
