/* test_worker.c: the variables a worker starts with, per pass mode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not "config.h": the build directory's autoconf header has that name. */
#include "../../supervisor/config.h"
#include "listener.h"
#include "worker.h"

/* Two TCP listeners and a unix one, as a [listen NAME] section makes them. */
static struct listener web, admin, sock;
static struct listener *three[] = {&web, &admin, &sock};

static void
listener_set(struct listener *l, const char *name, const char *address)
{
    char err[128];

    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    assert_int_equal(addr_parse(address, &l->bound, err, sizeof(err)), 0);
    snprintf(l->bound_text, sizeof(l->bound_text), "%s", address);
    l->fd = -1;
}

/* The value of name in env, or NULL. */
static const char *
get(char **env, const char *name)
{
    size_t n = strlen(name);

    for (; env && *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* The environment of a worker of generation 2 with nls of the listeners. */
static char **
env_for(enum pass_mode pass, size_t nls, char **base)
{
    static struct config c;
    struct plan p = {.cfg = &c, .ls = three, .nls = nls};
    int lpid, wpid;
    char **env;

    memset(&c, 0, sizeof(c));
    c.pass = pass;
    listener_set(&web, "web", "127.0.0.1:8080");
    listener_set(&admin, "admin", "[::1]:9090");
    listener_set(&sock, "sock", "unix:/run/app.sock");
    env = worker_env(base, &p, 2, -1, "/run/handoff/notify", 3 + (int)nls, NULL,
                     &lpid, &wpid);
    assert_int_equal(wpid, -1); /* no watchdog = */
    assert_non_null(env);
    if (pass == PASS_SYSTEMD || pass == PASS_INHERIT)
        assert_string_equal(env[lpid], "LISTEN_PID=");
    return env;
}

static void
inherit_announces_every_convention(void **state)
{
    char **env = env_for(PASS_INHERIT, 3, NULL);

    assert_string_equal(get(env, "LISTEN_FDS"), "3");
    assert_string_equal(get(env, "LISTEN_FDNAMES"), "web:admin:sock");
    assert_string_equal(get(env, "SERVER_STARTER_PORT"),
                        "127.0.0.1:8080=3;[::1]:9090=4;/run/app.sock=5");
    assert_string_equal(get(env, "EINHORN_FD_COUNT"), "3");
    assert_string_equal(get(env, "EINHORN_FD_0"), "3");
    assert_string_equal(get(env, "EINHORN_FD_2"), "5");
    assert_string_equal(get(env, "HANDOFF_FD"), "6");
    worker_env_free(env);
}

/* nginx ignores a last number that has no ';' after it. */
static void
nginx_gets_every_fd_terminated(void **state)
{
    char **env = env_for(PASS_INHERIT, 3, NULL);

    assert_string_equal(get(env, "NGINX"), "3;4;5;");
    worker_env_free(env);
    env = env_for(PASS_INHERIT, 1, NULL);
    assert_string_equal(get(env, "NGINX"), "3;");
    worker_env_free(env);
}

static void
gunicorn_gets_fds_between_commas(void **state)
{
    char **env = env_for(PASS_INHERIT, 3, NULL);

    assert_string_equal(get(env, "GUNICORN_FD"), "3,4,5");
    assert_null(get(env, "GUNICORN_PID"));
    worker_env_free(env);
    env = env_for(PASS_INHERIT, 1, NULL);
    assert_string_equal(get(env, "GUNICORN_FD"), "3");
    worker_env_free(env);
}

/* systemd mode is socket activation and nothing more. */
static void
systemd_announces_only_socket_activation(void **state)
{
    char **env = env_for(PASS_SYSTEMD, 2, NULL);

    assert_string_equal(get(env, "LISTEN_FDS"), "2");
    assert_null(get(env, "NGINX"));
    assert_null(get(env, "GUNICORN_FD"));
    assert_null(get(env, "SERVER_STARTER_PORT"));
    assert_null(get(env, "EINHORN_FD_COUNT"));
    worker_env_free(env);
}

/*
 * A value handoff itself was started with (say by an nginx binary upgrade
 * or a gunicorn) would name fds that the worker does not have: it is
 * dropped in every mode, and replaced in inherit.
 */
static void
inherited_values_never_pass_through(void **state)
{
    char *base[] = {"NGINX=7;8;", "GUNICORN_FD=7", "PATH=/usr/bin", NULL};
    char **env = env_for(PASS_SHIM, 1, base);

    assert_null(get(env, "NGINX"));
    assert_null(get(env, "GUNICORN_FD"));
    assert_string_equal(get(env, "PATH"), "/usr/bin");
    worker_env_free(env);
    env = env_for(PASS_INHERIT, 1, base);
    assert_string_equal(get(env, "NGINX"), "3;");
    assert_string_equal(get(env, "GUNICORN_FD"), "3");
    worker_env_free(env);
}

/* watchdog = gives WATCHDOG_USEC in µs and a WATCHDOG_PID entry that spawn
 * completes with the child's pid; the master's own (from its systemd) are
 * not passed on. */
static void
watchdog_announced_as_systemd_does(void **state)
{
    static struct config c;
    struct plan p = {.cfg = &c};
    char *base[] = {"WATCHDOG_USEC=30000000", "WATCHDOG_PID=1", NULL};
    int lpid, wpid;
    char **env;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.pass = PASS_SHIM;
    env = worker_env(base, &p, 2, -1, "/n", 3, NULL, &lpid, &wpid);
    assert_non_null(env);
    assert_null(get(env, "WATCHDOG_USEC"));
    assert_null(get(env, "WATCHDOG_PID"));
    assert_int_equal(wpid, -1);
    worker_env_free(env);
    c.liveness.watchdog = 1500;
    env = worker_env(base, &p, 2, -1, "/n", 3, NULL, &lpid, &wpid);
    assert_non_null(env);
    assert_string_equal(get(env, "WATCHDOG_USEC"), "1500000");
    assert_true(wpid >= 0);
    assert_string_equal(env[wpid], "WATCHDOG_PID=");
    assert_int_equal(lpid, -1);
    worker_env_free(env);
}

/* A stop's exit code: the worker's, except 130 for one that died of the
 * drain after a Ctrl-C (SIGINT), which reached it directly before it had a
 * process group of its own. */
static void
stop_code_after_ctrl_c_is_130(void **state)
{
    (void)state;
    assert_int_equal(reap_stop_code(SIGTERM, SIGTERM, SIGINT), 130);
    assert_int_equal(reap_stop_code(SIGQUIT, SIGQUIT, SIGINT), 130);
    assert_int_equal(reap_stop_code(SIGTERM, SIGTERM, SIGTERM), 143);
    assert_int_equal(reap_stop_code(SIGKILL, SIGTERM, SIGINT), 137);
    assert_int_equal(reap_stop_code(7 << 8, SIGTERM, SIGINT), 7);
    assert_int_equal(reap_stop_code(0, SIGTERM, SIGINT), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inherit_announces_every_convention),
        cmocka_unit_test(nginx_gets_every_fd_terminated),
        cmocka_unit_test(gunicorn_gets_fds_between_commas),
        cmocka_unit_test(systemd_announces_only_socket_activation),
        cmocka_unit_test(inherited_values_never_pass_through),
        cmocka_unit_test(stop_code_after_ctrl_c_is_130),
        cmocka_unit_test(watchdog_announced_as_systemd_does),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
