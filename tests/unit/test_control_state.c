/* test_control_state.c: the control socket and the metrics endpoint written
 * and taken over from the same listening sockets as after an upgrade's exec: a
 * status request and a scrape answered by the new image, bad descriptors and
 * documents refused, the counters carried exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "control_state.h"
#include "handle.h"
#include "metrics_state.h"
#include "view.h"

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
must_contain(const char *s, const char *want)
{
    if (strstr(s, want) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", s, want);
}

static int
closed_fd(void)
{
    int fd = dup(0);

    assert_true(fd >= 0);
    close(fd);
    return fd;
}

/*
 * The old image's stream handle let go as an exec does: the handle closed
 * (libuv closes its descriptor then, an exec does not) and the same socket
 * put back at the same number. A pipe bound by libuv would remove its
 * socket file on closing, which an exec does not either.
 */
static void
forget_stream(uv_loop_t *loop, void *h)
{
    uv_os_fd_t fd;
    int keep;

    if (((uv_handle_t *)h)->type == UV_NAMED_PIPE) {
        uv_pipe_t *p = h;

        free((void *)p->pipe_fname); /* libuv's own copy of the path */
        p->pipe_fname = NULL;
    }
    assert_int_equal(uv_fileno(h, &fd), 0);
    keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    assert_true(keep >= 0);
    handle_close(h);
    uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(dup2(keep, fd), fd); /* without FD_CLOEXEC, as kept */
    close(keep);
}

/* Send request on the connected socket fd, run loop until the peer closes
 * (at most 5 s): the whole answer in buf. */
static void
ask(uv_loop_t *loop, int fd, const char *request, char *buf, size_t size)
{
    size_t len = 0;
    int eof = 0;

    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL),
                     (ssize_t)strlen(request));
    for (int i = 0; i < 500 && !eof; i++) {
        ssize_t n;

        uv_run(loop, UV_RUN_NOWAIT);
        while ((n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT)) > 0)
            len += (size_t)n;
        if (n == 0)
            eof = 1;
        else if (len + 1 >= size)
            break;
        else
            usleep(10000);
    }
    buf[len] = '\0';
    assert_true(eof);
    close(fd);
}

/* A small deployment, as the shell's view would say it. */
static int
small_view(void *arg, struct view *v)
{
    memset(v, 0, sizeof(*v));
    v->pid = 4242;
    v->pass = "pass-x";
    v->ready = "listen";
    v->rolls_ok = 7;
    v->data = arg;
    return 0;
}

static int
no_view(void *arg, struct view *v)
{
    (void)arg;
    (void)v;
    fail_msg("the old image's view was asked");
    return -ENOMEM;
}

/* --- control ---------------------------------------------------------------
 */

static const struct control_ops old_ops = {.view = no_view};
static const struct control_ops new_ops = {.view = small_view};

struct cfix {
    char dir[64], path[96];
    uv_loop_t loop;
    struct control *ctl;
};

static void
control_fix(struct cfix *f)
{
    char err[256] = "";

    snprintf(f->dir, sizeof(f->dir), "/tmp/handoff-cstate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    if (control_open(&f->loop, &old_ops, f->path, &f->ctl, err, sizeof(err)) !=
        0)
        fail_msg("control_open: %s", err);
}

static void
control_unfix(struct cfix *f)
{
    control_close(f->ctl);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(rmdir(f->dir), 0);
}

static int
connect_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/*
 * Written, kept across the exec, the old image's handle gone, adopted: a
 * client connected before the adoption (waiting in the accept queue, as
 * during the exec) and one after both get "status" answered by the new
 * image's view; the file made at start is the adopted control's to remove.
 */
