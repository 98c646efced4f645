/* test_dnsq.c: the dns: probe's text, the query it sends and the replies it
 * takes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "dnsq.h"

static void
query_header_and_root(void **state)
{
    uint8_t q[DNSQ_QUERY_MAX];
    /* id 0xbeef, RD, one question; the root; A, IN. */
    const uint8_t want[] = {0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0,
                            0,    0,    0,    0x00, 0, 1, 0, 1};

    (void)state;
    assert_int_equal(dnsq_build(".", 0xbeef, q, sizeof(q)), sizeof(want));
    assert_memory_equal(q, want, sizeof(want));
    /* The empty name is the root too. */
    assert_int_equal(dnsq_build("", 0xbeef, q, sizeof(q)), sizeof(want));
    assert_memory_equal(q, want, sizeof(want));
}

static void
ids_in_network_order(void **state)
{
    uint8_t q[DNSQ_QUERY_MAX];

    (void)state;
    for (unsigned id = 0; id <= 0xffff; id += 0x1111) {
        assert_int_equal(dnsq_build(".", (uint16_t)id, q, sizeof(q)), 17);
        assert_int_equal(q[0], id >> 8);
        assert_int_equal(q[1], id & 0xff);
    }
}

static void
name_as_labels(void **state)
{
    uint8_t q[DNSQ_QUERY_MAX];
    const uint8_t want[] = {7,   'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
                            'c', 'o', 'm', 0,   0,   1,   0,   1};

    (void)state;
    assert_int_equal(dnsq_build("example.com", 1, q, sizeof(q)),
                     12 + sizeof(want));
    assert_memory_equal(q + 12, want, sizeof(want));
    /* A final dot changes nothing. */
    assert_int_equal(dnsq_build("example.com.", 1, q, sizeof(q)),
                     12 + sizeof(want));
    assert_memory_equal(q + 12, want, sizeof(want));
}

static void
longest_name_fits(void **state)
{
    char name[DNSQ_NAME_MAX + 2];
    uint8_t q[DNSQ_QUERY_MAX];

    (void)state;
    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters: 255 on the wire. */
    memset(name, 'a', DNSQ_NAME_MAX);
    name[63] = name[127] = name[191] = '.';
    name[DNSQ_NAME_MAX] = '\0';
    assert_int_equal(dnsq_build(name, 7, q, sizeof(q)), 12 + 255 + 4);
    assert_int_equal(q[12], 63);
    assert_int_equal(q[12 + 64 * 3], 61);
    assert_int_equal(q[12 + 254], 0);
    assert_int_equal(dnsq_build(name, 7, q, 12 + 255 + 3), -ENOSPC);
}

