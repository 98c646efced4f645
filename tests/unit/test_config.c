/* test_config.c: the configuration from INI text and command-line flags. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Not "config.h": the build directory's autoconf header has that name. */
#include "../../supervisor/config.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAXARGS 64

/*
 * Load text (NULL: no file) named "t.conf" with the flags in args (a
 * NULL-terminated list without argv[0]). Returns what config_args_parse or
 * config_load_stream returned; err gets their message.
 */
static int
load(const char *text, const char *const *args, struct config **out,
     char *err)
{
    char *argv[MAXARGS] = {"handoff"};
    struct config_args a;
    int argc = 1, rc;
    FILE *f = NULL;

    *out = NULL;
    for (; args != NULL && args[argc - 1] != NULL; argc++) {
        assert_true(argc < MAXARGS - 1);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;
    err[0] = '\0';
    rc = config_args_parse(argc, argv, &a, err, CONFIG_ERRLEN);
    if (rc < 0)
        return rc;
    if (text != NULL) {
        f = fmemopen((void *)text, strlen(text), "r");
        assert_non_null(f);
    }
    rc = config_load_stream(f, text != NULL ? "t.conf" : NULL, &a, out, err,
                            CONFIG_ERRLEN);
    if (f != NULL)
        fclose(f);
    config_args_free(&a);
    if (rc == 0)
        assert_non_null(*out);
    else
        assert_null(*out);
    return rc;
}

/* Load what must be valid. */
static struct config *
load_ok(const char *text, const char *const *args)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    if (load(text, args, &c, err) != 0)
        fail_msg("refused: %s", err);
    return c;
}

static void
assert_argv(char **argv, const char *const *want)
{
    size_t i = 0;

    assert_non_null(argv);
    for (; want[i]; i++) {
        if (argv[i] == NULL)
            fail_msg("argv has %zu words, want more", i);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The smallest valid file, for tests that change one thing. */
#define MINIMAL "[listen web]\naddress = 127.0.0.1:8080\n[worker]\ncommand = /bin/true\n"

/* --- defaults ------------------------------------------------------------ */

static void
defaults_without_file(void **state)
{
    struct config *c = load_ok(NULL, ARGS("-l", ":8080", "--", "/bin/true"));

    assert_int_equal(c->stop_timeout, 30000);
    assert_int_equal(c->log_format, LOG_LOGFMT);
    assert_int_equal(c->log_level, LOG_INFO);
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0].name, "listen0");
    assert_string_equal(c->listen[0].address, ":8080");
    assert_int_equal(addr_port(&c->listen[0].addr), 8080);
    assert_int_equal(c->listen[0].backlog, 4096);
    assert_int_equal(c->listen[0].mode, -1);
    assert_argv(c->argv, ARGS("/bin/true"));
    assert_int_equal(c->processes, 1);
    assert_int_equal(c->pass, PASS_SHIM);
    assert_int_equal(c->ready, READY_LISTEN);
    assert_int_equal(c->ready_set, 0);
    assert_int_equal(c->ready_timeout, 60000);
    assert_int_equal(c->ready_interval, 1000);
    assert_int_equal(c->drain_signal, SIGTERM);
    assert_int_equal(c->drain_timeout, 30000);
    assert_int_equal(c->restart, RESTART_ALWAYS);
    assert_null(c->directory);
    assert_null(c->user);
    assert_null(c->group);
    assert_int_equal(c->uid, (uid_t)-1);
    assert_int_equal(c->gid, (gid_t)-1);
    assert_int_equal(c->nenv, 0);
    assert_non_null(c->env);
    assert_null(c->env[0]);
    config_free(c);
}

static void
defaults_with_minimal_file(void **state)
{
    struct config *c = load_ok(MINIMAL, NULL);

    assert_int_equal(c->stop_timeout, 30000);
    assert_int_equal(c->processes, 1);
    assert_int_equal(c->pass, PASS_SHIM);
    assert_int_equal(c->ready, READY_LISTEN);
    assert_int_equal(c->drain_signal, SIGTERM);
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0].name, "web");
    assert_int_equal(c->listen[0].backlog, 4096);
    assert_argv(c->argv, ARGS("/bin/true"));
    config_free(c);
}

/* --- every key ----------------------------------------------------------- */

static void
handoff_section_keys(void **state)
{
    struct config *c = load_ok("[handoff]\n"
                               "stop_timeout = 5s\n"
                               "log_format = json\n"
                               "log_level = debug\n" MINIMAL,
                               NULL);

    assert_int_equal(c->stop_timeout, 5000);
    assert_int_equal(c->log_format, LOG_JSON);
    assert_int_equal(c->log_level, LOG_DEBUG);
    config_free(c);

    c = load_ok("[handoff]\nlog_level = error\nlog_format = logfmt\n" MINIMAL,
                NULL);
    assert_int_equal(c->log_level, LOG_ERROR);
    assert_int_equal(c->log_format, LOG_LOGFMT);
    config_free(c);
    c = load_ok("[handoff]\nlog_level = warn\n" MINIMAL, NULL);
    assert_int_equal(c->log_level, LOG_WARN);
    config_free(c);
}

static void
listen_section_keys(void **state)
{
    struct config *c = load_ok("[listen web]\n"
                               "address = 0.0.0.0:8080\n"
                               "backlog = 128\n"
                               "nonblocking = yes\n"
                               "[listen admin]\n"
                               "address = [::1]:9000\n"
                               "[listen sock]\n"
                               "address = unix:/tmp/handoff-test.sock\n"
                               "mode = 0660\n"
                               "[listen]\n"
                               "address = :7000\n"
                               "[worker]\ncommand = /bin/true\n",
                               NULL);

    assert_int_equal(c->nlisten, 4);
    assert_string_equal(c->listen[0].name, "web");
    assert_string_equal(c->listen[0].address, "0.0.0.0:8080");
    assert_int_equal(addr_family(&c->listen[0].addr), AF_INET);
    assert_int_equal(c->listen[0].backlog, 128);
    assert_int_equal(c->listen[0].mode, -1);
    assert_int_equal(c->listen[0].nonblocking, 1);
    assert_int_equal(c->listen[1].nonblocking, 0); /* blocking, as systemd's */
    assert_string_equal(c->listen[1].name, "admin");
    assert_int_equal(addr_family(&c->listen[1].addr), AF_INET6);
    assert_int_equal(addr_port(&c->listen[1].addr), 9000);
    assert_int_equal(c->listen[1].backlog, 4096);
    assert_string_equal(c->listen[2].name, "sock");
    assert_int_equal(addr_family(&c->listen[2].addr), AF_UNIX);
    assert_int_equal(c->listen[2].mode, 0660);
    /* A section without a name gets one. */
    assert_string_equal(c->listen[3].name, "listen3");
    config_free(c);
}

static void
worker_section_keys(void **state)
{
    struct config *c = load_ok("[listen web]\naddress = :8080\n"
                               "[worker]\n"
                               "command = /bin/echo \"a b\" 'c d' e\\ f\n"
                               "processes = 4\n"
                               "pass = systemd\n"
                               "ready = tcp:127.0.0.1:9000\n"
                               "ready_timeout = 10s\n"
                               "ready_interval = 250ms\n"
                               "drain_signal = SIGQUIT\n"
                               "drain_timeout = 2m\n"
                               "restart = on-failure\n"
                               "directory = /tmp\n"
                               "user = root\n"
                               "group = root\n"
                               "environment = A=1 B=\"two words\"\n"
                               "environment = C=3\n",
                               NULL);

    assert_argv(c->argv, ARGS("/bin/echo", "a b", "c d", "e f"));
    assert_int_equal(c->processes, 4);
    assert_int_equal(c->pass, PASS_SYSTEMD);
    assert_int_equal(c->ready, READY_TCP);
    assert_int_equal(c->ready_set, 1);
    assert_string_equal(c->ready_spec, "tcp:127.0.0.1:9000");
    assert_string_equal(c->ready_arg, "127.0.0.1:9000");
    assert_int_equal(c->ready_timeout, 10000);
    assert_int_equal(c->ready_interval, 250);
    assert_int_equal(c->drain_signal, SIGQUIT);
    assert_int_equal(c->drain_timeout, 120000);
    assert_int_equal(c->restart, RESTART_ON_FAILURE);
    assert_string_equal(c->directory, "/tmp");
    assert_string_equal(c->user, "root");
    assert_string_equal(c->group, "root");
    assert_int_equal(c->uid, 0);
    assert_int_equal(c->gid, 0);
    assert_int_equal(c->nenv, 3);
    assert_argv(c->env, ARGS("A=1", "B=two words", "C=3"));
    config_free(c);

    c = load_ok(MINIMAL "restart = never\npass = inherit\n", NULL);
    assert_int_equal(c->restart, RESTART_NEVER);
    assert_int_equal(c->pass, PASS_INHERIT);
    config_free(c);
    c = load_ok(MINIMAL "restart = always\npass = protocol\n", NULL);
    assert_int_equal(c->restart, RESTART_ALWAYS);
    assert_int_equal(c->pass, PASS_PROTOCOL);
    config_free(c);
}

