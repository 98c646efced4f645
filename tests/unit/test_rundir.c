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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* The socket file, as notify_open() makes it (the socket closed: only
 * the file matters here). */
static void
make_socket_file(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_true(strlen(notify) < sizeof(sun.sun_path));
    strcpy(sun.sun_path, notify);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
}

/* A root file the workers' user would like to own: path in base. */
static void
make_victim(char *path, size_t size, const char *name)
{
    int fd;

    snprintf(path, size, "%s/%s", base, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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

/* The directory is the workers' user's: it may replace the socket with a
 * link to a root file, or with a regular file (a hard link's stand-in):
 * neither changes owner, and the directory still goes to the user. */
static void
rundir_own_never_follows_what_replaced_the_socket(void **state)
{
    char victim[PATH_MAX + 16];
    struct config c;
    struct stat st;
    int rc;

    (void)state;
    if (geteuid() != 0)
        skip(); /* giving files away needs root */
    memset(&c, 0, sizeof(c));
    c.user = "someone";
    c.uid = 4242;
    c.gid = 4343;
    make_victim(victim, sizeof(victim), "shadow");
    unlink(notify);
    assert_int_equal(symlink(victim, notify), 0);
    rc = rundir_own(dir, notify, &c);
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_gid, 0);
    assert_int_equal(rc, -ENOTSOCK);
    assert_int_equal(lstat(notify, &st), 0);
    assert_int_equal(st.st_uid, 0); /* not even the link */
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_uid, 4242);
    unlink(notify);
    /* A file with the socket's name that is no socket. */
    assert_int_equal(link(victim, notify), 0);
    rc = rundir_own(dir, notify, &c);
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(rc, -ENOTSOCK);
    unlink(notify);
    unlink(victim);
}

/* Where the base is /tmp, the owner of handoff.XXXXXX may rename it and
 * put a link to a root directory in its place. */
static void
rundir_own_never_follows_what_replaced_the_directory(void **state)
{
    char moved[PATH_MAX + 8], target[PATH_MAX + 8];
    struct config c;
    struct stat st;
    int rc;

    (void)state;
    if (geteuid() != 0)
        skip();
    memset(&c, 0, sizeof(c));
    c.user = "someone";
    c.uid = 4242;
    c.gid = 4343;
    snprintf(target, sizeof(target), "%s/etc", base);
    assert_int_equal(mkdir(target, 0755), 0);
    snprintf(moved, sizeof(moved), "%s.moved", dir);
    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(symlink(target, dir), 0);
    rc = rundir_own(dir, notify, &c);
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_true(rc == -ENOTDIR || rc == -ELOOP); /* O_PATH says ENOTDIR */
    assert_int_equal(unlink(dir), 0);
    assert_int_equal(rename(moved, dir), 0);
    rmdir(target);
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
        cmocka_unit_test(rundir_own_never_follows_what_replaced_the_socket),
        cmocka_unit_test(rundir_own_never_follows_what_replaced_the_directory),
        cmocka_unit_test(rundir_passes_over_an_unusable_base),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
