/* test_listener_state.c: listeners written and taken over from the same
 * descriptors as after an upgrade's exec: the group's order and program still
 * steer, every bad document refused. */
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

#include "listener.h"
#include "listener_state.h"
#include "steer.h"

static struct listener *
open_listener(const char *name, const char *address, int traffic, long mode)
{
    struct listen_conf lc;
    struct listener *l = NULL;
    char err[256] = "";

    memset(&lc, 0, sizeof(lc));
    snprintf(lc.name, sizeof(lc.name), "%s", name);
    snprintf(lc.address, sizeof(lc.address), "%s", address);
    assert_int_equal(addr_parse(address, &lc.addr, err, sizeof(err)), 0);
    lc.backlog = 64;
    lc.mode = mode;
    lc.uid = (uid_t)-1;
    lc.gid = (gid_t)-1;
    lc.traffic = traffic;
    if (listener_open(&lc, &l, err, sizeof(err)) != 0)
        fail_msg("listener_open %s: %s", address, err);
    return l;
}

/* What an exec carries: the document as text, read back. */
static json_t *
through_text(json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    json_t *back;

    assert_non_null(s);
    back = json_loads(s, 0, NULL);
    assert_non_null(back);
    free(s);
    json_decref(doc);
    return back;
}

/* An adopted listener let go without closing what the original holds. */
static void
drop(struct listener *l)
{
    if (l != NULL)
        free(l->steer);
    free(l);
}

static int
cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    assert_true(fl >= 0);
    return (fl & FD_CLOEXEC) != 0;
}

/* A client connects to l's port; the index of the fd in fds[0..n) whose
 * queue got it (accepted and closed), waiting at most 5 s; -1 on a fault
 * (no assertion: the image started by steered_across_exec uses it too). */
