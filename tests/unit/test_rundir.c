/* test_rundir.c: NOTIFY_SOCKET's private directory and whom it belongs to. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"

static char base[PATH_MAX];
static char dir[PATH_MAX], notify[PATH_MAX];

static int
setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "%s/test_rundir.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(base) == NULL)
        return -1;
    setenv("RUNTIME_DIRECTORY", base, 1);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(notify);
    rmdir(dir);
    rmdir(base);
    return 0;
}

/* The socket as a plain file: chown() treats both alike. */
static void
make_socket_file(void)
{
    int fd = open(notify, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    close(fd);
}

static void
rundir_is_private_in_runtime_directory(void **state)
{
    struct stat st;

    (void)state;
    assert_int_equal(rundir_make(dir, sizeof(dir), notify, sizeof(notify)), 0);
    assert_int_equal(strncmp(dir, base, strlen(base)), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_string_equal(notify + strlen(dir), "/notify");
}

static void
rundir_without_user_is_the_masters(void **state)
{
    struct config c;
    struct stat st;

    (void)state;
    memset(&c, 0, sizeof(c));
    make_socket_file();
    assert_int_equal(rundir_own(dir, notify, &c), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(stat(notify, &st), 0);
    assert_int_equal(st.st_gid, getegid());
}

static void
rundir_follows_the_user_of_each_roll(void **state)
{
    struct config c;
    struct stat st;

    (void)state;
    if (geteuid() != 0)
        skip(); /* giving files away needs root */
    memset(&c, 0, sizeof(c));
    c.user = "someone";
    c.uid = 4242;
    c.gid = 4343;
    assert_int_equal(rundir_own(dir, notify, &c), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_uid, 4242);
    assert_int_equal(st.st_gid, 4343);
    assert_int_equal(stat(notify, &st), 0);
    assert_int_equal(st.st_uid, 4242);
    /* A reload drops user: the master's own again. */
    c.user = NULL;
    assert_int_equal(rundir_own(dir, notify, &c), 0);
    assert_int_equal(stat(notify, &st), 0);
    assert_int_equal(st.st_uid, 0);
}

static void
rundir_own_reports_errors(void **state)
{
    struct config c;

    (void)state;
    memset(&c, 0, sizeof(c));
    unlink(notify);
    /* The socket not made yet is no error; a missing directory is. */
    assert_int_equal(rundir_own(dir, notify, &c), 0);
    assert_int_equal(rundir_own("/nonexistent/handoff.x", notify, &c), -ENOENT);
}

static void
rundir_passes_over_an_unusable_base(void **state)
{
    char d[PATH_MAX], n[PATH_MAX];
    char longbase[200];

    (void)state;
    /* A base that is missing (and too long for a socket path) is passed
     * over for the next. */
    memset(longbase, 'x', sizeof(longbase) - 1);
    longbase[0] = '/';
    longbase[sizeof(longbase) - 1] = '\0';
    setenv("RUNTIME_DIRECTORY", longbase, 1);
    if (rundir_make(d, sizeof(d), n, sizeof(n)) == 0) {
        assert_int_not_equal(strncmp(d, longbase, 10), 0);
        rmdir(d);
    } else {
        assert_string_equal(d, "");
    }
    setenv("RUNTIME_DIRECTORY", base, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rundir_is_private_in_runtime_directory),
        cmocka_unit_test(rundir_without_user_is_the_masters),
        cmocka_unit_test(rundir_follows_the_user_of_each_roll),
        cmocka_unit_test(rundir_own_reports_errors),
        cmocka_unit_test(rundir_passes_over_an_unusable_base),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