static void
ready_accepts_every_kind(void **state)
{
    static const struct {
        const char *line;
        enum ready_kind kind;
        const char *arg;
    } cases[] = {
        {"ready = listen", READY_LISTEN, NULL},
        {"ready = notify", READY_NOTIFY, NULL},
        {"ready = tcp:127.0.0.1:9000", READY_TCP, "127.0.0.1:9000"},
        {"ready = tcp:[::1]:9000", READY_TCP, "[::1]:9000"},
        {"ready = http:http://127.0.0.1:8080/health", READY_HTTP,
         "http://127.0.0.1:8080/health"},
        {"ready = exec:/bin/check --pid %p --gen %g", READY_EXEC,
         "/bin/check --pid %p --gen %g"},
        {"ready = delay:2s", READY_DELAY, "2s"},
        {"ready = dns:127.0.0.1:5353", READY_DNS, "127.0.0.1:5353"},
        {"ready = dns:[::1]:53/example.com", READY_DNS, "[::1]:53/example.com"},
    };

    for (size_t i = 0; i < N(cases); i++) {
        char text[512];
        struct config *c;

        snprintf(text, sizeof(text), MINIMAL "%s\n", cases[i].line);
        c = load_ok(text, NULL);
        assert_int_equal(c->ready, cases[i].kind);
        assert_int_equal(c->ready_set, 1);
        if (cases[i].arg == NULL)
            assert_null(c->ready_arg);
        else
            assert_string_equal(c->ready_arg, cases[i].arg);
        if (cases[i].kind == READY_DELAY)
            assert_int_equal(c->ready_delay, 2000);
        config_free(c);
    }
}

static void check_round_trip(const struct config *c);

/* A bare URL, as people type it, is http:URL; the spec keeps (and -t
 * prints) the documented form, which loads back. */
static void
ready_accepts_a_bare_http_url(void **state)
{
    char err[CONFIG_ERRLEN];
    struct config *c;

    c = load_ok(MINIMAL "ready = http://127.0.0.1:8080/healthz\n", NULL);
    assert_int_equal(c->ready, READY_HTTP);
    assert_string_equal(c->ready_arg, "http://127.0.0.1:8080/healthz");
    assert_string_equal(c->ready_spec, "http:http://127.0.0.1:8080/healthz");
    check_round_trip(c);
    config_free(c);
    c = load_ok(NULL, ARGS("-l", ":80", "--ready",
                           "http://127.0.0.1:8080/healthz?gen=%g", "x"));
    assert_int_equal(c->ready, READY_HTTP);
    assert_string_equal(c->ready_arg, "http://127.0.0.1:8080/healthz?gen=%g");
    check_round_trip(c);
    config_free(c);
    /* Still a URL that names a host. */
    assert_int_equal(load(MINIMAL "ready = http:///x\n", NULL, &c, err),
                     -EINVAL);
    assert_non_null(strstr(err, "ready: "));
    assert_int_equal(load(MINIMAL "ready = http://\n", NULL, &c, err),
                     -EINVAL);
    assert_non_null(strstr(err, "ready: "));
}

/* --- flags --------------------------------------------------------------- */

static void
args_parse_reads_flags_and_command(void **state)
{
    char *argv[] = {"handoff", "-c", "/etc/h.conf", "-t", "-V", "-h",
                    "-l", "web=:80", "--listen", "unix:/x",
                    "-n", "3", "--ready-timeout=5s", "--", "/bin/echo",
                    "-n", "hi", NULL};
    struct config_args a;
    char err[CONFIG_ERRLEN];

    assert_int_equal(config_args_parse((int)N(argv) - 1, argv, &a, err,
                                       sizeof(err)), 0);
    assert_string_equal(a.file, "/etc/h.conf");
    assert_true(a.check);
    assert_true(a.version);
    assert_true(a.help);
    assert_int_equal(a.nlisten, 2);
    assert_string_equal(a.listen[0], "web=:80");
    assert_string_equal(a.listen[1], "unix:/x");
    assert_int_equal(a.nflags, 2);
    assert_string_equal(a.flags[0].key, "processes");
    assert_string_equal(a.flags[0].value, "3");
    assert_string_equal(a.flags[1].section, "worker");
    assert_string_equal(a.flags[1].key, "ready_timeout");
    assert_string_equal(a.flags[1].value, "5s");
    assert_argv(a.argv, ARGS("/bin/echo", "-n", "hi"));
    config_args_free(&a);
}

static void
args_stop_at_first_non_option(void **state)
{
    char *argv[] = {"handoff", "-l", ":80", "nginx", "-g", "daemon off;",
                    NULL};
    struct config_args a;
    char err[CONFIG_ERRLEN];

    assert_int_equal(config_args_parse((int)N(argv) - 1, argv, &a, err,
                                       sizeof(err)), 0);
    assert_int_equal(a.nflags, 0);
    assert_argv(a.argv, ARGS("nginx", "-g", "daemon off;"));
    config_args_free(&a);
}

static void
args_parse_starts_afresh_after_error_in_cluster(void **state)
{
    /* Found by fuzz_config: getopt stopped inside "-tZq" kept its place in
     * that argv and read it again (freed, in the fuzzer) on the next parse. */
    char *bad[] = {"handoff", "-tZq", NULL};
    char *good[] = {"handoff", "-l", ":80", "--", "x", NULL};
    struct config_args a;
    char err[CONFIG_ERRLEN];

    assert_int_equal(config_args_parse((int)N(bad) - 1, bad, &a, err,
                                       sizeof(err)), -EINVAL);
    assert_int_equal(config_args_parse((int)N(good) - 1, good, &a, err,
                                       sizeof(err)), 0);
    assert_false(a.check);
    assert_int_equal(a.nlisten, 1);
    assert_argv(a.argv, ARGS("x"));
    config_args_free(&a);
}

static void
flag_values_a_file_cannot_hold_are_refused(void **state)
{
    /* Found by fuzz_config: handoff -t printed these as they were, and
     * what it printed did not load back the same. */
    static const struct {
        const char *flag, *value, *msg;
    } cases[] = {
        {"--control", " /run/h.sock", "begins or ends with a blank"},
        {"--control", "/run/h.sock\t", "begins or ends with a blank"},
        {"--directory", "/tmp ;x", "starts a comment"},
        {"--user", "root\n", "control character"},
        {"--ready", "exec:true ;false", "starts a comment"},
        {"--control", ";", "starts a comment"},
        {"--directory", ";x", "starts a comment"},
        {"-l", "unix:/tmp/a\nb", "control character"},
    };
    struct config *c;
    char err[CONFIG_ERRLEN];

    for (size_t i = 0; i < N(cases); i++) {
        const char *const args[] = {"-l", ":80", cases[i].flag,
                                    cases[i].value, "--", "x", NULL};
        assert_int_equal(load(NULL, args, &c, err), -EINVAL);
        if (strstr(err, cases[i].msg) == NULL || strncmp(err, "-", 1) != 0)
            fail_msg("%s '%s': %s", cases[i].flag, cases[i].value, err);
    }
    assert_int_equal(load("[handoff]\ncontrol = /a\x03" "b\n", ARGS("-l", ":80",
                          "--", "x"), &c, err), -EINVAL);
    assert_string_equal(err, "t.conf:2: control: holds a control character");
}