static void
bad_names_refused(void **state)
{
    char name[300];
    uint8_t q[DNSQ_QUERY_MAX];
    const char *bad[] = {"a..b", ".a", "a b", "a/b", "..", "ex\x01mple"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(dnsq_build(bad[i], 1, q, sizeof(q)), -EINVAL);
    memset(name, 'a', 64);
    name[64] = '\0'; /* a label of 64 */
    assert_int_equal(dnsq_build(name, 1, q, sizeof(q)), -EINVAL);
    memset(name, 'a', 254);
    for (int i = 60; i < 254; i += 61)
        name[i] = '.';
    name[254] = '\0'; /* 254 characters */
    assert_int_equal(dnsq_build(name, 1, q, sizeof(q)), -EINVAL);
}

/* A reply as a server sends it: the query with QR set and rcode. */
static size_t
reply(uint8_t *r, uint16_t id, int rcode)
{
    int n = dnsq_build("example.com", id, r, DNSQ_QUERY_MAX);

    r[2] |= 0x80;
    r[3] = (uint8_t)(0x80 | rcode); /* RA */
    return (size_t)n;
}

static void
replies_matched(void **state)
{
    uint8_t r[DNSQ_QUERY_MAX];
    size_t n = reply(r, 0x1234, 0);

    (void)state;
    assert_true(dnsq_match(r, n, 0x1234));
    assert_int_equal(dnsq_rcode(r, n), 0);
    /* SERVFAIL and REFUSED pass: the server answered. */
    n = reply(r, 0x1234, 2);
    assert_true(dnsq_match(r, n, 0x1234));
    assert_int_equal(dnsq_rcode(r, n), 2);
    n = reply(r, 0x1234, 5);
    assert_true(dnsq_match(r, n, 0x1234));
    /* Truncated (TC: the answer did not fit a datagram) still answers. */
    n = reply(r, 0x1234, 0);
    r[2] |= 0x02;
    assert_true(dnsq_match(r, n, 0x1234));
    /* A reply cut after its header (no question) carries the id. */
    assert_true(dnsq_match(r, 12, 0x1234));
}

static void
other_replies_refused(void **state)
{
    uint8_t r[DNSQ_QUERY_MAX];
    size_t n = reply(r, 0x1234, 0);

    (void)state;
    /* Another id: one more, one less, bytes swapped. */
    assert_false(dnsq_match(r, n, 0x1235));
    assert_false(dnsq_match(r, n, 0x1233));
    assert_false(dnsq_match(r, n, 0x3412));
    /* Too short for a header. */
    for (size_t len = 0; len < 12; len++)
        assert_false(dnsq_match(r, len, 0x1234));
    /* The query itself reflected back: QR clear. */
    n = (size_t)dnsq_build("example.com", 0x1234, r, sizeof(r));
    assert_false(dnsq_match(r, n, 0x1234));
}

static void
spec_parsed(void **state)
{
    char name[DNSQ_NAME_MAX + 2], err[256];
    struct addr a;

    (void)state;
    assert_int_equal(
        dnsq_parse("127.0.0.1:5353", &a, name, sizeof(name), err, sizeof(err)),
        0);
    assert_int_equal(addr_family(&a), AF_INET);
    assert_int_equal(addr_port(&a), 5353);
    assert_string_equal(name, ".");
    assert_int_equal(dnsq_parse("[::1]:53/example.com", &a, name, sizeof(name),
                                err, sizeof(err)),
                     0);
    assert_int_equal(addr_family(&a), AF_INET6);
    assert_int_equal(addr_port(&a), 53);
    assert_string_equal(name, "example.com");
    assert_int_equal(
        dnsq_parse("127.0.0.1:53/.", &a, name, sizeof(name), NULL, 0), 0);
    assert_string_equal(name, ".");
}

static void
bad_specs_refused(void **state)
{
    char name[DNSQ_NAME_MAX + 2], err[512], big[400];
    struct addr a;
    const struct {
        const char *spec, *says;
    } bad[] = {
        {"", "expected dns:HOST:PORT[/NAME]"},
        {"host", "expected dns:HOST:PORT[/NAME]"},
        {"1.2.3.4:99999", "port 1-65535"},
        {"1.2.3.4:0", "port 0"},
        {"1.2.3.4", "expected dns:HOST:PORT[/NAME]"},
        {"0.0.0.0:53", "wildcard"},
        {":53", "wildcard"},
        {"[::]:53", "wildcard"},
        {"unix:/run/x", "expected dns:HOST:PORT[/NAME]"},
        {"udp:127.0.0.1:53", "expected dns:HOST:PORT[/NAME]"},
        {"127.0.0.1:53/", "empty name"},
        {"127.0.0.1:53/a..b", "empty label"},
        {"127.0.0.1:53/a b", "character"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(
            dnsq_parse(bad[i].spec, &a, name, sizeof(name), err, sizeof(err)),
            -EINVAL);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("%s: %s", bad[i].spec, err);
    }
    memcpy(big, "127.0.0.1:53/", 13);
    memset(big + 13, 'a', 254);
    for (int i = 13 + 60; i < 13 + 254; i += 61)
        big[i] = '.';
    big[13 + 254] = '\0';
    assert_int_equal(dnsq_parse(big, &a, name, sizeof(name), err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "longer than 253"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_header_and_root),
        cmocka_unit_test(ids_in_network_order),
        cmocka_unit_test(name_as_labels),
        cmocka_unit_test(longest_name_fits),
        cmocka_unit_test(bad_names_refused),
        cmocka_unit_test(replies_matched),
        cmocka_unit_test(other_replies_refused),
        cmocka_unit_test(spec_parsed),
        cmocka_unit_test(bad_specs_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
