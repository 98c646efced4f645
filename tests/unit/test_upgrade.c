/* test_upgrade.c: the image replaced in the same process: the document, the fds and a signal sent meanwhile reach the new image; every refusal leaves everything as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deploy.h"
#include "gens_state.h"
#include "metrics_state.h"
#include "plan.h"
#include "source.h"
#include "state.h"
#include "steer_state.h"
#include "upgrade.h"

static char self[PATH_MAX];

/* --- the images this binary is run as ---------------------------------- */

/* --upgrade-check: the real check, or one that takes its time. */
static int
as_check(void)
{
    if (getenv("TEST_CHECK_SLEEP") != NULL)
        sleep(5);
    return upgrade_check(stdin, stdout, stderr);
}

/*
 * "after PID FD": the new image. Its pid is the old one's, the document is
 * handed over (and its variable gone), FD is open, every signal blocked and
 * the SIGUSR2 sent before the exec waits. Exit 0, or which check failed.
 */
static int
as_after(char **argv)
{
    char err[256];
    sigset_t mask, pending;
    json_t *doc = upgrade_take(err, sizeof(err));
    int code = 0;

    if (doc == NULL)
        code = 10;
    else if (json_integer_value(json_object_get(doc, "pid")) != getpid())
        code = 11;
    else if (getenv(UPGRADE_FD_ENV) != NULL)
        code = 12;
    else if (fcntl(atoi(argv[3]), F_GETFD) < 0)
        code = 13;
    json_decref(doc);
    sigprocmask(SIG_SETMASK, NULL, &mask);
    sigpending(&pending);
    if (code == 0 &&
        (!sigismember(&mask, SIGTERM) || !sigismember(&mask, SIGCHLD)))
        code = 14;
    if (code == 0 && !sigismember(&pending, SIGUSR2))
        code = 15;
    if (code == 0 && atoi(argv[2]) != getpid())
        code = 16;
    return code;
}

/* --- the old image's side ---------------------------------------------- */

struct world {
    int busy;
    int keep_fd; /* to hand over */
    int ons, offs;
    const char *unexec; /* made not executable just before the execve */
    int version;        /* of the document written */
};

static int
busy(void *arg, char *why, size_t len)
{
    struct world *w = arg;

    if (w->busy)
        snprintf(why, len, "gen 2: a roll is under way");
    return w->busy;
}