/* Found by fuzz_config: inih cuts a section header at 49 bytes, so a
 * listener name over 42 bytes read back (from -t's output) as another. */
static void
listener_names_fit_a_section_header(void **state)
{
    const char *n42 = "abcdefghijklmnopqrstuvwxyz0123456789abcdef";
    char text[256], flag[128], err[CONFIG_ERRLEN];
    struct config *c;

    assert_int_equal(strlen(n42), 42);
    snprintf(flag, sizeof(flag), "%s=127.0.0.1:0", n42);
    c = load_ok(NULL, ARGS("-l", flag, "--", "x"));
    assert_string_equal(c->listen[0].name, n42);
    check_round_trip(c);
    config_free(c);

    snprintf(flag, sizeof(flag), "%sg=127.0.0.1:0", n42);
    assert_int_equal(load(NULL, ARGS("-l", flag, "--", "x"), &c, err),
                     -EINVAL);
    assert_non_null(strstr(err, "(at most 42)"));

    snprintf(text, sizeof(text), "[listen %sg]\naddress = :80\n"
             "[worker]\ncommand = x\n", n42);
    assert_int_equal(load(text, NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf:1: listener name must be letters, "
                             "digits, '_', '.' or '-' (at most 42)");
}

static void
flags_override_file(void **state)
{
    struct config *c = load_ok(
        "[handoff]\nstop_timeout = 1s\nlog_format = json\nlog_level = warn\n"
        "[listen web]\naddress = 127.0.0.1:8080\n"
        "[worker]\ncommand = /bin/false\nprocesses = 2\npass = shim\n"
        "ready_timeout = 1s\nready_interval = 1s\ndrain_signal = TERM\n"
        "drain_timeout = 1s\nrestart = never\n",
        ARGS("-n", "5", "--pass", "protocol", "--ready", "delay:3s",
             "--ready-timeout", "7s", "--ready-interval", "50ms",
             "--drain-signal", "QUIT", "--drain-timeout", "9s", "--restart",
             "on-failure", "--stop-timeout", "11s", "--log-format", "logfmt",
             "--log-level", "debug", "-C", "/", "-u", "0", "-g", "0"));

    assert_int_equal(c->processes, 5);
    assert_int_equal(c->pass, PASS_PROTOCOL);
    assert_int_equal(c->ready, READY_DELAY);
    assert_int_equal(c->ready_delay, 3000);
    assert_int_equal(c->ready_timeout, 7000);
    assert_int_equal(c->ready_interval, 50);
    assert_int_equal(c->drain_signal, SIGQUIT);
    assert_int_equal(c->drain_timeout, 9000);
    assert_int_equal(c->restart, RESTART_ON_FAILURE);
    assert_int_equal(c->stop_timeout, 11000);
    assert_int_equal(c->log_format, LOG_LOGFMT);
    assert_int_equal(c->log_level, LOG_DEBUG);
    assert_string_equal(c->directory, "/");
    assert_string_equal(c->user, "0");
    assert_int_equal(c->uid, 0);
    assert_int_equal(c->gid, 0);
    /* Nothing replaced the file's command or listener. */
    assert_argv(c->argv, ARGS("/bin/false"));
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0].name, "web");
    config_free(c);
}

static void
listen_flag_replaces_file_listeners(void **state)
{
    struct config *c = load_ok(
        "[listen web]\naddress = 127.0.0.1:8080\n"
        "[listen admin]\naddress = 127.0.0.1:8081\n"
        "[worker]\ncommand = /bin/true\n",
        ARGS("-l", ":9090", "-l", "api=[::1]:9091", "--backlog", "77",
             "--nonblocking", "on"));

    assert_int_equal(c->nlisten, 2);
    assert_int_equal(c->listen[0].nonblocking, 1);
    assert_int_equal(c->listen[1].nonblocking, 1);
    assert_string_equal(c->listen[0].name, "listen0");
    assert_int_equal(addr_port(&c->listen[0].addr), 9090);
    assert_int_equal(c->listen[0].backlog, 77);
    assert_string_equal(c->listen[1].name, "api");
    assert_string_equal(c->listen[1].address, "[::1]:9091");
    assert_int_equal(addr_family(&c->listen[1].addr), AF_INET6);
    assert_int_equal(c->listen[1].backlog, 77);
    config_free(c);
}

/* traffic: steered by default; the flag sets it for every listener. */
static void
traffic_key_and_flag(void **state)
{
    struct config *c = load_ok(
        "[handoff]\nprobe_ports = 62000-62099\n"
        "[listen web]\naddress = 127.0.0.1:8080\ntraffic = shared\n"
        "[listen admin]\naddress = 127.0.0.1:8081\n"
        "[worker]\ncommand = /bin/true\ndrain_delay = 250ms\n", NULL);

    (void)state;
    assert_int_equal(c->listen[0].traffic, TRAFFIC_SHARED);
    assert_int_equal(c->listen[1].traffic, TRAFFIC_STEERED);
    assert_int_equal(c->probe_lo, 62000);
    assert_int_equal(c->probe_hi, 62099);
    assert_int_equal(c->drain_delay, 250);
    config_free(c);
    c = load_ok("[listen web]\naddress = 127.0.0.1:8080\n"
                "[listen admin]\naddress = 127.0.0.1:8081\ntraffic = steered\n"
                "[worker]\ncommand = /bin/true\n",
                ARGS("--traffic", "shared", "--drain-delay", "2s",
                     "--probe-ports", "1000-1063"));
    assert_int_equal(c->listen[0].traffic, TRAFFIC_SHARED);
    assert_int_equal(c->listen[1].traffic, TRAFFIC_SHARED);
    assert_int_equal(c->drain_delay, 2000);
    assert_int_equal(c->probe_lo, 1000);
    config_free(c);
    c = load_ok("[listen web]\naddress = 127.0.0.1:8080\n"
                "[worker]\ncommand = /bin/true\n", NULL);
    assert_int_equal(c->drain_delay, 1000);
    assert_int_equal(c->probe_lo, 23000);
    assert_int_equal(c->probe_hi, 23999);
    config_free(c);
}

/* flows = quic: UDP listeners only, steered; the flag sets every UDP one. */
static void
flows_key_and_flag(void **state)
{
    struct config *c =
        load_ok("[listen dns]\naddress = udp:127.0.0.1:8053\nflows = quic\n"
                "[listen web]\naddress = 127.0.0.1:8053\n"
                "[worker]\ncommand = /bin/true\n",
                NULL);
    char err[CONFIG_ERRLEN];

    (void)state;
    assert_int_equal(c->listen[0].flows, FLOWS_QUIC);
    assert_int_equal(c->listen[0].addr.dgram, 1);
    assert_int_equal(c->listen[1].flows, FLOWS_NONE);
    assert_int_equal(c->listen[1].addr.dgram, 0);
    config_free(c);
    c = load_ok(NULL, ARGS("-l", "udp:127.0.0.1:8053", "-l", "127.0.0.1:8053",
                           "--flows", "quic", "/bin/true"));
    assert_int_equal(c->listen[0].flows, FLOWS_QUIC);
    assert_int_equal(c->listen[1].flows, FLOWS_NONE);
    config_free(c);
    assert_int_not_equal(
        load("[listen web]\naddress = 127.0.0.1:8080\nflows = quic\n"
             "[worker]\ncommand = /bin/true\n",
             NULL, &c, err),
        0);
    assert_non_null(
        strstr(err, "[listen web]: flows = quic: only for udp: addresses"));
    assert_int_not_equal(
        load("[listen dns]\naddress = udp:127.0.0.1:53\nflows = quic\n"
             "traffic = shared\n[worker]\ncommand = /bin/true\n",
             NULL, &c, err),
        0);
    assert_non_null(
        strstr(err, "[listen dns]: flows = quic: needs traffic = steered"));
    assert_int_not_equal(
        load("[listen dns]\naddress = udp:127.0.0.1:53\nflows = http3\n"
             "[worker]\ncommand = /bin/true\n",
             NULL, &c, err),
        0);
    assert_non_null(strstr(err, "t.conf:3: flows: "));
}

