/* test_parse.c: value parsers, addresses, readiness helpers, log, notify. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "addr.h"
#include "log.h"
#include "notify.h"
#include "parse.h"
#include "readiness.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- parse_duration ------------------------------------------------------ */

static void
duration_accepts_every_suffix(void **state)
{
    static const struct {
        const char *in;
        uint64_t ms;
    } cases[] = {
        {"250ms", 250},   {"30s", 30000},   {"2m", 120000}, {"1h", 3600000},
        {"0", 0},         {"0ms", 0},       {"5", 5000},    {"007s", 7000},
        {"1000ms", 1000}, {"90m", 5400000},
    };
    char err[256];

    for (size_t i = 0; i < N(cases); i++) {
        uint64_t ms = 12345;
        int rc = parse_duration(cases[i].in, &ms, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s: %s", cases[i].in, err);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void
duration_rejects_unknown_suffix(void **state)
{
    static const char *const bad[] = {
        "10x", "5sec", "1d", "10 s", "10S", "1.5s", "ms", "s", "",
        " 5s", "5s ", "-1s", "+1s", "1e3", "0x10", "5ms5",
    };
    char err[256];

    for (size_t i = 0; i < N(bad); i++) {
        uint64_t ms = 777;
        err[0] = '\0';
        if (parse_duration(bad[i], &ms, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(ms, 777);
        assert_non_null(strstr(err, bad[i]));
    }
}

static void
duration_rejects_overflow(void **state)
{
    char err[256];
    uint64_t ms = 0;

    assert_int_equal(parse_duration("99999999999999999999s", &ms, err,
                                    sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too long"));
    /* The digits fit, the multiplication by the unit does not. */
    assert_int_equal(parse_duration("5124095576039h", &ms, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(parse_duration("5124095576030h", &ms, err, sizeof(err)),
                     0);
    assert_int_equal(ms, UINT64_C(5124095576030) * 3600000);
}

static void
duration_tolerates_null_err(void **state)
{
    uint64_t ms;

    assert_int_equal(parse_duration("bad", &ms, NULL, 0), -EINVAL);
}

/* --- parse_signal -------------------------------------------------------- */

static void
signal_accepts_names_and_numbers(void **state)
{
    static const struct {
        const char *in;
        int sig;
    } cases[] = {
        {"SIGTERM", SIGTERM}, {"TERM", SIGTERM}, {"term", SIGTERM},
        {"sigterm", SIGTERM}, {"15", SIGTERM},   {"SIGQUIT", SIGQUIT},
        {"QUIT", SIGQUIT},    {"3", SIGQUIT},    {"SIGUSR1", SIGUSR1},
        {"usr2", SIGUSR2},    {"SIGWINCH", SIGWINCH}, {"1", 1},
        {"31", 31},           {"SIGKILL", SIGKILL},   {"SigHup", SIGHUP},
    };
    char err[256];

    for (size_t i = 0; i < N(cases); i++) {
        int sig = -1;
        if (parse_signal(cases[i].in, &sig, err, sizeof(err)) != 0)
            fail_msg("%s: %s", cases[i].in, err);
        assert_int_equal(sig, cases[i].sig);
    }
}

static void
signal_rejects_unknown_and_out_of_range(void **state)
{
    static const char *const bad[] = {
        "0", "32", "64", "-1", "SIGFOO", "SIG", "", "15x", "TERM ", " TERM",
        "SIGSIGTERM", "RTMIN", "99999999999999999999",
    };
    char err[256];

    for (size_t i = 0; i < N(bad); i++) {
        int sig = -7;
        err[0] = '\0';
        if (parse_signal(bad[i], &sig, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(sig, -7);
        assert_true(err[0] != '\0');
    }
}

static void
signal_name_is_sig_prefixed_or_number(void **state)
{
    assert_string_equal(parse_signal_name(SIGTERM), "SIGTERM");
    assert_string_equal(parse_signal_name(SIGQUIT), "SIGQUIT");
    assert_string_equal(parse_signal_name(SIGUSR2), "SIGUSR2");
    assert_string_equal(parse_signal_name(SIGCHLD), "SIGCHLD");
    assert_string_equal(parse_signal_name(99), "99");
    assert_string_equal(parse_signal_name(0), "0");
}

static void
signal_name_round_trips_for_every_signal(void **state)
{
    for (int s = 1; s <= 31; s++) {
        char name[16];
        int back = -1;
        snprintf(name, sizeof(name), "%s", parse_signal_name(s));
        assert_int_equal(parse_signal(name, &back, NULL, 0), 0);
        assert_int_equal(back, s);
    }
}

/* --- parse_int ----------------------------------------------------------- */

static void
int_accepts_range_inclusive(void **state)
{
    long v = 0;
    char err[256];

    assert_int_equal(parse_int("42", 0, 100, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 42);
    assert_int_equal(parse_int("0", 0, 100, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_int("100", 0, 100, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 100);
    assert_int_equal(parse_int("-10", -10, 10, &v, err, sizeof(err)), 0);
    assert_int_equal(v, -10);
    assert_int_equal(parse_int("0010", 0, 100, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 10);
}

static void
int_rejects_garbage_and_out_of_range(void **state)
{
    static const char *const bad[] = {
        "101", "-1", "", "abc", "4x", " 4", "4 ", "+4", "-", "--1", "1.0",
        "0x10", "99999999999999999999", "-99999999999999999999",
    };
    char err[256];

    for (size_t i = 0; i < N(bad); i++) {
        long v = 5;
        err[0] = '\0';
        if (parse_int(bad[i], 0, 100, &v, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(v, 5);
    }
    parse_int("101", 0, 100, &(long){0}, err, sizeof(err));
    assert_string_equal(err, "bad number \"101\" (expected 0 to 100)");
}

/* --- parse_bool ---------------------------------------------------------- */

static void
bool_reads_the_words_systemd_reads(void **state)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    static const char *const bad[] = {"", "Yes", "y", "2", "yes ", "nope"};
    char err[256];
    int v;

    for (size_t i = 0; i < N(yes); i++) {
        v = -1;
        assert_int_equal(parse_bool(yes[i], &v, err, sizeof(err)), 0);
        assert_int_equal(v, 1);
        assert_int_equal(parse_bool(no[i], &v, err, sizeof(err)), 0);
        assert_int_equal(v, 0);
    }
    for (size_t i = 0; i < N(bad); i++) {
        v = -1;
        if (parse_bool(bad[i], &v, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(v, -1);
    }
    assert_string_equal(err, "\"nope\": expected yes or no");
}

/* --- parse_mode ---------------------------------------------------------- */

static void
mode_accepts_octal(void **state)
{
    unsigned m = 0;
    char err[256];

    assert_int_equal(parse_mode("0660", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0660);
    assert_int_equal(parse_mode("755", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0755);
    assert_int_equal(parse_mode("0", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 0);
    assert_int_equal(parse_mode("07777", &m, err, sizeof(err)), 0);
    assert_int_equal(m, 07777);
}

static void
mode_rejects_non_octal_and_too_big(void **state)
{
    static const char *const bad[] = {
        "8", "0668", "10000", "", "-1", "0o660", "rw", "0660 ", " 0660", "0x1",
    };
    char err[256];

    for (size_t i = 0; i < N(bad); i++) {
        unsigned m = 1;
        if (parse_mode(bad[i], &m, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(m, 1);
    }
}

/* --- parse_words --------------------------------------------------------- */

/* Split s and compare with the expected words (NULL-terminated). */
static void
check_words(const char *s, const char *const *want)
{
    char **argv = NULL, err[256] = "";
    size_t n = 0;

    if (parse_words(s, &argv, err, sizeof(err)) != 0)
        fail_msg("parse_words(%s): %s", s, err);
    for (; want[n]; n++) {
        if (argv[n] == NULL)
            fail_msg("parse_words(%s): missing word %zu", s, n);
        assert_string_equal(argv[n], want[n]);
    }
    assert_null(argv[n]);
    parse_words_free(argv);
}

static void
words_split_on_blanks(void **state)
{
    check_words("a b  c", (const char *[]){"a", "b", "c", NULL});
    check_words("  lead\tand\t trail  \t",
                (const char *[]){"lead", "and", "trail", NULL});
    check_words("/usr/sbin/nginx", (const char *[]){"/usr/sbin/nginx", NULL});
}

static void
words_single_quotes_are_literal(void **state)
{
    check_words("-g 'daemon off;'", (const char *[]){"-g", "daemon off;", NULL});
    check_words("'a\\b' '\"x\"' '$HOME'",
                (const char *[]){"a\\b", "\"x\"", "$HOME", NULL});
    check_words("pre'mid dle'post", (const char *[]){"premid dlepost", NULL});
    check_words("'' x", (const char *[]){"", "x", NULL});
}

static void
words_double_quotes_allow_four_escapes(void **state)
{
    check_words("\"a \\\" b\"", (const char *[]){"a \" b", NULL});
    check_words("\"\\\\ \\$ \\`\"", (const char *[]){"\\ $ `", NULL});
    /* Any other backslash is kept, as in sh. */
    check_words("\"\\n\\x\"", (const char *[]){"\\n\\x", NULL});
    check_words("\"it's\" \"\"", (const char *[]){"it's", "", NULL});
    check_words("x\"y z\"w", (const char *[]){"xy zw", NULL});
}

static void
words_backslash_escapes_outside_quotes(void **state)
{
    check_words("a\\ b c", (const char *[]){"a b", "c", NULL});
    check_words("\\'x\\'", (const char *[]){"'x'", NULL});
    check_words("\\\\", (const char *[]){"\\", NULL});
    check_words("\\\"", (const char *[]){"\"", NULL});
}

static void
words_grow_past_initial_capacity(void **state)
{
    const char *want[41];
    char line[256] = "", bufs[40][4];
    size_t o = 0;

    for (int i = 0; i < 40; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "w%d", i);
        want[i] = bufs[i];
        o += (size_t)snprintf(line + o, sizeof(line) - o, "%s ", bufs[i]);
    }
    want[40] = NULL;
    check_words(line, want);
}

static void
words_reject_unterminated_quotes_and_empty(void **state)
{
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"'open", "unterminated '"},
        {"a \"open", "unterminated \""},
        {"\"ends in escape\\", "unterminated \""},
        {"\"esc\\\"", "unterminated \""},
        {"trailing\\", "trailing backslash"},
        {"", "empty command"},
        {"   \t ", "empty command"},
    };
    char err[256];

    for (size_t i = 0; i < N(bad); i++) {
        char **argv = (char **)&err; /* must stay untouched */
        err[0] = '\0';
        if (parse_words(bad[i].in, &argv, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted [%s]", bad[i].in);
        assert_ptr_equal(argv, (char **)&err);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("[%s]: message \"%s\" lacks \"%s\"", bad[i].in, err,
                     bad[i].msg);
    }
}

static void
words_free_accepts_null(void **state)
{
    parse_words_free(NULL);
}

/* --- parse_env ----------------------------------------------------------- */

static void
env_accepts_key_value(void **state)
{
    static const char *const good[] = {
        "KEY=value", "_K=1", "K=", "a1_B2=x=y", "PATH=/bin:/usr/bin", "K= sp",
    };

    for (size_t i = 0; i < N(good); i++)
        if (parse_env(good[i], NULL, 0) != 0)
            fail_msg("rejected \"%s\"", good[i]);
}

static void
env_rejects_bad_names(void **state)
{
    static const char *const bad[] = {
        "=v", "1K=v", "K-E=v", "KEY", "", "K E=v", "K.E=v", "-K=v", "K$=v",
    };
    char err[256];

    for (size_t i = 0; i < N(bad); i++) {
        err[0] = '\0';
        if (parse_env(bad[i], err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
    }
}

/* --- addr_parse ---------------------------------------------------------- */

static void
addr_parses_ipv4_host_port(void **state)
{
    struct addr a;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;

    assert_int_equal(addr_parse("127.0.0.1:8080", &a, NULL, 0), 0);
    assert_int_equal(addr_family(&a), AF_INET);
    assert_int_equal(addr_port(&a), 8080);
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
    assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));

    assert_int_equal(addr_parse("10.1.2.3:65535", &a, NULL, 0), 0);
    assert_int_equal(addr_port(&a), 65535);
    assert_int_equal(sin->sin_addr.s_addr, inet_addr("10.1.2.3"));

    assert_int_equal(addr_parse("127.0.0.1:0", &a, NULL, 0), 0);
    assert_int_equal(addr_port(&a), 0);
}

static void
addr_parses_wildcards_and_localhost(void **state)
{
    static const char *const any[] = {":80", "*:80", "0.0.0.0:80"};
    struct addr a;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.ss;

    for (size_t i = 0; i < N(any); i++) {
        assert_int_equal(addr_parse(any[i], &a, NULL, 0), 0);
        assert_int_equal(addr_family(&a), AF_INET);
        assert_int_equal(addr_port(&a), 80);
        assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_ANY));
    }
    assert_int_equal(addr_parse("localhost:9000", &a, NULL, 0), 0);
    assert_int_equal(sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(addr_port(&a), 9000);
}

static void
addr_parses_bracketed_ipv6(void **state)
{
    struct addr a;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.ss;

    assert_int_equal(addr_parse("[::1]:443", &a, NULL, 0), 0);
    assert_int_equal(addr_family(&a), AF_INET6);
    assert_int_equal(addr_port(&a), 443);
    assert_int_equal(a.len, sizeof(struct sockaddr_in6));
    assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));

    assert_int_equal(addr_parse("[::]:8080", &a, NULL, 0), 0);
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));

    assert_int_equal(addr_parse("[2001:db8::5]:1", &a, NULL, 0), 0);
    assert_int_equal(addr_port(&a), 1);
}

/* udp: names a datagram socket's address; its text form round-trips. */
static void
addr_parses_udp(void **state)
{
    static const char *const ok[] = {"udp:127.0.0.1:53", "udp:[::1]:853",
                                     "udp::5353", "udp:[::]:0"};
    static const char *const bad[] = {"udp:", "udp:unix:/run/x.sock",
                                      "udp:udp:1.2.3.4:5", "udp:1.2.3.4",
                                      "udp:[::1]"};
    struct addr a, b;
    char text[ADDR_STRLEN], err[128];

    (void)state;
    for (size_t i = 0; i < N(ok); i++) {
        assert_int_equal(addr_parse(ok[i], &a, NULL, 0), 0);
        assert_int_equal(a.dgram, 1);
        assert_int_equal(addr_text(&a, text, sizeof(text)), 0);
        assert_int_equal(addr_parse(text, &b, NULL, 0), 0);
        assert_int_equal(b.dgram, 1);
        assert_true(addr_equal(&a, (struct sockaddr *)&b.ss, b.len));
    }
    assert_int_equal(addr_parse("udp::5353", &a, NULL, 0), 0);
    assert_int_equal(addr_family(&a), AF_INET);
    assert_int_equal(addr_port(&a), 5353);
    assert_int_equal(addr_text(&a, text, sizeof(text)), 0);
    assert_string_equal(text, "udp:0.0.0.0:5353");
    assert_int_equal(addr_parse("127.0.0.1:53", &a, NULL, 0), 0);
    assert_int_equal(a.dgram, 0);
    assert_int_equal(addr_text(&a, text, sizeof(text)), 0);
    assert_string_equal(text, "127.0.0.1:53");
    assert_int_equal(addr_text(&a, text, 3), -ENOSPC);
    for (size_t i = 0; i < N(bad); i++) {
        err[0] = '\0';
        assert_int_equal(addr_parse(bad[i], &a, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, bad[i]));
    }
}

static void
addr_parses_unix_path(void **state)
{
    struct addr a;
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.ss;
    char path[sizeof(sun->sun_path) + 8];

    assert_int_equal(addr_parse("unix:/run/app.sock", &a, NULL, 0), 0);
    assert_int_equal(addr_family(&a), AF_UNIX);
    assert_string_equal(sun->sun_path, "/run/app.sock");
    assert_int_equal(a.len, offsetof(struct sockaddr_un, sun_path) +
                                strlen("/run/app.sock") + 1);
    assert_int_equal(addr_port(&a), -1);

    /* The longest path that fits with its NUL: 107 characters. */
    memset(path, 0, sizeof(path));
    memcpy(path, "unix:/", 6);
    memset(path + 6, 'p', sizeof(sun->sun_path) - 2);
    assert_int_equal(strlen(path + 5), sizeof(sun->sun_path) - 1);
    assert_int_equal(addr_parse(path, &a, NULL, 0), 0);
    assert_int_equal(strlen(sun->sun_path), sizeof(sun->sun_path) - 1);
}

static void
addr_rejects_bad_input(void **state)
{
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"", "empty"},
        {"unix:", "absolute"},
        {"unix:relative/path.sock", "absolute"},
        {"unix:./x.sock", "absolute"},
        {"1.2.3.4:65536", "port"},
        {"1.2.3.4:99999", "port"},
        {"1.2.3.4:", "port"},
        {":", "port"},
        {"1.2.3.4:-1", "port"},
        {"1.2.3.4:+80", "port"},
        {"1.2.3.4:80x", "port"},
        {"1.2.3.4: 80", "port"},
        {"1.2.3.4", "expected HOST:PORT"},
        {"8080", "expected HOST:PORT"},
        {"::1:80", "brackets"},
        {"::80", "brackets"},
        {"2001:db8::1", "brackets"},
        {"[::1]", "[IPV6]:PORT"},
        {"[::1]80", "[IPV6]:PORT"},
        {"[::1:80", "[IPV6]:PORT"},
        {"[::1]:", "port"},
        {"[::1]:65536", "port"},
        {"[]:80", "IPv6"},
        {"[1.2.3.4]:80", "IPv6"},
        {"[zz::1]:80", "IPv6"},
        {"example.com:80", "IPv4"},
        {"256.1.1.1:80", "IPv4"},
        {"1.2.3:80", "IPv4"},
        {"**:80", "IPv4"},
        {"tcp://1.2.3.4:80", "brackets"},
    };
    char err[256];

    for (size_t i = 0; i < N(bad); i++) {
        struct addr a;
        err[0] = '\0';
        if (addr_parse(bad[i].in, &a, err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i].in);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].in, err,
                     bad[i].msg);
    }
    assert_int_equal(addr_parse(NULL, &(struct addr){0}, err, sizeof(err)),
                     -EINVAL);
}

static void
addr_rejects_too_long_unix_path(void **state)
{
    char path[200], err[256];
    struct addr a;

    memcpy(path, "unix:/", 6);
    memset(path + 6, 'x', 107); /* 108 characters: no room for the NUL */
    path[6 + 107] = '\0';
    assert_int_equal(addr_parse(path, &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too long"));

    memset(path + 6, 'x', 150);
    path[6 + 150] = '\0';
    assert_int_equal(addr_parse(path, &a, err, sizeof(err)), -EINVAL);
}

static void
addr_rejects_too_long_host(void **state)
{
    char s[200], err[256];
    struct addr a;

    memset(s, '1', 100);
    strcpy(s + 100, ":80");
    assert_int_equal(addr_parse(s, &a, err, sizeof(err)), -EINVAL);
    s[0] = '[';
    memset(s + 1, 'f', 99);
    strcpy(s + 100, "]:80");
    assert_int_equal(addr_parse(s, &a, err, sizeof(err)), -EINVAL);
}

/* --- addr_format --------------------------------------------------------- */

static void
addr_format_round_trips(void **state)
{
    static const struct {
        const char *in, *text;
    } cases[] = {
        {"127.0.0.1:8080", "127.0.0.1:8080"},
        {":80", "0.0.0.0:80"},
        {"*:81", "0.0.0.0:81"},
        {"localhost:82", "127.0.0.1:82"},
        {"0.0.0.0:0", "0.0.0.0:0"},
        {"[::1]:443", "[::1]:443"},
        {"[::]:8080", "[::]:8080"},
        {"[2001:DB8:0:0::5]:9", "[2001:db8::5]:9"},
        {"unix:/run/x.sock", "unix:/run/x.sock"},
    };

    for (size_t i = 0; i < N(cases); i++) {
        struct addr a, b;
        char buf[ADDR_STRLEN], again[ADDR_STRLEN];

        assert_int_equal(addr_parse(cases[i].in, &a, NULL, 0), 0);
        assert_int_equal(addr_format((struct sockaddr *)&a.ss, a.len, buf,
                                     sizeof(buf)), 0);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(addr_parse(buf, &b, NULL, 0), 0);
        assert_true(addr_equal(&a, (struct sockaddr *)&b.ss, b.len));
        assert_int_equal(a.len, b.len);
        assert_int_equal(addr_format((struct sockaddr *)&b.ss, b.len, again,
                                     sizeof(again)), 0);
        assert_string_equal(again, buf);
    }
}

static void
addr_format_reports_short_buffer(void **state)
{
    struct addr a;
    char buf[8];

    assert_int_equal(addr_parse("127.0.0.1:8080", &a, NULL, 0), 0);
    assert_int_equal(addr_format((struct sockaddr *)&a.ss, a.len, buf,
                                 sizeof(buf)), -ENOSPC);
    assert_int_equal(addr_parse("unix:/a/long/path", &a, NULL, 0), 0);
    assert_int_equal(addr_format((struct sockaddr *)&a.ss, a.len, buf,
                                 sizeof(buf)), -ENOSPC);
}

static void
addr_format_uses_unix_length_not_nul(void **state)
{
    struct sockaddr_un sun;
    char buf[ADDR_STRLEN];
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 4);

    memset(&sun, 'z', sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, "/abc", 4); /* not NUL-terminated within len */
    assert_int_equal(addr_format((struct sockaddr *)&sun, len, buf,
                                 sizeof(buf)), 0);
    assert_string_equal(buf, "unix:/abc");
}

/* --- addr_equal / addr_match --------------------------------------------- */

static int
match(const char *listener, const char *request)
{
    struct addr l, r;

    assert_int_equal(addr_parse(listener, &l, NULL, 0), 0);
    assert_int_equal(addr_parse(request, &r, NULL, 0), 0);
    return addr_match(&l, (struct sockaddr *)&r.ss, r.len);
}

static void
addr_match_exact(void **state)
{
    assert_true(match("127.0.0.1:8080", "127.0.0.1:8080"));
    assert_true(match("[::1]:8080", "[::1]:8080"));
    assert_true(match("unix:/run/a.sock", "unix:/run/a.sock"));
    assert_false(match("127.0.0.1:8080", "127.0.0.1:8081"));
    assert_false(match("127.0.0.1:8080", "10.0.0.1:8080"));
    assert_false(match("unix:/run/a.sock", "unix:/run/b.sock"));
    assert_false(match("unix:/run/a.sock", "unix:/run/a.sock2"));
    assert_false(match("unix:/run/a.sock2", "unix:/run/a.sock"));
}

static void
addr_match_wildcard_listener_serves_same_port(void **state)
{
    assert_true(match("0.0.0.0:8080", "127.0.0.1:8080"));
    assert_true(match(":8080", "10.9.8.7:8080"));
    assert_true(match("0.0.0.0:8080", "0.0.0.0:8080"));
    assert_true(match("[::]:8080", "[::1]:8080"));
    assert_true(match("[::]:8080", "[2001:db8::1]:8080"));
    assert_false(match("0.0.0.0:8080", "127.0.0.1:8081"));
    assert_false(match("[::]:8080", "[::1]:9090"));
}

static void
addr_match_specific_listener_does_not_serve_wildcard(void **state)
{
    assert_false(match("127.0.0.1:8080", "0.0.0.0:8080"));
    assert_false(match("[::1]:8080", "[::]:8080"));
}

static void
addr_match_never_crosses_families(void **state)
{
    assert_false(match("0.0.0.0:8080", "[::1]:8080"));
    assert_false(match("[::]:8080", "127.0.0.1:8080"));
    assert_false(match("0.0.0.0:8080", "unix:/run/x"));
    assert_false(match("unix:/run/x", "127.0.0.1:8080"));
}

static void
addr_match_port_zero_never_matches(void **state)
{
    /* A request for port 0 wants a private, ephemeral socket. */
    assert_false(match("0.0.0.0:8080", "127.0.0.1:0"));
    assert_false(match("0.0.0.0:0", "127.0.0.1:0"));
    assert_false(match("[::]:0", "[::1]:0"));
    assert_false(match("0.0.0.0:0", "0.0.0.0:0"));
    assert_false(match("[::]:0", "[::]:0"));
    assert_false(match("127.0.0.1:0", "127.0.0.1:0"));
}

static void
addr_match_rejects_short_sockaddr(void **state)
{
    struct addr l, r;

    assert_int_equal(addr_parse("0.0.0.0:80", &l, NULL, 0), 0);
    assert_int_equal(addr_parse("127.0.0.1:80", &r, NULL, 0), 0);
    assert_false(addr_match(&l, (struct sockaddr *)&r.ss, 4));
    assert_false(addr_equal(&r, (struct sockaddr *)&r.ss, 4));
}

/* --- readiness helpers --------------------------------------------------- */

static void
expand_substitutes_pid_generation_and_percent(void **state)
{
    char out[128];

    assert_int_equal(readiness_expand("kill -0 %p", 4242, 3, out, sizeof(out)),
                     0);
    assert_string_equal(out, "kill -0 4242");
    assert_int_equal(readiness_expand("/gen/%g/pid/%p", 7, 12, out,
                                      sizeof(out)), 0);
    assert_string_equal(out, "/gen/12/pid/7");
    assert_int_equal(readiness_expand("100%% %%p", 1, 1, out, sizeof(out)), 0);
    assert_string_equal(out, "100% %p");
    assert_int_equal(readiness_expand("%x %", 1, 1, out, sizeof(out)), 0);
    assert_string_equal(out, "%x %");
    assert_int_equal(readiness_expand("", 1, 1, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(readiness_expand("%g", 1, 4294967295u, out, sizeof(out)),
                     0);
    assert_string_equal(out, "4294967295");
}

static void
expand_reports_short_buffer(void **state)
{
    char out[8];

    assert_int_equal(readiness_expand("abcdefg", 1, 1, out, 8), 0);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(readiness_expand("abcdefgh", 1, 1, out, 8), -ENOSPC);
    assert_int_equal(readiness_expand("pid %p", 1234567, 1, out, 8), -ENOSPC);
    assert_int_equal(readiness_expand("pid %p", 123, 1, out, 8), 0);
    assert_string_equal(out, "pid 123");
}

static void
url_splits_host_port_and_path(void **state)
{
    static const struct {
        const char *url, *hostport, *path;
    } cases[] = {
        {"http://127.0.0.1:8080/health", "127.0.0.1:8080", "/health"},
        {"http://127.0.0.1/x", "127.0.0.1:80", "/x"},
        {"http://127.0.0.1", "127.0.0.1:80", "/"},
        {"http://localhost:9000", "localhost:9000", "/"},
        {"http://[::1]:8080/", "[::1]:8080", "/"},
        {"http://[::1]/ready", "[::1]:80", "/ready"},
        {"http://[::1]", "[::1]:80", "/"},
        {"http://1.2.3.4:5/a/b?c=d&e=%41", "1.2.3.4:5", "/a/b?c=d&e=%41"},
    };

    for (size_t i = 0; i < N(cases); i++) {
        char hp[64], path[64];
        if (readiness_parse_url(cases[i].url, hp, sizeof(hp), path,
                                sizeof(path)) != 0)
            fail_msg("rejected %s", cases[i].url);
        assert_string_equal(hp, cases[i].hostport);
        assert_string_equal(path, cases[i].path);
    }
}

static void
url_rejects_other_schemes_and_empty_host(void **state)
{
    static const char *const bad[] = {
        "https://127.0.0.1/", "ftp://x/", "http:/x", "http://", "http:///x",
        "127.0.0.1:80/", "",
    };

    for (size_t i = 0; i < N(bad); i++) {
        char hp[64], path[64];
        if (readiness_parse_url(bad[i], hp, sizeof(hp), path, sizeof(path)) !=
            -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void
url_rejects_small_buffers(void **state)
{
    char hp[64], path[4];

    /* "1.2.3.4" needs ":80" and a NUL after it: 11 bytes. */
    assert_int_equal(readiness_parse_url("http://1.2.3.4/", hp, 11, path,
                                         sizeof(path)), 0);
    assert_string_equal(hp, "1.2.3.4:80");
    assert_int_equal(readiness_parse_url("http://1.2.3.4/", hp, 10, path,
                                         sizeof(path)), -EINVAL);
    assert_int_equal(readiness_parse_url("http://1.2.3.4/abc", hp,
                                         sizeof(hp), path, sizeof(path)),
                     -EINVAL);
    assert_int_equal(readiness_parse_url("http://1.2.3.4/ab", hp, sizeof(hp),
                                         path, sizeof(path)), 0);
    assert_string_equal(path, "/ab");
}

static void
http_status_reads_first_line(void **state)
{
    static const struct {
        const char *resp;
        int code;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\n\r\n", 200},
        {"HTTP/1.0 302 Found\r\n", 302},
        {"HTTP/1.1 503 Service Unavailable\r\n", 503},
        {"HTTP/1.1 204", 204},
        {"HTTP/1.1 099 x", 99},
        {"HTTP/1.1 20", -1},
        {"HTTP/1.1 2x0 OK", -1},
        {"HTTP/1.1  200 OK", -1},
        {"HTTP/2 200 OK\r\n", -1},
        {"HTTP/1.x 200 OK\r\n", -1},
        {"http/1.1 200 OK\r\n", -1},
        {"SSH-2.0-OpenSSH_9.2\r\n", -1},
        {"", -1},
    };

    for (size_t i = 0; i < N(cases); i++) {
        int code = readiness_http_status(cases[i].resp, strlen(cases[i].resp));
        if (code != cases[i].code)
            fail_msg("\"%s\": got %d, want %d", cases[i].resp, code,
                     cases[i].code);
    }
    /* Only len bytes count, whatever follows them. */
    assert_int_equal(readiness_http_status("HTTP/1.1 200 OK", 11), -1);
}

/* --- log ----------------------------------------------------------------- */

static void
check_json(const char *in, const char *want)
{
    char out[1024];

    assert_int_equal(log_logfmt_to_json(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void
json_converts_numbers_and_strings(void **state)
{
    check_json("ts=2024-01-02T03:04:05.678Z level=info event=ready gen=3 "
               "pid=4242 ready_ms=812",
               "{\"ts\":\"2024-01-02T03:04:05.678Z\",\"level\":\"info\","
               "\"event\":\"ready\",\"gen\":3,\"pid\":4242,\"ready_ms\":812}");
    check_json("a=0 b=-1 c=1.5 d=0.25 e=007 f=1. g=.5 h=- i=1e5 j=1.2.3 k=-0",
               "{\"a\":0,\"b\":-1,\"c\":1.5,\"d\":0.25,\"e\":\"007\","
               "\"f\":\"1.\",\"g\":\".5\",\"h\":\"-\",\"i\":\"1e5\","
               "\"j\":\"1.2.3\",\"k\":0}");
    /* Decimals as written, not as the nearest double printed in full. */
    check_json("a=0.1 b=12.345 c=-3.75", "{\"a\":0.1,\"b\":12.345,\"c\":-3.75}");
}

static void
json_keeps_quoted_values_as_strings(void **state)
{
    check_json("msg=\"hello world\" n=\"42\"",
               "{\"msg\":\"hello world\",\"n\":\"42\"}");
    check_json("msg=\"say \\\"hi\\\"\"", "{\"msg\":\"say \\\"hi\\\"\"}");
    check_json("msg=\"a\\nb\" p=\"c:\\\\d\"",
               "{\"msg\":\"a\\nb\",\"p\":\"c:\\\\d\"}");
    check_json("e=\"\"", "{\"e\":\"\"}");
}

static void
json_escapes_bare_quotes_and_backslashes(void **state)
{
    check_json("x=a\"b y=c\\d", "{\"x\":\"a\\\"b\",\"y\":\"c\\\\d\"}");
}

static void
json_handles_empty_values_keys_and_blanks(void **state)
{
    check_json("", "{}");
    check_json("   ", "{}");
    check_json("k= x=1", "{\"k\":\"\",\"x\":1}");
    check_json("flag x=1", "{\"flag\":\"\",\"x\":1}");
    check_json("  a=1   b=2  ", "{\"a\":1,\"b\":2}");
    check_json("k=\"unterminated", "{\"k\":\"unterminated\"}");
}

static void
json_of_log_q_output_keeps_the_text(void **state)
{
    char in[600], out[1024];

    snprintf(in, sizeof(in), "status=%s", log_q("ready: \"ok\" \\ now\n"));
    assert_int_equal(log_logfmt_to_json(in, out, sizeof(out)), 0);
    assert_string_equal(out, "{\"status\":\"ready: \\\"ok\\\" \\\\ now\\n\"}");
}

static void
json_reports_short_buffer(void **state)
{
    char out[64];
    const char *in = "key=value";

    assert_int_equal(log_logfmt_to_json(in, out, 16), 0);
    assert_string_equal(out, "{\"key\":\"value\"}");
    for (size_t n = 1; n < 16; n++)
        assert_int_equal(log_logfmt_to_json(in, out, n), -ENOSPC);
    assert_int_equal(log_logfmt_to_json("", out, 2), -ENOSPC);
    assert_int_equal(log_logfmt_to_json("", out, 3), 0);
}

/* What a JSON reader gets back from log_json_string(s). */
static void
check_json_string(const char *s, const char *want)
{
    json_t *j = log_json_string(s, strlen(s)), *back;
    char *text;

    assert_non_null(j);
    text = json_dumps(j, JSON_ENCODE_ANY);
    assert_non_null(text);
    for (const char *p = text; *p; p++)
        assert_true((unsigned char)*p >= ' ');
    back = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(back), want);
    json_decref(back);
    json_decref(j);
    free(text);
}

static void
json_strings_keep_the_text_and_stay_valid(void **state)
{
    check_json_string("", "");
    check_json_string("a \"quote\" and \\", "a \"quote\" and \\");
    check_json_string("line\nnext\ttab\x01\x1f\x7f", "line\nnext\ttab\x01\x1f\x7f");
    check_json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

static void
json_strings_not_utf8_get_replacement_characters(void **state)
{
    /* Every byte above 0x7f of a string that is not UTF-8 as a whole. */
    check_json_string("bad \xff byte", "bad \xef\xbf\xbd byte");
    check_json_string("cut \xc3", "cut \xef\xbf\xbd");
    check_json_string("overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd");
    check_json_string("surrogate \xed\xa0\x80",
                      "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check_json_string("caf\xc3\xa9 \xff", "caf\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd");
}

static void
json_log_value_not_utf8_stays_json(void **state)
{
    char out[256];
    json_t *j;

    assert_int_equal(log_logfmt_to_json("status=\"w\xe9ird\" pid=3", out,
                                        sizeof(out)), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")),
                        "w\xef\xbf\xbdird");
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), 3);
    json_decref(j);
}

/* Run log_event with fd 2 on a pipe; what it wrote, in buf. */
static void
log_line_to(char *buf, size_t size)
{
    int p[2], saved = dup(2);
    ssize_t n;

    assert_int_equal(pipe(p), 0);
    assert_true(saved >= 0);
    dup2(p[1], 2);
    close(p[1]);
    log_setup(LOG_INFO, LOG_JSON);
    log_event(LOG_INFO, "test_event", "k=%s n=%d", log_q("a b"), 7);
    log_setup(LOG_INFO, LOG_LOGFMT);
    dup2(saved, 2);
    close(saved);
    n = read(p[0], buf, size - 1);
    close(p[0]);
    assert_true(n > 0);
    buf[n] = '\0';
}

static int fail_allocs;

static void *
failing_malloc(size_t n)
{
    return fail_allocs ? NULL : malloc(n);
}

static void
json_log_line_is_one_object(void **state)
{
    char line[1024];
    json_t *j;

    log_line_to(line, sizeof(line));
    assert_int_equal(line[strlen(line) - 1], '\n');
    j = json_loads(line, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event")),
                        "test_event");
    assert_string_equal(json_string_value(json_object_get(j, "k")), "a b");
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 7);
    json_decref(j);
}

static void
json_log_line_without_memory_is_written_as_logfmt(void **state)
{
    char line[1024];

    json_set_alloc_funcs(failing_malloc, free);
    fail_allocs = 1;
    log_line_to(line, sizeof(line));
    fail_allocs = 0;
    json_set_alloc_funcs(malloc, free);
    assert_int_equal(strncmp(line, "ts=", 3), 0);
    assert_non_null(strstr(line, " level=info event=test_event k=\"a b\" n=7\n"));
}

static void
q_leaves_plain_values_alone(void **state)
{
    assert_string_equal(log_q("plain"), "plain");
    assert_string_equal(log_q("/usr/sbin/nginx"), "/usr/sbin/nginx");
    assert_string_equal(log_q("127.0.0.1:80"), "127.0.0.1:80");
}

static void
q_quotes_and_escapes_when_needed(void **state)
{
    assert_string_equal(log_q(""), "\"\"");
    assert_string_equal(log_q("a b"), "\"a b\"");
    assert_string_equal(log_q("a=b"), "\"a=b\"");
    assert_string_equal(log_q("say \"hi\""), "\"say \\\"hi\\\"\"");
    assert_string_equal(log_q("c:\\d"), "\"c:\\\\d\"");
    assert_string_equal(log_q("a\nb"), "\"a\\nb\"");
    assert_string_equal(log_q("a\tb\x01\x7f"), "\"a?b??\"");
}

static void
q_truncates_long_values_and_keeps_quotes(void **state)
{
    char big[2000];
    const char *q;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    q = log_q(big);
    assert_true(strlen(q) < 512);
    assert_int_equal(strspn(q, "x"), strlen(q));

    memset(big, '"', sizeof(big) - 1);
    q = log_q(big);
    assert_true(strlen(q) < 512);
    assert_int_equal(q[0], '"');
    assert_int_equal(q[strlen(q) - 1], '"');
    assert_int_equal(q[strlen(q) - 2], '"');
    assert_int_equal(q[strlen(q) - 3], '\\');
}

static void
q_results_live_for_eight_calls(void **state)
{
    const char *first = log_q("first");
    char name[8];

    for (int i = 0; i < 7; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        log_q(name);
    }
    assert_string_equal(first, "first");
}

/* --- notify_parse -------------------------------------------------------- */

static struct notify_msg
notify(const char *s)
{
    struct notify_msg m;

    memset(&m, 0x55, sizeof(m));
    notify_parse(s, strlen(s), &m);
    return m;
}

static void
notify_reads_ready(void **state)
{
    struct notify_msg m = notify("READY=1");

    assert_true(m.ready);
    assert_false(m.stopping);
    assert_false(m.has_status);
    m = notify("READY=1\n");
    assert_true(m.ready);
}

/* The watchdog's keepalive and its trigger, as sd_notify(3) writes them;
 * a near miss is neither. */
static void
notify_reads_watchdog(void **state)
{
    struct notify_msg m = notify("WATCHDOG=1");

    (void)state;
    assert_true(m.watchdog);
    assert_false(m.trigger);
    assert_false(m.ready);
    m = notify("STATUS=busy\nWATCHDOG=trigger\n");
    assert_true(m.trigger);
    assert_false(m.watchdog);
    m = notify("WATCHDOG=10\nWATCHDOG=triggered\nWATCHDOG_USEC=5");
    assert_false(m.watchdog);
    assert_false(m.trigger);
}

static void
notify_reads_status(void **state)
{
    struct notify_msg m = notify("READY=1\nSTATUS=Serving 42 clients\n");

    assert_true(m.ready);
    assert_true(m.has_status);
    assert_string_equal(m.status, "Serving 42 clients");

    m = notify("STATUS=");
    assert_true(m.has_status);
    assert_string_equal(m.status, "");
    assert_false(m.ready);

    m = notify("STATUS=a\tb\rc");
    assert_string_equal(m.status, "a b c");

    m = notify("STATUS=first\nSTATUS=second");
    assert_string_equal(m.status, "second");
}

/* C1 controls reach a terminal as C0 ones do: U+009B and a lone 0x9b are
 * a CSI. Each is a blank; UTF-8 text and other bytes are kept. */
static void
notify_blanks_c1_controls(void **state)
{
    struct notify_msg m;

    (void)state;
    m = notify("STATUS=\xc3\xa9t\xc3\xa9 \xc2\x9b" "31m \x9b" "31m \xc2\x85 "
               "\xe2\x82\xac \xc2\xa0 \xe9 \x80\x9f\x7f");
    assert_string_equal(m.status, "\xc3\xa9t\xc3\xa9  31m  31m   "
                                  "\xe2\x82\xac \xc2\xa0 \xe9   \x7f");
    /* A sequence cut by the end is no sequence. */
    m = notify("STATUS=ab\xc2");
    assert_string_equal(m.status, "ab\xc2");
    m = notify("STATUS=\xe2\x82");
    assert_string_equal(m.status, "\xe2 ");
}

static void
notify_truncates_long_status(void **state)
{
    char buf[400];
    struct notify_msg m;

    memcpy(buf, "STATUS=", 7);
    memset(buf + 7, 's', 300);
    buf[307] = '\0';
    m = notify(buf);
    assert_true(m.has_status);
    assert_int_equal(strlen(m.status), sizeof(m.status) - 1);
}

static void
notify_reads_stopping(void **state)
{
    struct notify_msg m = notify("STOPPING=1\n");

    assert_true(m.stopping);
    assert_false(m.ready);
}

static void
notify_ignores_unknown_keys_and_other_values(void **state)
{
    struct notify_msg m = notify("MAINPID=42\nFOO=bar\nREADY=1\nWATCHDOG=1\n");

    assert_true(m.ready);
    assert_false(m.stopping);
    assert_false(m.has_status);

    m = notify("READY=0\nSTOPPING=0\nREADY=10\nREADY=1 \n READY=1\nready=1");
    assert_false(m.ready);
    assert_false(m.stopping);
    assert_false(m.has_status);

    m = notify("");
    assert_false(m.ready);
    assert_false(m.stopping);
    assert_false(m.has_status);
}

static void
notify_respects_length_not_nul(void **state)
{
    struct notify_msg m;
    const char buf[] = "STATUS=ab\0READY=1";

    /* Only the first 5 bytes of "READY=1" count: no READY. */
    notify_parse("READY=1", 5, &m);
    assert_false(m.ready);
    /* A NUL inside a line does not end the datagram. */
    notify_parse(buf, sizeof(buf) - 1, &m);
    assert_true(m.has_status);
    assert_false(m.ready);
    notify_parse("READY=1\nSTATUS=x", 8, &m);
    assert_true(m.ready);
    assert_false(m.has_status);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duration_accepts_every_suffix),
        cmocka_unit_test(duration_rejects_unknown_suffix),
        cmocka_unit_test(duration_rejects_overflow),
        cmocka_unit_test(duration_tolerates_null_err),
        cmocka_unit_test(signal_accepts_names_and_numbers),
        cmocka_unit_test(signal_rejects_unknown_and_out_of_range),
        cmocka_unit_test(signal_name_is_sig_prefixed_or_number),
        cmocka_unit_test(signal_name_round_trips_for_every_signal),
        cmocka_unit_test(int_accepts_range_inclusive),
        cmocka_unit_test(int_rejects_garbage_and_out_of_range),
        cmocka_unit_test(bool_reads_the_words_systemd_reads),
        cmocka_unit_test(mode_accepts_octal),
        cmocka_unit_test(mode_rejects_non_octal_and_too_big),
        cmocka_unit_test(words_split_on_blanks),
        cmocka_unit_test(words_single_quotes_are_literal),
        cmocka_unit_test(words_double_quotes_allow_four_escapes),
        cmocka_unit_test(words_backslash_escapes_outside_quotes),
        cmocka_unit_test(words_grow_past_initial_capacity),
        cmocka_unit_test(words_reject_unterminated_quotes_and_empty),
        cmocka_unit_test(words_free_accepts_null),
        cmocka_unit_test(env_accepts_key_value),
        cmocka_unit_test(env_rejects_bad_names),
        cmocka_unit_test(addr_parses_ipv4_host_port),
        cmocka_unit_test(addr_parses_wildcards_and_localhost),
        cmocka_unit_test(addr_parses_bracketed_ipv6),
        cmocka_unit_test(addr_parses_unix_path),
        cmocka_unit_test(addr_rejects_bad_input),
        cmocka_unit_test(addr_rejects_too_long_unix_path),
        cmocka_unit_test(addr_rejects_too_long_host),
        cmocka_unit_test(addr_format_round_trips),
        cmocka_unit_test(addr_parses_udp),
        cmocka_unit_test(addr_format_reports_short_buffer),
        cmocka_unit_test(addr_format_uses_unix_length_not_nul),
        cmocka_unit_test(addr_match_exact),
        cmocka_unit_test(addr_match_wildcard_listener_serves_same_port),
        cmocka_unit_test(addr_match_specific_listener_does_not_serve_wildcard),
        cmocka_unit_test(addr_match_never_crosses_families),
        cmocka_unit_test(addr_match_port_zero_never_matches),
        cmocka_unit_test(addr_match_rejects_short_sockaddr),
        cmocka_unit_test(expand_substitutes_pid_generation_and_percent),
        cmocka_unit_test(expand_reports_short_buffer),
        cmocka_unit_test(url_splits_host_port_and_path),
        cmocka_unit_test(url_rejects_other_schemes_and_empty_host),
        cmocka_unit_test(url_rejects_small_buffers),
        cmocka_unit_test(http_status_reads_first_line),
        cmocka_unit_test(json_converts_numbers_and_strings),
        cmocka_unit_test(json_keeps_quoted_values_as_strings),
        cmocka_unit_test(json_escapes_bare_quotes_and_backslashes),
        cmocka_unit_test(json_handles_empty_values_keys_and_blanks),
        cmocka_unit_test(json_of_log_q_output_keeps_the_text),
        cmocka_unit_test(json_reports_short_buffer),
        cmocka_unit_test(json_strings_keep_the_text_and_stay_valid),
        cmocka_unit_test(json_strings_not_utf8_get_replacement_characters),
        cmocka_unit_test(json_log_value_not_utf8_stays_json),
        cmocka_unit_test(json_log_line_is_one_object),
        cmocka_unit_test(json_log_line_without_memory_is_written_as_logfmt),
        cmocka_unit_test(q_leaves_plain_values_alone),
        cmocka_unit_test(q_quotes_and_escapes_when_needed),
        cmocka_unit_test(q_truncates_long_values_and_keeps_quotes),
        cmocka_unit_test(q_results_live_for_eight_calls),
        cmocka_unit_test(notify_reads_ready),
        cmocka_unit_test(notify_reads_status),
        cmocka_unit_test(notify_reads_watchdog),
        cmocka_unit_test(notify_blanks_c1_controls),
        cmocka_unit_test(notify_truncates_long_status),
        cmocka_unit_test(notify_reads_stopping),
        cmocka_unit_test(notify_ignores_unknown_keys_and_other_values),
        cmocka_unit_test(notify_respects_length_not_nul),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