static void
control_round_trip(void **state)
{
    struct cfix f;
    struct control *ctl = NULL;
    char err[256] = "", buf[4096];
    json_t *doc;
    uv_os_fd_t fd;
    int early;
    struct stat st;

    (void)state;
    control_fix(&f);
    f.ctl->clients = 41; /* as if 41 clients came before */
    assert_int_equal(uv_fileno((uv_handle_t *)f.ctl->server, &fd), 0);
    doc = through_text(control_state_write(f.ctl));
    assert_int_equal(control_state_inherit(f.ctl, 1), 0);
    assert_false(cloexec(fd));
    forget_stream(&f.loop, f.ctl->server);
    free(f.ctl);
    f.ctl = NULL;
    early = connect_unix(f.path);
    if (control_state_adopt(&f.loop, &new_ops, doc, &ctl, err, sizeof(err)) !=
        0)
        fail_msg("adopt: %s", err);
    assert_true(cloexec(fd));
    assert_string_equal(ctl->path, f.path);
    assert_int_equal(ctl->clients, 41);
    assert_int_equal(lstat(f.path, &st), 0);
    assert_int_equal(ctl->dev, st.st_dev);
    assert_int_equal(ctl->ino, st.st_ino);
    ask(&f.loop, early, "status\n", buf, sizeof(buf));
    must_contain(buf, ", pid 4242, up ");
    must_contain(buf, "rolls: 7 promoted, 0 failed");
    ask(&f.loop, connect_unix(f.path), "status\n", buf, sizeof(buf));
    must_contain(buf, ", pid 4242, up ");
    json_decref(doc);
    f.ctl = ctl;
    control_unfix(&f); /* removes the file: dev and ino carried */
}

/*
 * What the image an upgrade executes does with the document (argv[2]):
 * adopt the control socket and serve the clients that connected while
 * the exec ran until none is left (at most 5 s). The exit status: 0
 * served; 2 adopt refused (the reason on stderr).
 */
static int
adopt_after_exec(const char *text)
{
    json_t *doc = json_loads(text, 0, NULL);
    struct control *ctl = NULL;
    char err[256] = "";
    uv_loop_t loop;

    signal(SIGPIPE, SIG_IGN); /* as the master: a client gone is no death */
    uv_loop_init(&loop);
    if (doc == NULL || control_state_adopt(&loop, &new_ops, doc, &ctl, err,
                                           sizeof(err)) != 0) {
        fprintf(stderr, "adopt: %s\n", err);
        json_decref(doc);
        uv_loop_close(&loop);
        return 2;
    }
    json_decref(doc);
    for (int i = 0; i < 500; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (ctl->nconns == 0 && i > 0 && ctl->clients > 41)
            break;
        usleep(10000);
    }
    control_close(ctl); /* removes the socket file: the child's now */
    uv_run(&loop, UV_RUN_DEFAULT); /* the handles' closing, nothing else */
    uv_loop_close(&loop);
    return 0;
}

/*
 * A real execve: this binary again in a child, the document in its
 * arguments. With the socket kept (control_state_inherit), a client that
 * connected before the exec gets its status from the new image; without,
 * the exec closed the socket and the adoption is refused by name.
 */
static void
control_across_exec(void **state)
{
    struct cfix f;
    char *text, buf[4096];
    json_t *doc;
    int status, c;
    pid_t pid;

    (void)state;
    control_fix(&f);
    f.ctl->clients = 41;
    doc = control_state_write(f.ctl);
    text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    for (int keep = 0; keep <= 1; keep++) {
        c = keep ? connect_unix(f.path) : -1;
        if (keep)
            assert_int_equal(send(c, "status\n", 7, MSG_NOSIGNAL), 7);
        assert_int_equal(control_state_inherit(f.ctl, keep), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            execl("/proc/self/exe", "test_control_state", "--adopt", text,
                  (char *)NULL);
            _exit(127);
        }
        assert_int_equal(control_state_inherit(f.ctl, 0), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), keep ? 0 : 2);
        if (keep) {
            ssize_t n = recv(c, buf, sizeof(buf) - 1, MSG_DONTWAIT);

            assert_true(n > 0);
            buf[n] = '\0';
            must_contain(buf, ", pid 4242, up ");
        }
        if (keep)
            close(c);
    }
    free(text);
    json_decref(doc);
    /* The test's own handle: the queue was served by the child. */
    control_unfix(&f);
}