static void
listen_flag_unix_path_with_equals_is_not_a_name(void **state)
{
    struct config *c = load_ok(NULL, ARGS("-l", "unix:/tmp/a=b.sock", "x"));

    assert_string_equal(c->listen[0].name, "listen0");
    assert_string_equal(c->listen[0].address, "unix:/tmp/a=b.sock");
    config_free(c);
}

static void
command_after_options_replaces_file_command(void **state)
{
    struct config *c = load_ok(MINIMAL,
                               ARGS("--", "/bin/echo", "a b", "--", "c"));

    assert_argv(c->argv, ARGS("/bin/echo", "a b", "--", "c"));
    config_free(c);
}

static void
env_flag_adds_to_file_environment(void **state)
{
    struct config *c = load_ok(MINIMAL "environment = A=1\n",
                               ARGS("-e", "B=2 C='x y'", "--env", "D=4"));

    assert_int_equal(c->nenv, 4);
    assert_argv(c->env, ARGS("A=1", "B=2", "C=x y", "D=4"));
    config_free(c);
}

/* --- ready and pass ------------------------------------------------------ */

static void
ready_default_follows_pass(void **state)
{
    static const struct {
        const char *pass;
        enum ready_kind ready;
    } cases[] = {
        {"shim", READY_LISTEN},
        {"protocol", READY_LISTEN},
        {"systemd", READY_NOTIFY},
        {"inherit", READY_NOTIFY},
    };

    for (size_t i = 0; i < N(cases); i++) {
        char text[256];
        struct config *c;

        snprintf(text, sizeof(text), MINIMAL "pass = %s\n", cases[i].pass);
        c = load_ok(text, NULL);
        assert_int_equal(c->ready, cases[i].ready);
        config_free(c);
        c = load_ok(NULL, ARGS("--pass", cases[i].pass, "-l", ":80", "x"));
        assert_int_equal(c->ready, cases[i].ready);
        config_free(c);
    }
}

static void
ready_listen_refused_with_pass_systemd(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load(MINIMAL "pass = systemd\nready = listen\n", NULL,
                          &c, err), -EINVAL);
    assert_non_null(strstr(err, "ready = listen needs pass = shim or protocol"));
    assert_int_equal(strncmp(err, "t.conf:", 7), 0);

    assert_int_equal(load(NULL, ARGS("--pass", "systemd", "-r", "listen", "-l",
                                     ":80", "x"), &c, err), -EINVAL);
    /* A flag is named as it was typed. */
    assert_int_equal(strncmp(err, "-r: ", 4), 0);
    assert_non_null(strstr(err, "pass is systemd"));

    assert_int_equal(load(NULL, ARGS("--pass", "inherit", "-r", "listen", "-l",
                                     ":80", "x"), &c, err), -EINVAL);

    /* The flag's pass overrides the file's, and the check sees the result. */
    assert_int_equal(load(MINIMAL "ready = listen\n", ARGS("--pass", "systemd"),
                          &c, err), -EINVAL);
    c = load_ok(MINIMAL "pass = systemd\nready = listen\n",
                ARGS("--pass", "shim"));
    assert_int_equal(c->ready, READY_LISTEN);
    config_free(c);
}

/* --- long lines ---------------------------------------------------------- */

static void
long_command_line_is_read_whole(void **state)
{
    char text[2048], word[16];
    const char *want[64];
    char words[60][16];
    size_t o, line_start;
    struct config *c;

    o = (size_t)snprintf(text, sizeof(text),
                         "[listen web]\naddress = :80\n[worker]\n");
    line_start = o;
    o += (size_t)snprintf(text + o, sizeof(text) - o, "command = /bin/echo");
    want[0] = "/bin/echo";
    for (int i = 0; i < 60; i++) {
        snprintf(word, sizeof(word), "argument%02d", i);
        snprintf(words[i], sizeof(words[i]), "%s", word);
        want[i + 1] = words[i];
        o += (size_t)snprintf(text + o, sizeof(text) - o, " %s", word);
    }
    want[61] = NULL;
    o += (size_t)snprintf(text + o, sizeof(text) - o,
                          "   ; a comment that is not part of it\n");
    assert_true(o - line_start > 600);
    o += (size_t)snprintf(text + o, sizeof(text) - o, "processes = 3\n");

    c = load_ok(text, NULL);
    assert_argv(c->argv, want);
    assert_int_equal(c->processes, 3);
    config_free(c);
}

