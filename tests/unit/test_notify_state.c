/* test_notify_state.c: the workers' NOTIFY_SOCKET and handoff's own written and
 * taken over from the same descriptors as after an upgrade's exec: messages
 * still arrive, READY=1 still reaches the service manager, bad descriptors and
 * documents refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "handle.h"
#include "notify_state.h"
#include "sdnotify_state.h"

/* What an exec carries: the document as text, read back. */
static json_t *
through_text(json_t *doc)
{
    char *s;
    json_t *back;

    assert_non_null(doc);
    s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(s);
    back = json_loads(s, JSON_DECODE_ANY, NULL);
    assert_non_null(back);
    free(s);
    json_decref(doc);
    return back;
}

static int
cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    assert_true(fl >= 0);
    return (fl & FD_CLOEXEC) != 0;
}

static void
must_contain(const char *err, const char *want)
{
    if (strstr(err, want) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err, want);
}

/* A datagram socket bound at path (SO_PASSCRED if passcred). */
static int
bound_dgram(const char *path, int passcred)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

    assert_true(fd >= 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (passcred)
        assert_int_equal(
            setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/* A number free now. */
static int
closed_fd(void)
{
    int fd = dup(0);

    assert_true(fd >= 0);
    close(fd);
    return fd;
}

/* --- notify ----------------------------------------------------------------
 */

struct got {
    int n;
    pid_t pid;
    struct notify_msg msg;
};

static void
on_msg(void *ctx, pid_t pid, const struct notify_msg *msg)
{
    struct got *g = ctx;

    g->n++;
    g->pid = pid;
    g->msg = *msg;
}

static void
never(void *ctx, pid_t pid, const struct notify_msg *msg)
{
    (void)ctx;
    (void)pid;
    (void)msg;
    fail_msg("a message reached the old image's callback");
}

/* The old image let go as an exec does: its poll handle and memory gone,
 * its socket open (a poll handle does not own its descriptor). */
static void
forget_notify(uv_loop_t *loop, struct notify *n)
{
    handle_close(n->poll);
    free(n);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* A child sends text to path and exits: its pid. */
static pid_t
send_from_child(const char *path, const char *text)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
        _exit(sendto(fd, text, strlen(text), 0, (struct sockaddr *)&sun,
                     sizeof(sun)) < 0);
    }
    return pid;
}

/* Run loop until g has a message, at most 5 s. */
static void
run_until_message(uv_loop_t *loop, struct got *g)
{
    for (int i = 0; i < 500 && g->n == 0; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (g->n == 0)
            usleep(10000);
    }
}

struct nfix {
    char dir[64], path[96];
    uv_loop_t loop;
    struct notify *n;
};

static void
notify_fix(struct nfix *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/handoff-nstate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(notify_open(&f->loop, f->path, never, NULL, &f->n), 0);
}

static void
notify_unfix(struct nfix *f)
{
    notify_close(f->n);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(rmdir(f->dir), 0);
}

/*
 * Written, kept across the exec, the old image's handle gone, adopted from
 * the document: a worker's READY=1 sent to the same path reaches the new
 * callback with the worker's pid, and one sent while no image polled (as
 * during the exec) waits in the queue and is read too.
 */
static void
notify_round_trip(void **state)
{
    struct nfix f;
    struct notify *n = NULL;
    struct got g = {0};
    char err[256] = "";
    json_t *doc;
    pid_t early, late;
    int fd, status;

    (void)state;
    notify_fix(&f);
    fd = f.n->fd;
    doc = through_text(notify_state_write(f.n));
    assert_string_equal(json_string_value(json_object_get(doc, "path")),
                        f.path);
    assert_int_equal(notify_state_inherit(f.n, 1), 0);
    assert_false(cloexec(fd));
    forget_notify(&f.loop, f.n);
    f.n = NULL;
    early = send_from_child(f.path, "STATUS=during the exec\n");
    assert_int_equal(waitpid(early, &status, 0), early);
    assert_int_equal(status, 0);
    if (notify_state_adopt(&f.loop, doc, on_msg, &g, &n, err, sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    assert_int_equal(n->fd, fd);
    assert_string_equal(n->path, f.path);
    assert_true(cloexec(fd)); /* set back */
    run_until_message(&f.loop, &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.pid, early);
    assert_string_equal(g.msg.status, "during the exec");
    late = send_from_child(f.path, "READY=1\nSTATUS=warm\n");
    g.n = 0;
    run_until_message(&f.loop, &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.pid, late);
    assert_int_equal(g.msg.ready, 1);
    assert_string_equal(g.msg.status, "warm");
    assert_int_equal(waitpid(late, &status, 0), late);
    json_decref(doc);
    f.n = n;
    notify_unfix(&f); /* removes the file: the adopted path is right */
}

/* doc with its "fd" set to fd (-1: unchanged) is refused with want in the
 * message; nothing adopted, the kept socket still kept. */
static void
notify_refused(struct nfix *f, json_t *doc, int fd, const char *want)
{
    struct notify *out = (struct notify *)f;
    char err[256] = "";

    if (fd >= 0)
        json_object_set_new(doc, "fd", json_integer(fd));
    assert_int_equal(notify_state_inherit(f->n, 1), 0);
    assert_int_equal(
        notify_state_adopt(&f->loop, doc, on_msg, NULL, &out, err, sizeof(err)),
        -EINVAL);
    assert_null(out);
    must_contain(err, want);
    assert_false(cloexec(f->n->fd)); /* as the exec left it */
    assert_int_equal(notify_state_inherit(f->n, 0), 0);
}

static void
notify_refusals(void **state)
{
    struct nfix f;
    char other[128], want[320];
    json_t *doc;
    int p[2], s;

    (void)state;
    notify_fix(&f);
    doc = notify_state_write(f.n);
    notify_refused(&f, doc, closed_fd(), "notify: fd ");
    notify_refused(&f, doc, closed_fd(), " is not open");
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    notify_refused(&f, doc, p[0], "is not a socket");
    close(p[0]);
    close(p[1]);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    notify_refused(&f, doc, s, "is not a datagram socket");
    close(s);
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    notify_refused(&f, doc, s, "is not a unix socket (IPv4)");
    close(s);
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    snprintf(want, sizeof(want), "notify: fd %d is not bound (to %s)", s,
             f.path);
    notify_refused(&f, doc, s, want);
    close(s);
    snprintf(other, sizeof(other), "%s/other", f.dir);
    s = bound_dgram(other, 1);
    snprintf(want, sizeof(want), "notify: fd %d is bound to %s, not %s", s,
             other, f.path);
    notify_refused(&f, doc, s, want);
    /* At the path, but another socket: the file was replaced. */
    json_object_set_new(doc, "path", json_string(other));
    notify_refused(&f, doc, s, "another socket than the one recorded");
    /* Unknown cookie ("0"): every other check still made. */
    close(s);
    unlink(other);
    s = bound_dgram(other, 0);
    json_object_set_new(doc, "cookie", json_string("0"));
    notify_refused(&f, doc, s, "has no SO_PASSCRED");
    close(s);
    unlink(other);
    json_decref(doc);
    doc = notify_state_write(f.n);
    json_object_del(doc, "path");
    notify_refused(&f, doc, -1, "notify: path: missing");
    json_object_set_new(doc, "path", json_string("notify"));
    notify_refused(&f, doc, -1, "notify: path: \"notify\" is not an absolute");
    json_object_set_new(doc, "path", json_string(f.path));
    json_object_set_new(doc, "fd", json_integer(-3));
    notify_refused(&f, doc, -1, "notify: fd: -3 is not one of 0..");
    json_decref(doc);
    notify_unfix(&f);
}

/* --- sdnotify --------------------------------------------------------------
 */

/* Read a datagram from fd within 5 s into buf. */
static void
receive(int fd, char *buf, size_t size)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t n;

    assert_int_equal(poll(&pfd, 1, 5000), 1);
    n = recv(fd, buf, size - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
}

/*
 * handoff started with NOTIFY_SOCKET=value, written, the old image let go
 * as an exec does (its memory, not its socket), adopted: READY=1 reaches
 * the socket standing for systemd.
 */
static void
sd_round_trip(const char *value, int systemd)
{
    struct sdnotify *n = NULL, *m = NULL;
    char err[256] = "", buf[512];
    json_t *doc;
    int fd;

    assert_int_equal(setenv("NOTIFY_SOCKET", value, 1), 0);
    assert_int_equal(sdnotify_open(&n), 0);
    assert_non_null(n);
    assert_null(getenv("NOTIFY_SOCKET")); /* the new image cannot find it */
    fd = n->fd;
    doc = through_text(sdnotify_state_write(n));
    assert_string_equal(json_string_value(json_object_get(doc, "address")),
                        value);
    assert_int_equal(sdnotify_state_inherit(n, 1), 0);
    assert_false(cloexec(fd));
    free(n); /* forgotten, fd open */
    if (sdnotify_state_adopt(doc, &m, err, sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    assert_int_equal(m->fd, fd);
    assert_true(cloexec(fd));
    sdnotify_roll_ended(m, 1, 2, 1, NULL);
    receive(systemd, buf, sizeof(buf));
    assert_string_equal(buf, "READY=1\nSTATUS=gen 1 active, 2 processes; "
                             "last roll promoted");
    json_decref(doc);
    sdnotify_close(m);
}

static void
sdnotify_round_trip(void **state)
{
    char dir[] = "/tmp/handoff-sdstate-XXXXXX", path[96], abs[64];
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int systemd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/systemd-notify", dir);
    systemd = bound_dgram(path, 0);
    sd_round_trip(path, systemd);
    close(systemd);
    unlink(path);
    /* An abstract address: its length says where it ends. */
    snprintf(abs, sizeof(abs), "@handoff-sdstate-%d", (int)getpid());
    systemd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memcpy(sun.sun_path + 1, abs + 1, strlen(abs) - 1);
    assert_int_equal(
        bind(systemd, (struct sockaddr *)&sun,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(abs))),
        0);
    sd_round_trip(abs, systemd);
    close(systemd);
    assert_int_equal(rmdir(dir), 0);
}

/* No NOTIFY_SOCKET: null written, nothing adopted. */
static void
sdnotify_none(void **state)
{
    struct sdnotify *n = (struct sdnotify *)state;
    char err[64] = "";
    json_t *doc = sdnotify_state_write(NULL);

    assert_true(json_is_null(doc));
    assert_int_equal(sdnotify_state_inherit(NULL, 1), 0);
    assert_int_equal(sdnotify_state_adopt(doc, &n, err, sizeof(err)), 0);
    assert_null(n);
    json_decref(doc);
}

static void
sd_refused(json_t *doc, int fd, const char *want)
{
    struct sdnotify *out = (struct sdnotify *)doc;
    char err[256] = "";

    if (fd >= 0)
        json_object_set_new(doc, "fd", json_integer(fd));
    assert_int_equal(sdnotify_state_adopt(doc, &out, err, sizeof(err)),
                     -EINVAL);
    assert_null(out);
    must_contain(err, want);
}

static void
sdnotify_refusals(void **state)
{
    char dir[] = "/tmp/handoff-sdstate-XXXXXX", path[96], want[256];
    struct sdnotify *n = NULL;
    json_t *doc;
    int p[2], s;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/bound", dir);
    assert_int_equal(setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1), 0);
    assert_int_equal(sdnotify_open(&n), 0);
    assert_int_equal(sdnotify_state_inherit(n, 1), 0);
    doc = sdnotify_state_write(n);
    sd_refused(doc, closed_fd(), "sdnotify: fd ");
    sd_refused(doc, closed_fd(), " is not open");
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    sd_refused(doc, p[1], "is not a socket");
    close(p[0]);
    close(p[1]);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sd_refused(doc, s, "is not a datagram socket");
    close(s);
    s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sd_refused(doc, s, "is not a unix socket (IPv6)");
    close(s);
    s = bound_dgram(path, 0); /* another socket: it has an address */
    snprintf(want, sizeof(want), "sdnotify: fd %d is bound to %s, not unbound",
             s, path);
    sd_refused(doc, s, want);
    close(s);
    unlink(path);
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* unbound, not ours */
    sd_refused(doc, s, "another socket than the one recorded");
    close(s);
    json_object_set_new(doc, "fd", json_integer(n->fd));
    json_object_set_new(doc, "address", json_string("run/notify"));
    sd_refused(doc, -1,
               "sdnotify: address: \"run/notify\" is not a "
               "NOTIFY_SOCKET address");
    json_object_set_new(doc, "address", json_string("/run/systemd/notify"));
    json_object_set_new(doc, "warned", json_integer(2));
    sd_refused(doc, -1, "sdnotify: warned: 2 is not one of 0..1");
    json_decref(doc);
    doc = json_string("/run/systemd/notify");
    sd_refused(doc, -1, "sdnotify: neither null nor an object");
    json_decref(doc);
    assert_false(cloexec(n->fd)); /* untouched by every refusal */
    sdnotify_close(n);
    assert_int_equal(rmdir(dir), 0);
}

/*
 * Every field of struct notify and struct sdnotify is carried or named
 * as not carried in notify_state.h and sdnotify_state.h, and the round
 * trips above compare what is. A field added changes their size (on this
 * 64-bit build): carry it, then set the new figure here.
 */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct notify), 144);
    assert_int_equal(sizeof(struct sdnotify), 124);
#else
    skip();
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(notify_round_trip),
        cmocka_unit_test(notify_refusals),
        cmocka_unit_test(sdnotify_round_trip),
        cmocka_unit_test(sdnotify_none),
        cmocka_unit_test(sdnotify_refusals),
        cmocka_unit_test(every_field_is_carried),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