static void
control_refused(struct cfix *f, json_t *doc, int fd, const char *want)
{
    struct control *out = (struct control *)f;
    char err[256] = "";
    uv_os_fd_t kept;

    if (fd >= 0)
        json_object_set_new(doc, "fd", json_integer(fd));
    assert_int_equal(uv_fileno((uv_handle_t *)f->ctl->server, &kept), 0);
    assert_int_equal(control_state_inherit(f->ctl, 1), 0);
    assert_int_equal(
        control_state_adopt(&f->loop, &new_ops, doc, &out, err, sizeof(err)),
        -EINVAL);
    assert_null(out);
    must_contain(err, want);
    assert_false(cloexec(kept)); /* as the exec left it */
    assert_int_equal(control_state_inherit(f->ctl, 0), 0);
}

static void
control_refusals(void **state)
{
    struct cfix f;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char want[320], err[64];
    struct control *out = NULL;
    json_t *doc;
    int p[2], s;

    (void)state;
    control_fix(&f);
    doc = control_state_write(f.ctl);
    s = closed_fd();
    snprintf(want, sizeof(want), "control: fd %d is not open", s);
    control_refused(&f, doc, s, want);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    control_refused(&f, doc, p[0], "is not a socket");
    close(p[0]);
    close(p[1]);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    control_refused(&f, doc, s, "is not a unix socket (IPv4)");
    close(s);
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    control_refused(&f, doc, s, "is not a stream socket");
    close(s);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(want, sizeof(want), "control: fd %d is not listening", s);
    control_refused(&f, doc, s, want);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/other", f.dir);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(s, 1), 0);
    snprintf(want, sizeof(want), "is bound to %s, not %s", sun.sun_path,
             f.path);
    control_refused(&f, doc, s, want);
    close(s);
    unlink(sun.sun_path);
    json_decref(doc);
    doc = control_state_write(f.ctl);
    json_object_set_new(doc, "cookie", json_string("1"));
    control_refused(&f, doc, -1, "another socket than the one recorded");
    json_decref(doc);
    doc = control_state_write(f.ctl);
    json_object_set_new(doc, "ino", json_string("1"));
    control_refused(&f, doc, -1, "control: path: ");
    control_refused(&f, doc, -1, "is another file than the one recorded");
    json_decref(doc);
    doc = control_state_write(f.ctl);
    assert_int_equal(chmod(f.path, 0666), 0);
    control_refused(&f, doc, -1, "is not a socket of mode 0600 (0666)");
    assert_int_equal(chmod(f.path, 0600), 0);
    json_object_del(doc, "clients");
    control_refused(&f, doc, -1, "control: clients: missing");
    json_decref(doc);
    doc = json_integer(9);
    control_refused(&f, doc, -1, "control: neither null nor an object");
    json_decref(doc);
    /* None: null both ways. */
    doc = control_state_write(NULL);
    assert_true(json_is_null(doc));
    assert_int_equal(control_state_inherit(NULL, 1), 0);
    assert_int_equal(
        control_state_adopt(&f.loop, &new_ops, doc, &out, err, sizeof(err)), 0);
    assert_null(out);
    json_decref(doc);
    control_unfix(&f);
}

/* --- metrics ---------------------------------------------------------------
 */

struct mfix {
    uv_loop_t loop;
    struct metrics_data data;
    struct metrics *mt;
};