static void
long_line_keeps_quotes_and_line_numbers(void **state)
{
    char text[2048], big[400];
    struct config *c;
    char err[CONFIG_ERRLEN];

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(text, sizeof(text),
             "[listen web]\n"                       /* 1 */
             "address = :80\n"                      /* 2 */
             "[worker]\n"                           /* 3 */
             "command = /bin/sh -c 'echo %s;x'\n"   /* 4 */
             "; %s\n"                               /* 5: a long comment */
             "processes = none\n",                  /* 6 */
             big, big);
    assert_int_equal(load(text, NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf:6: processes: bad number \"none\" "
                             "(expected 1 to 4096)");

    snprintf(text, sizeof(text),
             "[listen web]\naddress = :80\n[worker]\n"
             "command = /bin/sh -c 'echo %s;x'\n; %s\n",
             big, big);
    c = load_ok(text, NULL);
    assert_int_equal(strlen(c->argv[2]), strlen(big) + 7);
    assert_int_equal(strncmp(c->argv[2], "echo qqq", 8), 0);
    assert_string_equal(c->argv[2] + strlen(c->argv[2]) - 3, "q;x");
    assert_null(c->argv[3]);
    config_free(c);
}

static void
long_environment_line_is_read_whole(void **state)
{
    char text[2048], val[300];
    struct config *c;

    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    snprintf(text, sizeof(text), MINIMAL "environment = BIG=%s SMALL=1\n",
             val);
    c = load_ok(text, NULL);
    assert_int_equal(c->nenv, 2);
    assert_int_equal(strlen(c->env[0]), 4 + strlen(val));
    assert_string_equal(c->env[1], "SMALL=1");
    config_free(c);
}

/* --- bad input ----------------------------------------------------------- */

/*
 * Each text is refused with a message that starts with prefix (the file,
 * the line and the key) and holds what, if given.
 */
static const struct {
    const char *text;
    const char *prefix;
    const char *what;
} bad_files[] = {
    {"[handoff]\nstop_timeout = 5x\n", "t.conf:2: stop_timeout: ", "bad duration"},
    {"[handoff]\nstop_timeout = -1s\n", "t.conf:2: stop_timeout: ", "bad duration"},
    {"[handoff]\nstop_timeout =\n", "t.conf:2: stop_timeout: ", NULL},
    {"[handoff]\nlog_format = xml\n", "t.conf:2: log_format: ", "\"xml\": expected logfmt or json"},
    {"[handoff]\nlog_level = verbose\n", "t.conf:2: log_level: ", "expected error, warn, info or debug"},
    {"[handoff]\nlog_level = INFO\n", "t.conf:2: log_level: ", NULL},
    {"[handoff]\nbogus = 1\n", "t.conf:2: bogus: ", "unknown key in [handoff]"},
    {"[listen web]\naddress = 1.2.3.4:99999\n", "t.conf:2: address: ", "port"},
    {"[listen web]\naddress = unix:rel.sock\n", "t.conf:2: address: ", "absolute"},
    {"[listen web]\naddress = ::1:80\n", "t.conf:2: address: ", "brackets"},
    {"[listen web]\naddress = example.com:80\n", "t.conf:2: address: ", NULL},
    {"[listen web]\naddress = 80\n", "t.conf:2: address: ", NULL},
    {"[listen web]\nbacklog = 0\n", "t.conf:2: backlog: ", "bad number \"0\" (expected 1 to 65535)"},
    {"[listen web]\nbacklog = 65536\n", "t.conf:2: backlog: ", NULL},
    {"[listen web]\nbacklog = lots\n", "t.conf:2: backlog: ", NULL},
    {"[listen web]\nmode = 0999\n", "t.conf:2: mode: ", "octal"},
    {"[listen web]\nmode = rw-rw----\n", "t.conf:2: mode: ", NULL},
    {"[listen web]\nbogus = 1\n", "t.conf:2: bogus: ", "unknown key in [listen]"},
    {"[listen web]\nnonblocking = maybe\n", "t.conf:2: nonblocking: ", "expected yes or no"},
    {"[listen web]\nnonblocking = YES\n", "t.conf:2: nonblocking: ", NULL},
    {"[listen web]\ntraffic = proxied\n", "t.conf:2: traffic: ", "expected steered or shared"},
    {"[handoff]\nprobe_ports = 61000\n", "t.conf:2: probe_ports: ", "bad port range"},
    {"[handoff]\nprobe_ports = 61000-61010\n", "t.conf:2: probe_ports: ", "at least 64 ports"},
    {"[handoff]\nprobe_ports = 62000-61000\n", "t.conf:2: probe_ports: ", NULL},
    {"[handoff]\nprobe_ports = 0-100\n", "t.conf:2: probe_ports: ", NULL},
    {"[handoff]\nprobe_ports = 65500-65600\n", "t.conf:2: probe_ports: ", NULL},
    {"[worker]\ndrain_delay = soon\n", "t.conf:2: drain_delay: ", "bad duration"},
    {"[worker]\ncommand = 'unterminated\n", "t.conf:2: command: ", "unterminated '"},
    {"[worker]\ncommand = a \"b\n", "t.conf:2: command: ", "unterminated \""},
    {"[worker]\ncommand = trailing\\\n", "t.conf:2: command: ", "trailing backslash"},
    {"[worker]\ncommand =\n", "t.conf:2: command: ", "empty command"},
    {"[worker]\nprocesses = 0\n", "t.conf:2: processes: ", "expected 1 to 4096"},
    {"[worker]\nprocesses = 4097\n", "t.conf:2: processes: ", NULL},
    {"[worker]\nprocesses = two\n", "t.conf:2: processes: ", NULL},
    {"[worker]\nprocesses = 2.5\n", "t.conf:2: processes: ", NULL},
    {"[worker]\npass = magic\n", "t.conf:2: pass: ", "expected shim, systemd, inherit or protocol"},
    {"[worker]\nready = bogus\n", "t.conf:2: ready: ", "unknown readiness"},
    {"[worker]\nready = tcp\n", "t.conf:2: ready: ", "needs an argument"},
    {"[worker]\nready = http\n", "t.conf:2: ready: ", "needs an argument"},
    {"[worker]\nready = listen:x\n", "t.conf:2: ready: ", "takes no argument"},
    {"[worker]\nready = notify:x\n", "t.conf:2: ready: ", "takes no argument"},
    {"[worker]\nready = tcp:localhost\n", "t.conf:2: ready: ", "expected tcp:HOST:PORT"},
    {"[worker]\nready = tcp:127.0.0.1:0\n", "t.conf:2: ready: ", "expected tcp:HOST:PORT"},
    {"[worker]\nready = tcp:unix:/x.sock\n", "t.conf:2: ready: ", "expected tcp:HOST:PORT"},
    {"[worker]\nready = http:ftp://x/\n", "t.conf:2: ready: ", "expected http:"},
    {"[worker]\nready = http:http:///x\n", "t.conf:2: ready: ", "expected http:"},
    {"[worker]\nready = exec:'unterminated\n", "t.conf:2: ready: ", "unterminated '"},
    {"[worker]\nready = dns\n", "t.conf:2: ready: ", "needs an argument"},
    {"[worker]\nready = dns:\n", "t.conf:2: ready: ", "expected dns:HOST:PORT[/NAME]"},
    {"[worker]\nready = dns:host\n", "t.conf:2: ready: ", "expected dns:HOST:PORT[/NAME]"},
    {"[worker]\nready = dns:1.2.3.4:99999\n", "t.conf:2: ready: ", "port 1-65535"},
    {"[worker]\nready = dns:127.0.0.1:53/a..b\n", "t.conf:2: ready: ", "empty label"},
    {"[worker]\nguard = dns:127.0.0.1:53/a..b\n", "t.conf:2: guard: ", "empty label"},
    {"[worker]\nguard = dns:1.2.3.4:99999\n", "t.conf:2: guard: ", "port 1-65535"},
    {"[worker]\nready = delay:5y\n", "t.conf:2: ready: ", "bad duration"},
    {"[worker]\nready_timeout = soon\n", "t.conf:2: ready_timeout: ", "bad duration"},
    {"[worker]\nready_interval = 1x\n", "t.conf:2: ready_interval: ", "bad duration"},
    {"[worker]\ndrain_signal = SIGFOO\n", "t.conf:2: drain_signal: ", "unknown signal"},
    {"[worker]\ndrain_signal = 0\n", "t.conf:2: drain_signal: ", "bad signal"},
    {"[worker]\ndrain_signal = 32\n", "t.conf:2: drain_signal: ", NULL},
    {"[worker]\ndrain_timeout = 1.5s\n", "t.conf:2: drain_timeout: ", "bad duration"},
    {"[worker]\nrestart = sometimes\n", "t.conf:2: restart: ", "expected always, on-failure or never"},
    {"[worker]\nenvironment = 1BAD=x\n", "t.conf:2: environment: ", NULL},
    {"[worker]\nenvironment = NOEQUALS\n", "t.conf:2: environment: ", "KEY=value"},
    {"[worker]\nenvironment = A=1 B-C=2\n", "t.conf:2: environment: ", "B-C=2"},
    {"[worker]\nenvironment = 'A=open\n", "t.conf:2: environment: ", "unterminated '"},
    {"[worker]\nbogus = 1\n", "t.conf:2: bogus: ", "unknown key in [worker]"},
    {"[worker]\nstop_timeout = 1s\n", "t.conf:2: stop_timeout: ", "unknown key in [worker]"},
    {"[handoff]\ncommand = /bin/true\n", "t.conf:2: command: ", "unknown key in [handoff]"},
    {"stop_timeout = 1s\n", "t.conf:1: stop_timeout: ", "outside a section"},
    /* The line number counts comments, blank lines and earlier sections. */
    {"; comment\n\n# another\n[handoff]\n  stop_timeout = 1s\n\n"
     "[worker]\nprocesses = 2\n; x\nprocesses = nope\n",
     "t.conf:10: processes: ", NULL},
    {"[listen web]\naddress = :80\n[listen web2]\naddress = :81\n"
     "[listen bad]\naddress = :82\nbacklog = -5\n",
     "t.conf:7: backlog: ", NULL},
    /* Errors without a key: FILE:LINE: what; a section's names its header. */
    {"[handoff]\nthis is not ini\n", "t.conf:2: ", "syntax error"},
    {"[handoff\nx = 1\n", "t.conf:1: ", "syntax error"},
    {"[listen bad/name]\naddress = :80\n", "t.conf:1: ", "listener name"},
    {"[listen web]\naddress = :80\n[worker]\nprocesses = 1\n"
     "[listen web]\naddress = :81\n",
     "t.conf:5: ", "listener \"web\" defined twice"},
    {"[listen web]\naddress = :80\n[listen web]\naddress = :81\n",
     "t.conf:3: ", "listener \"web\" defined twice"},
    {"[handoff]\nstop_timeout = 1s\n\n[server]\nport = 1\n",
     "t.conf:4: ", "unknown section [server]"},
};

static void
bad_file_names_file_line_and_key(void **state)
{
    size_t failed = 0;

    for (size_t i = 0; i < N(bad_files); i++) {
        struct config *c;
        char err[CONFIG_ERRLEN];
        int rc = load(bad_files[i].text, NULL, &c, err);

        if (rc != -EINVAL) {
            print_error("case %zu accepted (rc %d): %s\n", i, rc,
                        bad_files[i].text);
            config_free(c);
            failed++;
            continue;
        }
        if (strncmp(err, bad_files[i].prefix, strlen(bad_files[i].prefix)) != 0 ||
            (bad_files[i].what && strstr(err, bad_files[i].what) == NULL)) {
            print_error("case %zu: got \"%s\", want \"%s...%s\"\n", i, err,
                        bad_files[i].prefix,
                        bad_files[i].what ? bad_files[i].what : "");
            failed++;
        }
    }
    assert_int_equal(failed, 0);
    assert_true(N(bad_files) >= 30);
}

static void
unknown_section_is_refused(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load("[handoff]\nstop_timeout = 1s\n[server]\nport = 1\n",
                          NULL, &c, err), -EINVAL);
    assert_int_equal(strncmp(err, "t.conf:3: unknown section [server]", 34),
                     0);
}