static json_t *
write_doc(void *arg)
{
    struct world *w = arg;
    struct deploy d;
    struct gens t;
    struct steer_plan sp;
    struct metrics_data data;
    char *av[] = {"handoff", "-l", "127.0.0.1:0", "--", "/bin/true", NULL};
    struct config_args args;
    struct config *cfg;
    char err[256], *text;
    size_t len;
    json_t *doc;

    deploy_init(&d);
    doc = state_write(&d);
    /* The parts the check reads beside the core: a master of one listener
     * and no generation yet. */
    memset(&t, 0, sizeof(t));
    memset(&data, 0, sizeof(data));
    steer_plan_init(&sp, 0, 0);
    if (config_args_parse(5, av, &args, err, sizeof(err)) < 0 ||
        source_load(&args, &cfg, &text, &len, err, sizeof(err)) < 0 ||
        plan_new(cfg, NULL, 0, &t.plan, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    t.plan->id = t.next_id = 1;
    json_object_set_new(
        doc, "argv",
        json_pack("[s,s,s,s,s]", av[0], av[1], av[2], av[3], av[4]));
    json_object_set_new(doc, "gens", gens_state_write(&t));
    gens_free(&t);
    config_args_free(&args);
    json_object_set_new(doc, "steering", steer_state_write(&sp));
    json_object_set_new(doc, "metrics_data", metrics_state_write_data(&data));
    json_object_set_new(doc, "pid", json_integer(getpid()));
    if (w->version)
        json_object_set_new(doc, "version", json_integer(w->version));
    return doc;
}

static int
inherit(void *arg, int on)
{
    struct world *w = arg;

    if (on) {
        w->ons++;
        /* A signal that comes while the exec happens. */
        raise(SIGUSR2);
        if (w->unexec != NULL)
            chmod(w->unexec, 0644);
        return fcntl(w->keep_fd, F_SETFD, 0) < 0 ? -errno : 0;
    }
    w->offs++;
    return fcntl(w->keep_fd, F_SETFD, FD_CLOEXEC) < 0 ? -errno : 0;
}

static struct upgrade_ops ops = {busy, write_doc, inherit, NULL};

static void
the_new_image_gets_the_state_the_fds_and_the_signals(void **state)
{
    pid_t pid;
    int status, sv[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    if ((pid = fork()) == 0) {
        struct world w = {.keep_fd = sv[0]};
        struct upgrade_ops o = ops;
        char why[256], pids[16], fds[16];
        char *argv[] = {self, "after", pids, fds, NULL};

        o.arg = &w;
        snprintf(pids, sizeof(pids), "%d", (int)getpid());
        snprintf(fds, sizeof(fds), "%d", sv[0]);
        upgrade_exec(&o, self, argv, UPGRADE_TIMEOUT_MS, why, sizeof(why));
        fprintf(stderr, "upgrade_exec returned: %s\n", why);
        _exit(90);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the new image: status %#x (10: no document, 11: another "
                 "pid, 12: variable left, 13: fd closed, 14: signals not "
                 "blocked, 15: SIGUSR2 lost, 90: not executed)",
                 status);
    close(sv[0]);
    close(sv[1]);
}

/* upgrade_exec with w, which must return rc with why containing want. */
static void
refused(struct world *w, const char *binary, uint64_t timeout, int rc,
        const char *want)
{
    struct upgrade_ops o = ops;
    char why[256] = "", *argv[] = {(char *)binary, "after", "0", "0", NULL};
    sigset_t before, after;

    o.arg = w;
    sigprocmask(SIG_SETMASK, NULL, &before);
    assert_int_equal(upgrade_exec(&o, binary, argv, timeout, why, sizeof(why)),
                     rc);
    if (strstr(why, want) == NULL)
        fail_msg("refused with \"%s\", not \"%s\"", why, want);
    /* Nothing left changed: the mask, the environment, the fds. */
    sigprocmask(SIG_SETMASK, NULL, &after);
    assert_int_equal(sigismember(&after, SIGTERM),
                     sigismember(&before, SIGTERM));
    assert_null(getenv(UPGRADE_FD_ENV));
    assert_int_equal(w->ons, w->offs);
    if (w->keep_fd >= 0)
        assert_int_equal(fcntl(w->keep_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

static void
refusals_change_nothing(void **state)
{
    char dir[] = "/tmp/test_upgrade.XXXXXX", copy[PATH_MAX + 32];
    char cmd[3 * PATH_MAX];
    struct world w = {.keep_fd = -1};
    sigset_t usr2;

    (void)state;
    /* The SIGUSR2 the inherit callback raises stays blocked, then
     * discarded: these execs never happen. */
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, NULL);
    w.keep_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    w.busy = 1;
    refused(&w, self, 1000, -EBUSY, "gen 2: a roll is under way");
    w.busy = 0;
    refused(&w, "/nonexistent/handoff", 1000, -ENOENT, "No such file");
    refused(&w, "/tmp", 1000, -EACCES, "/tmp: not a file");
    refused(&w, "/bin/true", 1000, -EPROTO,
            "exits 0 without \"" UPGRADE_ACCEPTED);
    refused(&w, "/bin/false", 1000, -EPROTO, "refused the state (exit 1)");
    w.version = STATE_VERSION + 1;
    refused(&w, self, UPGRADE_TIMEOUT_MS, -EPROTO,
            "state format 2 written by handoff");
    w.version = 0;
    setenv("TEST_CHECK_SLEEP", "1", 1);
    refused(&w, self, 200, -ETIMEDOUT, "did not answer within 200 ms");
    unsetenv("TEST_CHECK_SLEEP");
    assert_non_null(mkdtemp(dir));
    /* A script, whatever it says: handoff is a compiled program. */
    snprintf(copy, sizeof(copy), "%s/handoff.sh", dir);
    snprintf(cmd, sizeof(cmd),
             "printf '#!/bin/sh\\necho \"%s9\"\\n' >%s && chmod +x %s",
             UPGRADE_ACCEPTED, copy, copy);
    assert_int_equal(system(cmd), 0);
    refused(&w, copy, 1000, -ENOEXEC, "not an ELF executable");
    unlink(copy);
    /* A build anyone may write: what runs as handoff is not its own. */
    snprintf(copy, sizeof(copy), "%s/handoff-open", dir);
    snprintf(cmd, sizeof(cmd), "cp %s %s", self, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(chmod(copy, 0777), 0);
    refused(&w, copy, 1000, -EPERM, "writable by others");
    unlink(copy);
    /* Accepted, then the execve fails: every fd and the mask put back. */
    snprintf(copy, sizeof(copy), "%s/handoff", dir);
    snprintf(cmd, sizeof(cmd), "cp %s %s", self, copy);
    assert_int_equal(system(cmd), 0);
    w.unexec = copy;
    refused(&w, copy, UPGRADE_TIMEOUT_MS, -EACCES, "Permission denied");
    assert_int_equal(w.ons, 1);
    unlink(copy);
    rmdir(dir);
    close(w.keep_fd);
    signal(SIGUSR2, SIG_IGN); /* the pending one discarded */
    sigprocmask(SIG_UNBLOCK, &usr2, NULL);
    signal(SIGUSR2, SIG_DFL);
}

static void
no_upgrade_no_document(void **state)
{
    char err[64] = "x";

    (void)state;
    unsetenv(UPGRADE_FD_ENV);
    assert_null(upgrade_take(err, sizeof(err)));
    assert_string_equal(err, "");
    setenv(UPGRADE_FD_ENV, "1", 1);
    assert_null(upgrade_take(err, sizeof(err)));
    assert_non_null(strstr(err, "not a descriptor"));
    assert_null(getenv(UPGRADE_FD_ENV));
}

static void
the_binary_is_looked_up_as_started(void **state)
{
    char out[PATH_MAX], cwd[PATH_MAX];

    (void)state;
    assert_int_equal(upgrade_binary("/usr/sbin/handoff", out, sizeof(out)), 0);
    assert_string_equal(out, "/usr/sbin/handoff");
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(upgrade_binary("./handoff", out, sizeof(out)), 0);
    assert_true(strncmp(out, cwd, strlen(cwd)) == 0);
    setenv("PATH", "/nonexistent:/bin", 1);
    assert_int_equal(upgrade_binary("sh", out, sizeof(out)), 0);
    assert_string_equal(out, "/bin/sh");
    assert_int_equal(upgrade_binary("no-such-handoff", out, sizeof(out)),
                     -ENOENT);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_new_image_gets_the_state_the_fds_and_the_signals),
        cmocka_unit_test(refusals_change_nothing),
        cmocka_unit_test(no_upgrade_no_document),
        cmocka_unit_test(the_binary_is_looked_up_as_started),
    };
    ssize_t n;

    if (argc > 1 && strcmp(argv[1], UPGRADE_CHECK_FLAG) == 0)
        return as_check();
    if (argc > 3 && strcmp(argv[1], "after") == 0)
        return as_after(argv);
    if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
        return 1;
    self[n] = '\0';
    return cmocka_run_group_tests(tests, NULL, NULL);
}
