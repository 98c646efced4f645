/* test_control.c: the control socket's requests and answers, and sd_notify addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "sdnotify.h"

static void
requests_are_parsed_strictly(void **state)
{
    static const struct {
        const char *line;
        enum control_request want;
    } cases[] = {
        {"status", CONTROL_STATUS},
        {"  status \r", CONTROL_STATUS},
        {"status json", CONTROL_STATUS_JSON},
        {"status\tjson", CONTROL_STATUS_JSON},
        {"roll", CONTROL_ROLL},
        {"stop", CONTROL_STOP},
        {"", CONTROL_UNKNOWN},
        {"   ", CONTROL_UNKNOWN},
        {"Status", CONTROL_UNKNOWN},
        {"status xml", CONTROL_UNKNOWN},
        {"status json extra", CONTROL_UNKNOWN},
        {"roll now", CONTROL_UNKNOWN},
        {"stop json", CONTROL_UNKNOWN},
        {"rollback", CONTROL_ROLLBACK},
        {"promote", CONTROL_PROMOTE},
        {"promote now", CONTROL_UNKNOWN},
        {"roll canary=5%/30s,25%/2m", CONTROL_ROLL_CANARY},
        {"rollbacks", CONTROL_UNKNOWN},
        {"metrics", CONTROL_METRICS},
        {" metrics\r", CONTROL_METRICS},
        {"metrics now", CONTROL_UNKNOWN},
        {"averyveryverylongword", CONTROL_UNKNOWN},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (control_parse(cases[i].line) != cases[i].want)
            fail_msg("\"%s\": got %d", cases[i].line,
                     (int)control_parse(cases[i].line));
    }
}

static void
answers_quote_reasons(void **state)
{
    struct control_buf b = {0};

    control_buf_printf(&b, "failed gen=%u reason=", 3u);
    control_buf_quote(&b, "say \"hi\"\\\nnow\x01");
    assert_string_equal(b.s, "failed gen=3 reason=\"say \\\"hi\\\"\\\\\\nnow?\"");
    free(b.s);
}

static void
buffers_grow_past_any_line(void **state)
{
    struct control_buf b = {0};
    char big[3000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 100; i++)
        control_buf_printf(&b, "%s", big);
    assert_false(b.failed);
    assert_int_equal(b.len, 100 * (sizeof(big) - 1));
    assert_int_equal(strlen(b.s), b.len);
    free(b.s);
}

static void
the_path_defaults_only_for_pid1(void **state)
{
    int implicit;

    assert_null(control_path(NULL, 0, &implicit));
    assert_false(implicit);
    assert_string_equal(control_path(NULL, 1, &implicit), CONTROL_DEFAULT_PATH);
    assert_true(implicit);
    assert_null(control_path("none", 1, &implicit));
    assert_false(implicit);
    assert_string_equal(control_path("/tmp/x.sock", 0, &implicit), "/tmp/x.sock");
    assert_false(implicit);
    assert_true(control_is_command("status"));
    assert_true(control_is_command("roll"));
    assert_true(control_is_command("stop"));
    assert_false(control_is_command("start"));
    assert_false(control_is_command("-t"));
}

static void
notify_addresses_paths_and_abstract(void **state)
{
    struct sockaddr_un sun;
    socklen_t len;
    char longpath[200];

    assert_int_equal(sdnotify_address("/run/systemd/notify", &sun, &len), 0);
    assert_string_equal(sun.sun_path, "/run/systemd/notify");
    assert_int_equal(len, sizeof(sun));
    assert_int_equal(sdnotify_address("@abstract/name", &sun, &len), 0);
    assert_int_equal(sun.sun_path[0], '\0');
    assert_memory_equal(sun.sun_path + 1, "abstract/name", 13);
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 14);
    assert_int_equal(sdnotify_address("", &sun, &len), -EINVAL);
    assert_int_equal(sdnotify_address("@", &sun, &len), -EINVAL);
    assert_int_equal(sdnotify_address("relative", &sun, &len), -EINVAL);
    assert_int_equal(sdnotify_address("vsock:2:1234", &sun, &len), -EINVAL);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(sdnotify_address(longpath, &sun, &len), -ENAMETOOLONG);
}

/* upgrade's words: a timeout, then a binary that is the rest of the line. */
static void
upgrade_lines_are_parsed(void **state)
{
    unsigned long long t;
    const char *b;

    (void)state;
    assert_int_equal(control_parse("upgrade"), CONTROL_UPGRADE);
    assert_null(control_upgrade_parse("upgrade", &b, &t));
    assert_null(b);
    assert_int_equal(t, 0);
    assert_null(
        control_upgrade_parse("upgrade timeout=2500 binary=/opt/my h", &b, &t));
    assert_string_equal(b, "/opt/my h");
    assert_int_equal(t, 2500);
    assert_string_equal(control_upgrade_parse("upgrade bogus", &b, &t),
                        "bogus");
    assert_string_equal(
        control_upgrade_parse("upgrade timeout=9999999 x", &b, &t),
        "timeout=9999999 x");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_are_parsed_strictly),
        cmocka_unit_test(upgrade_lines_are_parsed),
        cmocka_unit_test(answers_quote_reasons),
        cmocka_unit_test(buffers_grow_past_any_line),
        cmocka_unit_test(the_path_defaults_only_for_pid1),
        cmocka_unit_test(notify_addresses_paths_and_abstract),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