/* Flags with a bad value: the message names the flag. */
static const struct {
    const char *args[8];
    const char *prefix;
} bad_flags[] = {
    {{"--ready-timeout", "soon"}, "--ready-timeout: bad duration"},
    {{"--ready-timeout", "0"}, "--ready-timeout: "},
    {{"--ready-interval", "5ms"}, "--ready-interval: "},
    {{"--drain-timeout", "1.5s"}, "--drain-timeout: bad duration"},
    {{"--stop-timeout", "x"}, "--stop-timeout: bad duration"},
    {{"--drain-signal", "SIGFOO"}, "--drain-signal: unknown signal"},
    {{"--drain-signal", "KILL"}, "--drain-signal: "},
    {{"--drain-signal", "SIGSTOP"}, "--drain-signal: "},
    {{"--pass", "magic"}, "--pass: "},
    {{"--ready", "bogus"}, "--ready: unknown readiness"},
    {{"-r", "tcp:nowhere"}, "-r: "},
    {{"--ready", "dns:host"}, "--ready: \"dns:host\": "},
    {{"--guard", "dns:"}, "--guard: \"dns:\": "},
    {{"--restart", "sometimes"}, "--restart: "},
    {{"--log-format", "xml"}, "--log-format: "},
    {{"--log-level", "loud"}, "--log-level: "},
    {{"-e", "1X=2"}, "-e: "},
    {{"--env", "NOEQ"}, "--env: "},
    {{"-C", "/nonexistent/handoff-test"}, "-C: "},
    {{"--backlog", "0"}, "--backlog: "},
    {{"--nonblocking", "2"}, "--nonblocking: "},
    {{"--traffic", "both"}, "--traffic: "},
    {{"--probe-ports", "1-2"}, "--probe-ports: "},
    {{"--drain-delay", "x"}, "--drain-delay: "},
    {{"-l", "1.2.3.4:99999"}, "-l: "},
    {{"-l", "bad/name=:81"}, "-l: "},
    {{"-l", "web=:81", "-l", "web=:82"}, "-l: listener \"web\" defined twice"},
    {{"-l", ":81", "-l", "0.0.0.0:81"}, "-l: "},
    {{"--bogus", "1"}, "--bogus: unknown flag"},
    {{"-x"}, "-x: unknown flag"},
};

static void
bad_flag_names_the_flag(void **state)
{
    size_t failed = 0;

    for (size_t i = 0; i < N(bad_flags); i++) {
        const char *args[16];
        size_t n = 0;
        struct config *c;
        char err[CONFIG_ERRLEN];
        int rc;

        for (; bad_flags[i].args[n]; n++)
            args[n] = bad_flags[i].args[n];
        /* A listener and a command, unless the case is about them. */
        if (strcmp(args[0], "-l") != 0) {
            args[n++] = "-l";
            args[n++] = ":8080";
        }
        args[n++] = "/bin/true";
        args[n] = NULL;
        rc = load(NULL, args, &c, err);
        if (rc != -EINVAL) {
            print_error("case %zu (%s) accepted, rc %d\n", i, args[0], rc);
            config_free(c);
            failed++;
        } else if (strncmp(err, bad_flags[i].prefix,
                           strlen(bad_flags[i].prefix)) != 0) {
            print_error("case %zu: got \"%s\", want \"%s...\"\n", i, err,
                        bad_flags[i].prefix);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

static void
unknown_user_or_group_flag_names_the_flag(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load(NULL, ARGS("-u", "no-such-user-handoff", "-l", ":80",
                                     "x"), &c, err), -EINVAL);
    assert_string_equal(err, "-u: no such user \"no-such-user-handoff\"");
    assert_int_equal(load(NULL, ARGS("-g", "no-such-group-handoff", "-l",
                                     ":80", "x"), &c, err), -EINVAL);
    assert_string_equal(err,
                        "-g: no such group \"no-such-group-handoff\"");
}

static void
short_flag_errors_name_the_flag(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load(NULL, ARGS("-n"), &c, err), -EINVAL);
    assert_string_equal(err, "-n: needs a value");
    assert_int_equal(load(NULL, ARGS("-n", "0", "-l", ":80", "x"), &c, err),
                     -EINVAL);
    /* The flag by either of its names. */
    if (strncmp(err, "-n: ", 4) != 0 && strncmp(err, "--processes: ", 13) != 0)
        fail_msg("\"%s\" names no flag", err);
    assert_non_null(strstr(err, "expected 1 to 4096"));
}

static void
missing_listener_or_command_is_refused(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load(NULL, ARGS("/bin/true"), &c, err), -EINVAL);
    assert_non_null(strstr(err, "no listener"));
    assert_int_equal(load(NULL, ARGS("-l", ":80"), &c, err), -EINVAL);
    assert_non_null(strstr(err, "no command"));
    assert_int_equal(load("[worker]\ncommand = x\n", NULL, &c, err), -EINVAL);
    assert_int_equal(strncmp(err, "t.conf: no listener", 19), 0);
    assert_int_equal(load("[listen web]\naddress = :80\n", NULL, &c, err),
                     -EINVAL);
    assert_int_equal(strncmp(err, "t.conf: no command", 18), 0);
    assert_int_equal(load("[listen web]\nbacklog = 5\n[worker]\ncommand = x\n",
                          NULL, &c, err), -EINVAL);
    assert_non_null(strstr(err, "[listen web]: address: missing"));
}

static void
mode_on_tcp_listener_is_refused(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load("[listen web]\naddress = :80\nmode = 0600\n"
                          "[worker]\ncommand = x\n", NULL, &c, err), -EINVAL);
    assert_non_null(strstr(err, "mode: only for unix"));
}