static int
which(const struct listener *l, const int *fds, size_t n)
{
    struct pollfd p[STEER_MAX_MEMBERS + 1];
    struct addr a = l->bound;
    int c = socket(addr_family(&a), SOCK_STREAM | SOCK_CLOEXEC, 0), got = -1;

    if (c < 0 || connect(c, (struct sockaddr *)&a.ss, a.len) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    if (poll(p, n, 5000) <= 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (p[i].revents & POLLIN) {
            int s = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
            if (s < 0 || got != -1) { /* one connection, one queue */
                got = -2;
                break;
            }
            close(s);
            got = (int)i;
        }
out:
    if (c >= 0)
        close(c);
    return got < 0 ? -1 : got;
}

static int
landed(const struct listener *l, const int *fds, size_t n)
{
    int i = which(l, fds, n);

    assert_true(i >= 0);
    return i;
}

/* The generation whose socket in group s got a new connection (0: none). */
static unsigned
gen_of(const struct listener *l, const struct steer *s)
{
    int fds[STEER_MAX_MEMBERS];
    int i;

    for (size_t j = 0; j < s->n; j++)
        fds[j] = s->m[j].fd;
    i = which(l, fds, s->n);
    return i >= 0 && s->m[i].owner == STEER_GEN ? s->m[i].gen : 0;
}

static unsigned
gen_landed(const struct listener *l, const struct steer *s)
{
    unsigned g = gen_of(l, s);

    assert_true(g != 0);
    return g;
}

/* A steered listener with generations 1, 2, 3 and every client sent to 2. */
static struct listener *
three_gens(struct steer_plan *p)
{
    struct listener *l =
        open_listener("web", "127.0.0.1:0", TRAFFIC_STEERED, -1);

    if (l->steer == NULL)
        skip(); /* the kernel refused the program: nothing steered to carry */
    steer_plan_init(p, 0, 0); /* no probe ports: clients only */
    for (unsigned g = 1; g <= 3; g++) {
        assert_int_equal(steer_plan_add(p, g), 0);
        assert_int_equal(steer_join(l->steer, p, g), 0);
    }
    steer_plan_promote(p, 2);
    assert_int_equal(steer_apply(l->steer, p), 0);
    assert_int_equal(l->steer->n, 3);
    return l;
}

/* Every field of a and b equal, pointers aside. */
static void
assert_same(const struct listener *a, const struct listener *b)
{
    struct listener x = *a, y = *b;

    x.steer = y.steer = NULL;
    assert_memory_equal(&x, &y, sizeof(x));
    assert_int_equal(a->steer == NULL, b->steer == NULL);
    if (a->steer != NULL)
        assert_memory_equal(a->steer, b->steer, sizeof(*a->steer));
}

/*
 * The steered listener as an upgrade carries it: written, its descriptors
 * kept across the exec, adopted from the same descriptors. The group's
 * program, never touched, still sends clients to gen 2's socket, and the
 * adopted group, in the kernel's order, steers the next plan: gen 3.
 */
static void
steered_round_trip(void **state)
{
    struct steer_plan p;
    struct listener *old = three_gens(&p), *new = NULL;
    json_t *doc;
    char err[256] = "";

    (void)state;
    assert_int_equal(gen_landed(old, old->steer), 2);
    doc = through_text(listener_state_write(old));
    assert_int_equal(listener_state_inherit(old, 1), 0);
    for (size_t i = 0; i < old->steer->n; i++)
        assert_false(cloexec(old->steer->m[i].fd));
    if (listener_state_adopt(doc, &new, err, sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    assert_same(old, new);
    for (unsigned g = 1; g <= 3; g++) {
        assert_true(steer_fd(new->steer, g) >= 0);
        assert_int_equal(steer_fd(new->steer, g), steer_fd(old->steer, g));
    }
    for (size_t i = 0; i < new->steer->n; i++) {
        assert_int_equal(new->steer->m[i].fd, old->steer->m[i].fd);
        assert_int_equal(new->steer->m[i].gen, (unsigned)i + 1);
        assert_true(cloexec(new->steer->m[i].fd)); /* set back */
    }
    assert_ptr_equal(new->steer->ops, &steer_kernel);
    for (int t = 0; t < 5; t++)
        assert_int_equal(gen_landed(new, new->steer), 2);
    steer_plan_promote(&p, 3);
    assert_int_equal(steer_apply(new->steer, &p), 0);
    assert_int_equal(new->steer->swaps, old->steer->swaps + 1);
    for (int t = 0; t < 5; t++)
        assert_int_equal(gen_landed(new, new->steer), 3);
    json_decref(doc);
    drop(new);
    listener_unref(old);
}

/*
 * A generation with a socket more (its server binds once per thread):
 * the extra is carried with its owner and generation, and is still one of
 * gen 2's after the adoption; an extra whose generation has no first
 * member is refused.
 */
static void
extra_round_trip(void **state)
{
    struct steer_plan p;
    struct listener *old = three_gens(&p), *new = NULL;
    int fd = -1, a[STEER_MAX_MEMBERS], b[STEER_MAX_MEMBERS];
    json_t *doc, *m;
    char err[256] = "";

    (void)state;
    assert_int_equal(steer_join_more(old->steer, &p, 2, &fd), 0);
    assert_int_equal(steer_fds(old->steer, 2, a, STEER_MAX_MEMBERS), 2);
    doc = through_text(listener_state_write(old));
    assert_int_equal(listener_state_inherit(old, 1), 0);
    if (listener_state_adopt(doc, &new, err, sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    assert_same(old, new);
    assert_int_equal(steer_fds(new->steer, 2, b, STEER_MAX_MEMBERS), 2);
    assert_memory_equal(a, b, 2 * sizeof(int));
    assert_int_equal(b[1], fd);
    drop(new);
    /* The extra's generation changed to one with no first member. */
    m = json_object_get(json_object_get(doc, "steer"), "members");
    for (size_t i = 0; i < json_array_size(m); i++)
        if (json_integer_value(json_object_get(json_array_get(m, i), "fd")) ==
            fd)
            json_object_set_new(json_array_get(m, i), "gen", json_integer(9));
    assert_int_not_equal(listener_state_adopt(doc, &new, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "has no first member"));
    json_decref(doc);
    assert_int_equal(listener_state_inherit(old, 0), 0);
    listener_unref(old);
}

/*
 * What the image an upgrade executes does with the document (argv[2]):
 * adopt the group, see a client reach gen 2, promote gen 3 through the
 * adopted group, see clients reach it. The exit status says how far it
 * got: 0 all; 2 adopt refused (the reason on stderr); 3, 4, 5 the step.
 */
static int
adopt_after_exec(const char *text)
{
    json_t *doc = json_loads(text, 0, NULL);
    struct listener *l = NULL;
    struct steer_plan p;
    char err[256] = "";
    int rc = 0;

    if (doc == NULL || listener_state_adopt(doc, &l, err, sizeof(err)) != 0) {
        fprintf(stderr, "adopt: %s\n", err);
        json_decref(doc);
        return 2;
    }
    json_decref(doc);
    if (gen_of(l, l->steer) != 2)
        rc = 3;
    steer_plan_init(&p, 0, 0); /* the plan the master carries, rebuilt */
    for (unsigned g = 1; g <= 3; g++)
        steer_plan_add(&p, g);
    steer_plan_promote(&p, 3);
    if (rc == 0 && steer_apply(l->steer, &p) != 0)
        rc = 4;
    for (int t = 0; t < 5 && rc == 0; t++)
        if (gen_of(l, l->steer) != 3)
            rc = 5;
    drop(l); /* not listener_unref: its shutdown() would take the sockets
              * from the test's group too */
    return rc;
}

/* This binary executed again in a child, the document in its arguments,
 * the group's descriptors kept across (keep) or not: its exit status. */
static int
exec_child(struct listener *l, const char *doc, int keep)
{
    int status;
    pid_t pid;

    if (keep)
        assert_int_equal(listener_state_inherit(l, 1), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_listener_state", "--adopt", doc,
              (char *)NULL);
        _exit(127);
    }
    assert_int_equal(listener_state_inherit(l, 0), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/*
 * A real execve: the new image finds the group's descriptors by the
 * numbers the document names, in the kernel's order, and steers with
 * them; without listener_state_inherit the exec closed them, and the
 * adoption is refused.
 */
static void
steered_across_exec(void **state)
{
    struct steer_plan p;
    struct listener *l = three_gens(&p);
    json_t *doc = listener_state_write(l);
    char *text = json_dumps(doc, JSON_COMPACT);

    (void)state;
    assert_non_null(text);
    assert_int_equal(exec_child(l, text, 0), 2);
    assert_int_equal(gen_landed(l, l->steer), 2); /* nothing changed */
    assert_int_equal(exec_child(l, text, 1), 0);
    free(text);
    json_decref(doc);
    listener_unref(l);
}

static void
shared_round_trip(void **state)
{
    struct listener *old =
                        open_listener("api", "127.0.0.1:0", TRAFFIC_SHARED, -1),
                    *new = NULL;
    json_t *doc;
    char err[256] = "";

    (void)state;
    assert_int_equal(listener_set_nonblocking(old, 1), 0);
    doc = through_text(listener_state_write(old));
    assert_int_equal(listener_state_inherit(old, 1), 0);
    assert_false(cloexec(old->fd));
    if (listener_state_adopt(doc, &new, err, sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    assert_same(old, new);
    assert_true(cloexec(new->fd));
    assert_int_equal(landed(new, &new->fd, 1), 0);
    json_decref(doc);
    drop(new);
    listener_unref(old);
}

static void
unix_round_trip(void **state)
{
    char dir[] = "/tmp/handoff-lstate-XXXXXX", address[128];
    struct listener *old, *new = NULL;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    json_t *doc;
    char err[256] = "";
    int c, s;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(address, sizeof(address), "unix:%s/sock", dir);
    old = open_listener("local", address, TRAFFIC_SHARED, 0600);
    assert_true(old->ino != 0);
    doc = through_text(listener_state_write(old));
    assert_int_equal(listener_state_inherit(old, 1), 0);
    if (listener_state_adopt(doc, &new, err, sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    assert_same(old, new); /* dev, ino, mode, uid, gid too */
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", dir);
    c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
    s = accept4(new->fd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(s >= 0);
    close(s);
    close(c);
    json_decref(doc);
    drop(new);
    listener_unref(old); /* removes the file */
    assert_int_equal(rmdir(dir), 0);
}

/* listener_state_inherit: every descriptor of the group, both ways. */
static void
inherit_both_ways(void **state)
{
    struct steer_plan p;
    struct listener *l = three_gens(&p);

    (void)state;
    assert_int_equal(listener_state_inherit(l, 1), 0);
    for (size_t i = 0; i < l->steer->n; i++)
        assert_false(cloexec(l->steer->m[i].fd));
    assert_int_equal(listener_state_inherit(l, 0), 0);
    for (size_t i = 0; i < l->steer->n; i++)
        assert_true(cloexec(l->steer->m[i].fd));
    listener_unref(l);
}

enum how { FD, CLOSED, SWAP, TWICE };

/*
 * A document whose member 1 names descriptor fd (how = FD) or one that
 * is not open (CLOSED), in which
 * members 0 and 1 changed places while the kernel's did not (SWAP), or
 * whose member 1 names member 0's descriptor (TWICE) is refused naming
 * the listener and the member at fault (at), with want in the message;
 * nothing adopted, nothing closed or changed: the group, kept for the
 * exec, still sends its clients to gen 2.
 */
static void
refused_member(enum how how, int fd, const char *at, const char *want)
{
    struct steer_plan p;
    struct listener *l = three_gens(&p), *out = (struct listener *)&p;
    json_t *doc = listener_state_write(l), *m, *a, *b;
    char err[256] = "";

    if (how == CLOSED) { /* a number free once the group is open */
        fd = dup(0);
        close(fd);
    }
    m = json_object_get(json_object_get(doc, "steer"), "members");
    a = json_object_get(json_array_get(m, 0), "fd");
    b = json_object_get(json_array_get(m, 1), "fd");
    if (how == SWAP) {
        json_int_t x = json_integer_value(a);
        json_integer_set(a, json_integer_value(b));
        json_integer_set(b, x);
    } else {
        json_integer_set(b, how == TWICE ? json_integer_value(a) : fd);
    }
    assert_int_equal(listener_state_inherit(l, 1), 0);
    assert_int_equal(listener_state_adopt(doc, &out, err, sizeof(err)),
                     -EINVAL);
    assert_null(out);
    if (strstr(err, at) == NULL || strstr(err, want) == NULL)
        fail_msg("err \"%s\" lacks \"%s\" or \"%s\"", err, at, want);
    for (size_t i = 0; i < l->steer->n; i++)
        assert_false(cloexec(l->steer->m[i].fd)); /* as the exec left them */
    assert_int_equal(gen_landed(l, l->steer), 2);
    json_decref(doc);
    listener_unref(l);
}

#define M1 "listener web: steer.members[1]"

static void
refuses_closed_fd(void **state)
{
    (void)state;
    refused_member(CLOSED, -1, M1, "is not open");
}

static void
refuses_pipe(void **state)
{
    int p[2];

    (void)state;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    refused_member(FD, p[0], M1, "is not a socket");
    close(p[0]);
    close(p[1]);
}

static void
refuses_other_port(void **state)
{
    struct listener *other =
        open_listener("other", "127.0.0.1:0", TRAFFIC_SHARED, -1);

    (void)state;
    refused_member(FD, other->fd, M1, "is bound to 127.0.0.1:");
    listener_unref(other);
}

static void
refuses_unbound_socket(void **state)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    (void)state;
    refused_member(FD, s, M1, "is not listening");
    close(s);
}

/* Members 0 and 1 swapped: each a listening socket of the group, bound to
 * its address, but not the one the document says is at its index. */
static void
refuses_other_order(void **state)
{
    (void)state;
    refused_member(SWAP, -1, "listener web: steer.members[0]",
                   "another socket than the one recorded");
}

/* A document naming a descriptor twice would make two members of one. */
static void
refuses_member_twice(void **state)
{
    (void)state;
    refused_member(TWICE, -1, M1, "is member 0's too");
}

/* Two members of one generation: the program could reach only one. */
static void
refuses_gen_twice(void **state)
{
    struct steer_plan p;
    struct listener *l = three_gens(&p), *out = NULL;
    json_t *doc = listener_state_write(l);
    char err[256] = "";

    (void)state;
    json_object_set_new(
        json_array_get(
            json_object_get(json_object_get(doc, "steer"), "members"), 1),
        "gen", json_integer(1));
    assert_int_equal(listener_state_adopt(doc, &out, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err,
                        "listener web: steer.members[1].gen: 1 is member 0's "
                        "too");
    assert_null(out);
    json_decref(doc);
    listener_unref(l);
}

/* Fields: missing or out of range, named. */
static void
refuses_bad_fields(void **state)
{
    struct listener *l =
                        open_listener("api", "127.0.0.1:0", TRAFFIC_SHARED, -1),
                    *out = NULL;
    json_t *doc = listener_state_write(l);
    char err[256] = "";

    (void)state;
    json_object_del(doc, "backlog");
    assert_int_equal(listener_state_adopt(doc, &out, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "listener api: backlog: missing");
    json_object_set_new(doc, "backlog", json_integer(64));
    json_object_set_new(doc, "traffic", json_integer(7));
    assert_int_equal(listener_state_adopt(doc, &out, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "listener api: traffic: 7 is not one of 0..1");
    json_object_set_new(doc, "traffic", json_integer(TRAFFIC_SHARED));
    json_object_set_new(doc, "steer", json_object());
    assert_int_equal(listener_state_adopt(doc, &out, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "listener api: fd: "));
    /* O_NONBLOCK is the workers' as much as handoff's (they share the open
     * file): a difference is no refusal. */
    assert_null(out);
    json_decref(doc);
    listener_unref(l);
}

/*
 * Every field of struct listener and struct steer is carried:
 * listener_state_write writes it, listener_state_adopt reads it, and the
 * round trips above compare the whole structs. A field added changes their
 * size or moves their last field (on this 64-bit build): carry it, then
 * set the new figures here. (One of 4 bytes put in a hole the alignment
 * left, after fd, refs or pass, nonblocking or swaps, moves nothing.)
 */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct listener), 544);
    assert_int_equal(offsetof(struct listener, pass), 536);
    assert_int_equal(sizeof(struct steer), 376);
    assert_int_equal(offsetof(struct steer, swaps), 368);
    assert_int_equal(sizeof(struct steer_member), 12);
#else
    skip();
#endif
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steered_round_trip),
        cmocka_unit_test(extra_round_trip),
        cmocka_unit_test(steered_across_exec),
        cmocka_unit_test(shared_round_trip),
        cmocka_unit_test(unix_round_trip),
        cmocka_unit_test(inherit_both_ways),
        cmocka_unit_test(refuses_closed_fd),
        cmocka_unit_test(refuses_pipe),
        cmocka_unit_test(refuses_other_port),
        cmocka_unit_test(refuses_unbound_socket),
        cmocka_unit_test(refuses_other_order),
        cmocka_unit_test(refuses_member_twice),
        cmocka_unit_test(refuses_gen_twice),
        cmocka_unit_test(refuses_bad_fields),
        cmocka_unit_test(every_field_is_carried),
    };

    if (argc == 3 && strcmp(argv[1], "--adopt") == 0)
        return adopt_after_exec(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
