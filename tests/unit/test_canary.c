/* test_canary.c: canary steps, client networks and ratios as an operator types them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sys/socket.h>

#include "canary.h"

static void
steps_read(void **state)
{
    struct canary_step st[CANARY_MAX_STEPS];
    char err[256];
    size_t n;

    (void)state;
    assert_int_equal(canary_parse_steps("5%/30s 25%/2m", st, CANARY_MAX_STEPS,
                                        &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(st[0].bps, 500);
    assert_int_equal(st[0].ms, 30000);
    assert_int_equal(st[1].bps, 2500);
    assert_int_equal(st[1].ms, 120000);
    assert_int_equal(canary_parse_steps("  0.5%/1s\t2.25%/500ms ", st,
                                        CANARY_MAX_STEPS, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(st[0].bps, 50);
    assert_int_equal(st[1].bps, 225);
    assert_int_equal(st[1].ms, 500);
}

static void
steps_refused(void **state)
{
    static const struct {
        const char *in, *says;
    } bad[] = {
        {"101%/1s", "below 100%"},
        {"100%/1s", "below 100%"},
        {"0%/1s", "above 0%"},
        {"25%/1s 5%/1s", "steps must increase"},
        {"5%/1s 5%/1s", "steps must increase"},
        {"5%/0s", "more than 0"},
        {"5%/soon", "bad duration"},
        {"5/30s", "expected WEIGHT%/DURATION"},
        {"5%30s", "expected WEIGHT%/DURATION"},
        /* Not a weight at all: the syntax is what is wrong, not the range. */
        {"x%/1s", "bad weight \"x\" (expected a percentage"},
        {"1.234%/1s", "at most two decimals"},
        {"%/1m", "bad weight \"\" (expected a percentage"},
        {".5%/1m", "bad weight \".5\" (expected a percentage"},
        {"1e1%/1m", "bad weight \"1e1\" (expected a percentage"},
        {"50.%/1m", "bad weight \"50.\" (expected a percentage"},
        {"99999%/1m", "below 100%"},
        {"", "no canary step"},
    };
    struct canary_step st[CANARY_MAX_STEPS];
    char err[256];
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(canary_parse_steps(bad[i].in, st, CANARY_MAX_STEPS, &n,
                                            err, sizeof(err)), -EINVAL);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("\"%s\": said \"%s\", not \"%s\"", bad[i].in, err, bad[i].says);
    }
}

static void
cidrs_read_and_match(void **state)
{
    struct canary_cidr c[CANARY_MAX_CIDRS];
    char err[256];
    size_t n;
    uint32_t in4[4] = {0x7f0a0203u}, out4[4] = {0x7f0b0203u};
    uint32_t in6[4] = {0x20010db8u, 1, 2, 3}, out6[4] = {0x20010db9u, 0, 0, 0};

    (void)state;
    assert_int_equal(canary_parse_cidrs("127.10.0.0/16 10.1.2.3 2001:db8::/32", c,
                                        CANARY_MAX_CIDRS, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].family, AF_INET);
    assert_int_equal(c[0].prefix, 16);
    assert_int_equal(c[0].addr[0], 0x7f0a0000u);
    assert_int_equal(c[1].prefix, 32);
    assert_int_equal(c[2].family, AF_INET6);
    assert_true(canary_cidr_match(&c[0], AF_INET, in4));
    assert_false(canary_cidr_match(&c[0], AF_INET, out4));
    assert_false(canary_cidr_match(&c[0], AF_INET6, in6));
    assert_true(canary_cidr_match(&c[2], AF_INET6, in6));
    assert_false(canary_cidr_match(&c[2], AF_INET6, out6));
    /* the host bits of a network are dropped */
    assert_int_equal(canary_parse_cidrs("10.1.2.3/8", c, CANARY_MAX_CIDRS, &n, err,
                                        sizeof(err)), 0);
    assert_int_equal(c[0].addr[0], 0x0a000000u);
    assert_int_equal(canary_cidr_mask(0, 0), 0);
    assert_int_equal(canary_cidr_mask(40, 1), 0xff000000u);
}

static void
cidrs_refused(void **state)
{
    static const struct {
        const char *in, *says;
    } bad[] = {
        {"10.0.0.0/33", "bad prefix length (0 to 32)"},
        {"2001:db8::/129", "bad prefix length (0 to 128)"},
        {"10.0.0/8", "not an IPv4 or IPv6"},
        {"example.com", "not an IPv4 or IPv6"},
        {"10.0.0.0/x", "bad prefix length"},
        {"", "no network"},
    };
    struct canary_cidr c[CANARY_MAX_CIDRS];
    char err[256];
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(canary_parse_cidrs(bad[i].in, c, CANARY_MAX_CIDRS, &n, err,
                                            sizeof(err)), -EINVAL);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("\"%s\": said \"%s\", not \"%s\"", bad[i].in, err, bad[i].says);
    }
}

static void
ratios(void **state)
{
    double r;
    char err[256];

    (void)state;
    assert_int_equal(canary_parse_ratio("1.5", &r, err, sizeof(err)), 0);
    assert_true(r > 1.49 && r < 1.51);
    assert_int_equal(canary_parse_ratio("1", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(canary_parse_ratio("0.9", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(canary_parse_ratio("-2", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(canary_parse_ratio("2x", &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "above 1"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steps_read),
        cmocka_unit_test(steps_refused),
        cmocka_unit_test(cidrs_read_and_match),
        cmocka_unit_test(cidrs_refused),
        cmocka_unit_test(ratios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