static void
unix_listener_owner_and_group(void **state)
{
    struct config *c = load_ok("[listen web]\naddress = :80\n"
                               "[listen sock]\naddress = unix:/run/h.sock\n"
                               "owner = root\ngroup = 0\n"
                               "[listen other]\naddress = unix:/run/o.sock\n"
                               "group = root\n"
                               "[worker]\ncommand = x\n", NULL);
    char err[CONFIG_ERRLEN];

    assert_string_equal(c->listen[0].owner, "");
    assert_int_equal(c->listen[0].uid, (uid_t)-1);
    assert_int_equal(c->listen[0].gid, (gid_t)-1);
    assert_string_equal(c->listen[1].owner, "root");
    assert_string_equal(c->listen[1].group, "0");
    assert_int_equal(c->listen[1].uid, 0);
    assert_int_equal(c->listen[1].gid, 0);
    /* group alone changes the group only; [worker]'s group is another key. */
    assert_int_equal(c->listen[2].uid, (uid_t)-1);
    assert_int_equal(c->listen[2].gid, 0);
    assert_null(c->group);
    config_free(c);

    assert_int_equal(load("[listen web]\naddress = :80\nowner = root\n"
                          "[worker]\ncommand = x\n", NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf: [listen web]: owner: only for unix: "
                             "addresses");
    assert_int_equal(load("[listen web]\naddress = :80\ngroup = root\n"
                          "[worker]\ncommand = x\n", NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf: [listen web]: group: only for unix: "
                             "addresses");
    assert_int_equal(load("[listen s]\naddress = unix:/x\n"
                          "owner = no-such-user-here\n[worker]\ncommand = x\n",
                          NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf: [listen s]: owner: no such user "
                             "\"no-such-user-here\"");
    assert_int_equal(load("[listen s]\naddress = unix:/x\n"
                          "group = no-such-group-here\n[worker]\ncommand = x\n",
                          NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf: [listen s]: group: no such group "
                             "\"no-such-group-here\"");
    assert_int_equal(load("[listen s]\naddress = unix:/x\nowner =\n"
                          "[worker]\ncommand = x\n", NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf:3: owner: empty value");
}

static void
duplicate_listener_name_is_refused(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load("[listen web]\naddress = :80\n[worker]\ncommand = x\n"
                          "[listen web]\naddress = :81\n", NULL, &c, err),
                     -EINVAL);
    assert_non_null(strstr(err, "listener \"web\" defined twice"));
    assert_int_equal(load(NULL, ARGS("-l", "a=:80", "-l", "a=:81", "x"), &c,
                          err), -EINVAL);
    assert_string_equal(err, "-l: listener \"a\" defined twice");
}

static void
duplicate_listener_address_is_refused(void **state)
{
    struct config *c;
    char err[CONFIG_ERRLEN];

    assert_int_equal(load("[listen a]\naddress = :80\n[listen b]\n"
                          "address = 0.0.0.0:80\n[worker]\ncommand = x\n",
                          NULL, &c, err), -EINVAL);
    assert_non_null(strstr(err, "is also [listen a]"));
    /* Port 0 asks for a fresh port each: not a duplicate. */
    c = load_ok(NULL, ARGS("-l", "127.0.0.1:0", "-l", "127.0.0.1:0", "x"));
    assert_int_equal(c->nlisten, 2);
    config_free(c);
}

/*
 * Errors found after the whole file was read should still name the line
 * and key that caused them, as every other error in the file does.
 */
static void
validation_errors_in_file_name_line_and_key(void **state)
{
    static const struct {
        const char *line, *prefix;
    } cases[] = {
        {"drain_signal = SIGKILL", "t.conf:5: drain_signal: "},
        {"drain_signal = STOP", "t.conf:5: drain_signal: "},
        {"ready_timeout = 0", "t.conf:5: ready_timeout: "},
        {"ready_interval = 5ms", "t.conf:5: ready_interval: "},
        {"directory = /nonexistent/handoff-test", "t.conf:5: directory: "},
        {"user = no-such-user-handoff", "t.conf:5: user: "},
        {"group = no-such-group-handoff", "t.conf:5: group: "},
    };
    size_t failed = 0;

    for (size_t i = 0; i < N(cases); i++) {
        char text[256], err[CONFIG_ERRLEN];
        struct config *c;

        snprintf(text, sizeof(text), MINIMAL "%s\nprocesses = 1\n",
                 cases[i].line);
        if (load(text, NULL, &c, err) != -EINVAL) {
            print_error("\"%s\" accepted\n", cases[i].line);
            config_free(c);
            failed++;
        } else if (strncmp(err, cases[i].prefix, strlen(cases[i].prefix))) {
            print_error("\"%s\": got \"%s\", want \"%s...\"\n", cases[i].line,
                        err, cases[i].prefix);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* A flag's value refused by validation is the flag's fault, not the file's. */
static void
validation_error_from_flag_names_the_flag_with_file(void **state)
{
    static const struct {
        const char *flag, *value;
    } cases[] = {
        {"--drain-signal", "KILL"},
        {"--ready-timeout", "0"},
        {"--ready-interval", "1ms"},
        {"--directory", "/nonexistent/handoff-test"},
        {"--user", "no-such-user-handoff"},
    };
    size_t failed = 0;

    for (size_t i = 0; i < N(cases); i++) {
        char err[CONFIG_ERRLEN];
        struct config *c;
        size_t n = strlen(cases[i].flag);

        if (load(MINIMAL, ARGS(cases[i].flag, cases[i].value), &c, err) !=
            -EINVAL) {
            print_error("%s %s accepted\n", cases[i].flag, cases[i].value);
            config_free(c);
            failed++;
        } else if (strncmp(err, cases[i].flag, n) != 0 || err[n] != ':') {
            print_error("%s %s: got \"%s\"\n", cases[i].flag, cases[i].value,
                        err);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* --- config_print -------------------------------------------------------- */

static void
assert_same_config(const struct config *a, const struct config *b)
{
    assert_int_equal(a->stop_timeout, b->stop_timeout);
    assert_int_equal(a->log_format, b->log_format);
    assert_int_equal(a->log_level, b->log_level);
    if (a->control != NULL)
        assert_string_equal(a->control, b->control);
    else
        assert_null(b->control);
    assert_int_equal(a->nlisten, b->nlisten);
    for (size_t i = 0; i < a->nlisten; i++) {
        assert_string_equal(a->listen[i].name, b->listen[i].name);
        assert_true(addr_equal(&a->listen[i].addr,
                               (const struct sockaddr *)&b->listen[i].addr.ss,
                               b->listen[i].addr.len));
        assert_int_equal(a->listen[i].backlog, b->listen[i].backlog);
        assert_int_equal(a->listen[i].mode, b->listen[i].mode);
        assert_int_equal(a->listen[i].nonblocking, b->listen[i].nonblocking);
        assert_int_equal(a->listen[i].traffic, b->listen[i].traffic);
        assert_string_equal(a->listen[i].owner, b->listen[i].owner);
        assert_string_equal(a->listen[i].group, b->listen[i].group);
        assert_int_equal(a->listen[i].uid, b->listen[i].uid);
        assert_int_equal(a->listen[i].gid, b->listen[i].gid);
    }
    assert_argv(b->argv, (const char *const *)a->argv);
    assert_int_equal(a->processes, b->processes);
    assert_int_equal(a->pass, b->pass);
    assert_int_equal(a->ready, b->ready);
    if (a->ready_arg != NULL)
        assert_string_equal(a->ready_arg, b->ready_arg);
    else
        assert_null(b->ready_arg);
    assert_int_equal(a->ready_delay, b->ready_delay);
    assert_int_equal(a->ready_timeout, b->ready_timeout);
    assert_int_equal(a->ready_interval, b->ready_interval);
    assert_int_equal(a->drain_signal, b->drain_signal);
    assert_int_equal(a->drain_timeout, b->drain_timeout);
    assert_int_equal(a->drain_delay, b->drain_delay);
    assert_int_equal(a->probe_lo, b->probe_lo);
    assert_int_equal(a->probe_hi, b->probe_hi);
    assert_int_equal(a->restart, b->restart);
    if (a->directory != NULL)
        assert_string_equal(a->directory, b->directory);
    else
        assert_null(b->directory);
    if (a->user != NULL)
        assert_string_equal(a->user, b->user);
    else
        assert_null(b->user);
    if (a->group != NULL)
        assert_string_equal(a->group, b->group);
    else
        assert_null(b->group);
    assert_int_equal(a->uid, b->uid);
    assert_int_equal(a->gid, b->gid);
    assert_int_equal(a->nenv, b->nenv);
    assert_argv(b->env, (const char *const *)a->env);
}

/* Print c, load the text back and compare. */
static void
check_round_trip(const struct config *c)
{
    char *text = NULL, err[CONFIG_ERRLEN];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct config *back;

    assert_non_null(f);
    config_print(c, f);
    fclose(f);
    if (load(text, NULL, &back, err) != 0)
        fail_msg("printed configuration refused: %s\n%s", err, text);
    assert_same_config(c, back);
    config_free(back);
    free(text);
}

/* control: a path or none from the file, the flag wins, a path too long for
 * a unix socket names its line or the flag; parse_only reads a file that
 * could not run (the client's -c FILE). */
static void
control_key_and_flag(void **state)
{
    char text[512], err[CONFIG_ERRLEN], longpath[120];
    struct config *c = load_ok(MINIMAL, NULL);
    struct config_args a = {.parse_only = 1};
    FILE *f;

    assert_null(c->control);
    config_free(c);
    c = load_ok("[handoff]\ncontrol = /run/app.sock\n" MINIMAL, NULL);
    assert_string_equal(c->control, "/run/app.sock");
    check_round_trip(c);
    config_free(c);
    c = load_ok("[handoff]\ncontrol = /run/app.sock\n" MINIMAL,
                ARGS("--control", "none"));
    assert_string_equal(c->control, "none");
    config_free(c);

    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    snprintf(text, sizeof(text), "[handoff]\ncontrol = %s\n" MINIMAL, longpath);
    assert_int_equal(load(text, NULL, &c, err), -EINVAL);
    assert_string_equal(err, "t.conf:2: control: path too long for a unix "
                             "socket (at most 107 bytes)");
    assert_int_equal(load(MINIMAL, ARGS("--control", longpath), &c, err),
                     -EINVAL);
    assert_true(strncmp(err, "--control: ", 11) == 0);

    /* No listener, no command: only the client reads it, for control. */
    f = fmemopen((void *)"[handoff]\ncontrol = /x.sock\n", 28, "r");
    assert_non_null(f);
    assert_int_equal(config_load_stream(f, "c.conf", &a, &c, err,
                                        CONFIG_ERRLEN), 0);
    fclose(f);
    assert_string_equal(c->control, "/x.sock");
    config_free(c);
}

static void
print_round_trips_every_key(void **state)
{
    struct config *c = load_ok(
        "[handoff]\nstop_timeout = 1500ms\nlog_format = json\nlog_level = debug\n"
        "[listen web]\naddress = 0.0.0.0:8080\nbacklog = 100\n"
        "[listen v6]\naddress = [::1]:8443\nnonblocking = true\n"
        "[listen sock]\naddress = unix:/tmp/handoff-rt.sock\nmode = 0600\n"
        "owner = root\ngroup = 0\n"
        "[worker]\n"
        "command = /bin/sh -c 'echo \"$HOME\" it'\\''s' '' \\\\ a\\ b\n"
        "processes = 3\npass = protocol\nready = exec:/bin/check %p %g\n"
        "ready_timeout = 90s\nready_interval = 20ms\ndrain_signal = QUIT\n"
        "drain_timeout = 3m\nrestart = never\ndirectory = /tmp\n"
        "user = root\ngroup = root\n"
        "environment = A=1 'B=two words' C=\"q\\\"uote\" D=$x\n",
        NULL);

    assert_argv(c->argv, ARGS("/bin/sh", "-c", "echo \"$HOME\" it's", "",
                              "\\", "a b"));
    check_round_trip(c);
    config_free(c);
}

static void
print_round_trips_defaults_and_flags(void **state)
{
    struct config *c = load_ok(NULL, ARGS("-l", ":80", "-l", "b=unix:/tmp/b",
                                          "--pass", "systemd", "--", "srv",
                                          "--opt=#1", "semi;colon"));

    check_round_trip(c);
    config_free(c);
    c = load_ok(NULL, ARGS("-l", ":80", "-r", "delay:1500ms", "x"));
    check_round_trip(c);
    config_free(c);
    c = load_ok(NULL, ARGS("-l", ":80", "-r",
                           "http:http://127.0.0.1:80/ready?x=1", "x"));
    check_round_trip(c);
    config_free(c);
}

static void
print_round_trips_word_with_blank_before_semicolon(void **state)
{
    /* "; " after a blank starts an inline comment in the file syntax. */
    struct config *c = load_ok(NULL, ARGS("-l", ":80", "--", "/bin/sh", "-c",
                                          "sleep 1 ; exec srv"));

    check_round_trip(c);
    config_free(c);
}

static void
print_round_trips_words_ending_in_blanks_and_control_chars(void **state)
{
    /* Found by fuzz_config: "x " printed as "x\\ " lost its blank (inih trims
     * it) and left a trailing backslash; \v \f \r at a line's end too. */
    struct config *c = load_ok(NULL, ARGS("-l", ":80", "-e", "A='x '",
                                          "--", "/bin/echo", "1 ", "a\tb",
                                          "\v", "c\r", "\f ;d"));

    check_round_trip(c);
    config_free(c);
}

/*
 * A reload's configuration changing keys read at start only: each named,
 * and the running values put back, so that the next reload compares with
 * what runs.
 */
static void
start_only_keys_are_named_and_kept(void **state)
{
    const char *const a[] = {"-l", ":1", "--control", "/tmp/a.sock", "--",
                             "true", NULL};
    const char *const b[] = {"-l", ":1", "--control", "/tmp/b.sock",
                             "--metrics", "127.0.0.1:0", "--probe-ports",
                             "20000-20999", "--", "true", NULL};
    struct config *running = load_ok(NULL, a), *next = load_ok(NULL, b);
    const char *keys[3];

    (void)state;
    assert_int_equal(config_keep_start_keys(running, next, keys, 3), 3);
    assert_string_equal(keys[0], "control");
    assert_string_equal(keys[1], "metrics");
    assert_string_equal(keys[2], "probe_ports");
    assert_string_equal(next->control, "/tmp/a.sock");
    assert_null(next->metrics);
    assert_int_equal(next->probe_lo, running->probe_lo);
    assert_int_equal(next->probe_hi, running->probe_hi);
    /* Now the same: nothing to say. */
    assert_int_equal(config_keep_start_keys(running, next, keys, 3), 0);
    config_free(running);
    config_free(next);
}

/* Lines inih would split at ':', or that lack their '=', are refused. */
static void
colon_and_missing_equals_are_refused(void **state)
{
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"[worker]\nprocesses: 3\n", "t.conf:2: \"processes:\": expected key = value"},
        {"[listen a]\naddress 127.0.0.1:80\n", "t.conf:2: expected key = value: no '=' after \"address\""},
        {"[listen a]\n  address\t127.0.0.1:80\n", "t.conf:2: expected key = value: no '=' after \"address\""},
    };
    char err[CONFIG_ERRLEN];
    struct config *c;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(load(bad[i].text, NULL, &c, err), -EINVAL);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("\"%s\": said \"%s\", not \"%s\"", bad[i].text, err,
                     bad[i].says);
    }
    /* ':' in a value, or in a comment, is no separator. */
    config_free(load_ok("[listen a]\naddress = 127.0.0.1:80 ; a:b\n; x: y\n"
                        "[worker]\ncommand = true\nready = tcp:127.0.0.1:80\n",
                        NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_without_file),
        cmocka_unit_test(defaults_with_minimal_file),
        cmocka_unit_test(handoff_section_keys),
        cmocka_unit_test(listen_section_keys),
        cmocka_unit_test(worker_section_keys),
        cmocka_unit_test(ready_accepts_every_kind),
        cmocka_unit_test(ready_accepts_a_bare_http_url),
        cmocka_unit_test(args_parse_reads_flags_and_command),
        cmocka_unit_test(args_stop_at_first_non_option),
        cmocka_unit_test(flags_override_file),
        cmocka_unit_test(listen_flag_replaces_file_listeners),
        cmocka_unit_test(traffic_key_and_flag),
        cmocka_unit_test(flows_key_and_flag),
        cmocka_unit_test(listen_flag_unix_path_with_equals_is_not_a_name),
        cmocka_unit_test(command_after_options_replaces_file_command),
        cmocka_unit_test(env_flag_adds_to_file_environment),
        cmocka_unit_test(ready_default_follows_pass),
        cmocka_unit_test(ready_listen_refused_with_pass_systemd),
        cmocka_unit_test(long_command_line_is_read_whole),
        cmocka_unit_test(long_line_keeps_quotes_and_line_numbers),
        cmocka_unit_test(long_environment_line_is_read_whole),
        cmocka_unit_test(bad_file_names_file_line_and_key),
        cmocka_unit_test(unknown_section_is_refused),
        cmocka_unit_test(bad_flag_names_the_flag),
        cmocka_unit_test(unknown_user_or_group_flag_names_the_flag),
        cmocka_unit_test(short_flag_errors_name_the_flag),
        cmocka_unit_test(missing_listener_or_command_is_refused),
        cmocka_unit_test(mode_on_tcp_listener_is_refused),
        cmocka_unit_test(unix_listener_owner_and_group),
        cmocka_unit_test(duplicate_listener_name_is_refused),
        cmocka_unit_test(duplicate_listener_address_is_refused),
        cmocka_unit_test(validation_errors_in_file_name_line_and_key),
        cmocka_unit_test(validation_error_from_flag_names_the_flag_with_file),
        cmocka_unit_test(control_key_and_flag),
        cmocka_unit_test(print_round_trips_every_key),
        cmocka_unit_test(print_round_trips_defaults_and_flags),
        cmocka_unit_test(print_round_trips_word_with_blank_before_semicolon),
        cmocka_unit_test(args_parse_starts_afresh_after_error_in_cluster),
        cmocka_unit_test(
            print_round_trips_words_ending_in_blanks_and_control_chars),
        cmocka_unit_test(flag_values_a_file_cannot_hold_are_refused),
        cmocka_unit_test(listener_names_fit_a_section_header),
        cmocka_unit_test(start_only_keys_are_named_and_kept),
        cmocka_unit_test(colon_and_missing_equals_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