static void
metrics_fix(struct mfix *f, const char *address)
{
    char err[256] = "";

    memset(f, 0, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    if (metrics_open(&f->loop, address, no_view, NULL, &f->data, &f->mt, err,
                     sizeof(err)) != 0)
        fail_msg("metrics_open: %s", err);
}

static void
metrics_unfix(struct mfix *f)
{
    metrics_close(f->mt);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static int
server_fd(const struct metrics *mt)
{
    uv_os_fd_t fd;

    assert_int_equal(uv_fileno((uv_handle_t *)mt->server, &fd), 0);
    return fd;
}

/* A TCP connection to the address text "127.0.0.1:PORT". */
static int
connect_tcp(const char *address)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(strncmp(address, "127.0.0.1:", 10) == 0);
    sin.sin_port = htons((uint16_t)atoi(address + 10));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

/*
 * The endpoint on a port the kernel chose, written (the port as bound),
 * kept, the old handle gone, adopted with the new image's view and
 * counters: GET /metrics is answered from them on the same port.
 */
static void
metrics_round_trip(void **state)
{
    struct mfix f;
    struct metrics_data mine = {.refused = 5};
    struct metrics *mt = NULL;
    char err[256] = "", buf[65536], address[64];
    json_t *doc;
    int fd;

    (void)state;
    metrics_fix(&f, "127.0.0.1:0");
    fd = server_fd(f.mt);
    doc = through_text(metrics_state_write(f.mt));
    snprintf(address, sizeof(address), "%s",
             json_string_value(json_object_get(doc, "address")));
    assert_true(strcmp(address, "127.0.0.1:0") != 0); /* as bound */
    assert_int_equal(metrics_state_inherit(f.mt, 1), 0);
    assert_false(cloexec(fd));
    forget_stream(&f.loop, f.mt->server);
    free(f.mt);
    f.mt = NULL;
    if (metrics_state_adopt(&f.loop, doc, small_view, &mine, &mine, &mt, err,
                            sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    assert_int_equal(server_fd(mt), fd);
    assert_true(cloexec(fd));
    ask(&f.loop, connect_tcp(address),
        "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    must_contain(buf, "HTTP/1.1 200 ");
    must_contain(buf, "handoff_rolls_total{outcome=\"promoted\"} 7\n");
    must_contain(buf, "handoff_metrics_refused_total 5\n");
    json_decref(doc);
    f.mt = mt;
    metrics_unfix(&f);
}

static void
metrics_refused(struct mfix *f, json_t *doc, int fd, const char *want)
{
    struct metrics *out = (struct metrics *)f;
    char err[256] = "";

    if (fd >= 0)
        json_object_set_new(doc, "fd", json_integer(fd));
    assert_int_equal(metrics_state_inherit(f->mt, 1), 0);
    assert_int_equal(metrics_state_adopt(&f->loop, doc, small_view, NULL,
                                         &f->data, &out, err, sizeof(err)),
                     -EINVAL);
    assert_null(out);
    must_contain(err, want);
    assert_false(cloexec(server_fd(f->mt)));
    assert_int_equal(metrics_state_inherit(f->mt, 0), 0);
}

static void
metrics_refusals(void **state)
{
    struct mfix f, other;
    char want[320];
    const char *address;
    json_t *doc, *odoc;
    int p[2], s;

    (void)state;
    metrics_fix(&f, "127.0.0.1:0");
    metrics_fix(&other, "127.0.0.1:0");
    doc = metrics_state_write(f.mt);
    address = json_string_value(json_object_get(doc, "address"));
    s = closed_fd();
    snprintf(want, sizeof(want), "metrics: fd %d is not open", s);
    metrics_refused(&f, doc, s, want);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    metrics_refused(&f, doc, p[0], "is not a socket");
    close(p[0]);
    close(p[1]);
    s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    metrics_refused(&f, doc, s, "is not an IPv4 socket (IPv6)");
    close(s);
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    metrics_refused(&f, doc, s, "is not a stream socket");
    close(s);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(want, sizeof(want), "metrics: fd %d is not listening", s);
    metrics_refused(&f, doc, s, want);
    close(s);
    odoc = metrics_state_write(other.mt);
    snprintf(want, sizeof(want), "metrics: fd %d is bound to %s, not %s",
             server_fd(other.mt),
             json_string_value(json_object_get(odoc, "address")), address);
    metrics_refused(&f, doc, server_fd(other.mt), want);
    json_decref(odoc);
    json_object_set_new(doc, "fd", json_integer(server_fd(f.mt)));
    json_object_set_new(doc, "cookie", json_string("1"));
    metrics_refused(&f, doc, -1, "another socket than the one recorded");
    json_object_set_new(doc, "address", json_string("unix:/run/m.sock"));
    metrics_refused(&f, doc, -1,
                    "metrics: address: \"unix:/run/m.sock\" is not a TCP");
    json_object_set_new(doc, "address", json_string("nowhere"));
    metrics_refused(&f, doc, -1, "metrics: address: ");
    json_decref(doc);
    metrics_unfix(&other);
    metrics_unfix(&f);
}

/* The counters and histograms, every bucket, read back exactly. */
static void
metrics_data_round_trip(void **state)
{
    struct metrics_data d, e;
    char err[256] = "";
    json_t *doc;

    (void)state;
    memset(&d, 0, sizeof(d));
    memset(&e, 0xa5, sizeof(e));
    for (int i = 0; i < 40; i++) {
        metrics_hist_observe(&d.ready, 0.003 * i * i);
        metrics_hist_observe(&d.roll, 1.0 / (i + 1));
        metrics_hist_observe(&d.drain, 400.0 + i); /* above every bound */
    }
    d.refused = UINT64_MAX - 1; /* beyond a JSON integer */
    d.upgrades_ok = 7;
    d.upgrades_refused = 3;
    doc = through_text(metrics_state_write_data(&d));
    if (metrics_state_read_data(doc, &e, err, sizeof(err)) != 0)
        fail_msg("read: %s", err);
    assert_memory_equal(&d, &e, sizeof(d));
    json_array_remove(json_object_get(json_object_get(doc, "roll"), "bucket"),
                      0);
    assert_int_equal(metrics_state_read_data(doc, &e, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err,
                        "metrics data: roll.bucket: not an array of 15 counts");
    json_array_append_new(
        json_object_get(json_object_get(doc, "roll"), "bucket"),
        json_string("-1"));
    assert_int_equal(metrics_state_read_data(doc, &e, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(
        err, "metrics data: roll.bucket: [14] is not a 64-bit unsigned count");
    json_array_set_new(json_object_get(json_object_get(doc, "roll"), "bucket"),
                       14, json_string("3"));
    json_object_set_new(json_object_get(doc, "drain"), "sum", json_string("1"));
    assert_int_equal(metrics_state_read_data(doc, &e, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err,
                        "metrics data: drain.sum: not a number of seconds");
    assert_memory_equal(&d, &e, sizeof(d)); /* unchanged by refusals */
    json_decref(doc);
}

/*
 * Every field of struct control, struct metrics and struct metrics_data
 * is carried or named as not carried in control_state.h and
 * metrics_state.h, and the round trips above compare what is. A field
 * added changes their size (on this 64-bit build): carry it, then set the
 * new figure here.
 */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct control), 184);
    assert_int_equal(sizeof(struct metrics), 48);
    assert_int_equal(sizeof(struct metrics_data), 432);
#else
    skip();
#endif
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(control_round_trip),
        cmocka_unit_test(control_across_exec),
        cmocka_unit_test(control_refusals),
        cmocka_unit_test(metrics_round_trip),
        cmocka_unit_test(metrics_refusals),
        cmocka_unit_test(metrics_data_round_trip),
        cmocka_unit_test(every_field_is_carried),
    };

    if (argc == 3 && strcmp(argv[1], "--adopt") == 0)
        return adopt_after_exec(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
