/* test_fdlimit.c: the open-file limit raised, children's kept, EMFILE told. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "fdlimit.h"

static void
soft_at_hard_is_left_alone(void **state)
{
    struct rlimit rl;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(fdlimit_raise_nofile(), 0);
    assert_null(fdlimit_child_nofile(4));
}

static void
soft_below_hard_is_raised_and_children_get_it_back(void **state)
{
    struct rlimit rl, now;
    const struct rlimit *child;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max < 512)
        skip();
    rl.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(fdlimit_raise_nofile(), 1);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
    assert_true(now.rlim_cur == rl.rlim_max);
    child = fdlimit_child_nofile(4);
    assert_non_null(child);
    assert_true(child->rlim_cur == 256 && child->rlim_max == rl.rlim_max);
    /* A second call keeps what the master started with. */
    assert_int_equal(fdlimit_raise_nofile(), 0);
    assert_true(fdlimit_child_nofile(4)->rlim_cur == 256);
    /* Given so many that fewer than 64 would be left free under 256: the
     * child keeps the raised limit (it could not load a library). */
    assert_non_null(fdlimit_child_nofile(192));
    assert_null(fdlimit_child_nofile(193));
    assert_null(fdlimit_child_nofile(1100));
}

static void
emfile_names_the_limit_and_the_listeners(void **state)
{
    struct rlimit rl;
    char buf[300], want[80];

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    fdlimit_nofile_explain(buf, sizeof(buf), 600);
    snprintf(want, sizeof(want), "(RLIMIT_NOFILE %llu, hard limit %llu)",
             (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    assert_non_null(strstr(buf, "too many open files "));
    assert_non_null(strstr(buf, want));
    assert_non_null(strstr(buf, "600 listeners need"));
    assert_non_null(strstr(buf, "ulimit -Hn"));
    /* Cut to the buffer, never past it. */
    fdlimit_nofile_explain(buf, 16, 600);
    assert_int_equal(strlen(buf), 15);
}

/* The hard limit lowered since the start (prlimit(1) on the master): a
 * child gets the hard one as it is now, as a worker of another user may
 * not raise it (EPERM), and a soft one above it (EINVAL). Last: the hard
 * limit cannot be raised again. */
static void
hard_lowered_since_is_the_childrens(void **state)
{
    struct rlimit rl;
    const struct rlimit *child;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (fdlimit_child_nofile(4) == NULL || rl.rlim_max < 512)
        skip();
    rl.rlim_cur = rl.rlim_max = 300;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    child = fdlimit_child_nofile(4);
    assert_non_null(child);
    assert_int_equal(child->rlim_max, 300);
    assert_int_equal(child->rlim_cur, 256); /* the start's soft one */
    rl.rlim_cur = rl.rlim_max = 200;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    child = fdlimit_child_nofile(4);
    assert_int_equal(child->rlim_max, 200);
    assert_int_equal(child->rlim_cur, 200);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(soft_at_hard_is_left_alone),
        cmocka_unit_test(soft_below_hard_is_raised_and_children_get_it_back),
        cmocka_unit_test(emfile_names_the_limit_and_the_listeners),
        cmocka_unit_test(hard_lowered_since_is_the_childrens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
