/* test_shim.c: the shim's message handling, its per-process socket options
 * and its record of the epoll sets holding a managed socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "epollset.h"
#include "protocol.h"
#include "sockopt.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct proto_msg reply; /* large: not on the stack */

static int
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* The master's side: queue a reply before the shim asks. */
static void
queue(int master, uint16_t type, uint32_t id, const char *key,
      const char *value, int fd)
{
    char buf[PROTO_MAX_MSG];
    struct proto_kv kv[1] = {{key, value}};
    int n = proto_encode(buf, sizeof(buf), type, id, kv, key ? 1 : 0);

    assert_true(n > 0);
    assert_int_equal(proto_send(master, buf, (size_t)n, fd), 0);
}

static void
pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static int
ask_address(int chan, uint32_t id, int timeout_ms, int *fd)
{
    struct proto_kv kv[1] = {{"address", "127.0.0.1:8080"}};

    return client_ask(chan, poll, timeout_ms, PROTO_GET, id, kv, 1, &reply, fd);
}

/* --- client_ask ------------------------------------------------------------ */

static void
ask_sends_get_and_takes_the_reply_with_its_id(void **state)
{
    int sv[2], p[2], fd;
    char buf[PROTO_MAX_MSG];
    static struct proto_msg req;

    pair(sv);
    assert_int_equal(pipe(p), 0);
    queue(sv[1], PROTO_SOCKET, 7, "address", "127.0.0.1:8080", p[0]);
    assert_int_equal(ask_address(sv[0], 7, 1000, &fd), 0);
    assert_int_equal(reply.hdr.type, PROTO_SOCKET);
    assert_int_equal(reply.hdr.id, 7);
    assert_true(fd >= 0);
    assert_int_not_equal(fd, p[0]);
    /* What the master saw: one GET with the address. */
    int n = proto_recv(sv[1], buf, sizeof(buf), &(int){0});
    assert_true(n > 0);
    assert_int_equal(proto_decode(buf, (size_t)n, &req), 0);
    assert_int_equal(req.hdr.type, PROTO_GET);
    assert_int_equal(req.hdr.id, 7);
    assert_string_equal(proto_get(&req, "address"), "127.0.0.1:8080");
    close(fd);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

static void
ask_skips_replies_for_siblings_and_closes_their_fds(void **state)
{
    int sv[2], p[2], fd, before;

    pair(sv);
    assert_int_equal(pipe(p), 0);
    before = open_fds();
    queue(sv[1], PROTO_SOCKET, 99, "address", "x", p[0]); /* a sibling's */
    queue(sv[1], PROTO_ERROR, 98, "errno", "13", -1);
    queue(sv[1], PROTO_SOCKET, 7, "address", "mine", p[1]);
    assert_int_equal(ask_address(sv[0], 7, 1000, &fd), 0);
    assert_int_equal(reply.hdr.id, 7);
    assert_string_equal(proto_get(&reply, "address"), "mine");
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(open_fds(), before); /* the sibling's fd was closed */
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

static void
ask_skips_garbage(void **state)
{
    int sv[2], fd;
    char junk[PROTO_HDR_LEN + 4] = "not a header at all";

    pair(sv);
    assert_true(send(sv[1], junk, sizeof(junk), 0) > 0);
    queue(sv[1], PROTO_ERROR, 7, "errno", "2", -1);
    assert_int_equal(ask_address(sv[0], 7, 1000, &fd), 0);
    assert_int_equal(reply.hdr.type, PROTO_ERROR);
    assert_int_equal(fd, -1);
    close(sv[0]);
    close(sv[1]);
}

static void
ask_times_out_when_nobody_answers(void **state)
{
    int sv[2], fd;

    pair(sv);
    assert_int_equal(ask_address(sv[0], 7, 50, &fd), -ETIMEDOUT);
    assert_int_equal(fd, -1);
    close(sv[0]);
    close(sv[1]);
}

static void
ask_fails_when_the_master_is_gone(void **state)
{
    int sv[2], fd, rc;

    pair(sv);
    close(sv[1]);
    rc = ask_address(sv[0], 7, 1000, &fd);
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    close(sv[0]);
}

static void
ask_fails_when_the_master_closes_after_the_request(void **state)
{
    int sv[2], fd;

    pair(sv);
    queue(sv[1], PROTO_SOCKET, 3, "address", "other", -1);
    shutdown(sv[1], SHUT_WR); /* end of stream after a reply to another id */
    assert_int_equal(ask_address(sv[0], 7, 1000, &fd), -ECONNRESET);
    close(sv[0]);
    close(sv[1]);
}

/* --- client_verdict -------------------------------------------------------- */

static void
verdicts(void **state)
{
    static const struct {
        int rc;
        uint16_t type;
        const char *errno_value; /* NULL: no errno key */
        int with_fd;
        enum client_verdict want;
        int want_err;
    } cases[] = {
        {0, PROTO_SOCKET, NULL, 1, CLIENT_SOCKET, 0},
        {0, PROTO_SOCKET, NULL, 0, CLIENT_FAIL, EPROTO},
        {0, PROTO_ERROR, "2", 0, CLIENT_PASS, ENOENT},
        {0, PROTO_ERROR, "13", 0, CLIENT_FAIL, EACCES},
        {0, PROTO_ERROR, "13", 1, CLIENT_FAIL, EACCES},
        {0, PROTO_ERROR, NULL, 0, CLIENT_FAIL, EPROTO},
        {0, PROTO_ERROR, "-4", 0, CLIENT_FAIL, EPROTO},
        {0, PROTO_ERROR, "junk", 0, CLIENT_FAIL, EPROTO},
        {0, PROTO_WELCOME, NULL, 0, CLIENT_FAIL, EPROTO},
        {-ETIMEDOUT, 0, NULL, 0, CLIENT_FAIL, ECONNREFUSED},
        {-ECONNRESET, 0, NULL, 0, CLIENT_FAIL, ECONNREFUSED},
    };

    for (size_t i = 0; i < N(cases); i++) {
        char buf[PROTO_MAX_MSG];
        struct proto_kv kv[1] = {{"errno", cases[i].errno_value}};
        int p[2] = {-1, -1}, err = 0, n, before = open_fds();

        n = proto_encode(buf, sizeof(buf), cases[i].type ? cases[i].type : PROTO_ERROR,
                         1, kv, cases[i].errno_value ? 1 : 0);
        assert_true(n > 0);
        assert_int_equal(proto_decode(buf, (size_t)n, &reply), 0);
        if (cases[i].with_fd)
            assert_int_equal(pipe(p), 0);
        enum client_verdict v = client_verdict(cases[i].rc, &reply, p[0], &err);
        if (v != cases[i].want || (v != CLIENT_SOCKET && err != cases[i].want_err))
            fail_msg("case %zu: verdict %d errno %d", i, v, err);
        if (v == CLIENT_SOCKET) {
            close(p[0]);
        } else if (cases[i].with_fd) {
            assert_int_equal(close(p[0]), -1); /* the verdict closed it */
        }
        if (p[1] >= 0)
            close(p[1]);
        assert_int_equal(open_fds(), before);
    }
}

/* --- sockopt --------------------------------------------------------------- */

#define CAP 32
static struct sockopt_entry store[CAP];

static void
record_find_replace_forget(void **state)
{
    struct sockopt_table t = {store, 0, CAP};
    int one = 1, two = 2;
    const struct sockopt_entry *e;

    assert_null(sockopt_find(&t, 5, SOL_SOCKET, SO_KEEPALIVE));
    assert_int_equal(sockopt_record(&t, 5, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    assert_int_equal(sockopt_record(&t, 6, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    assert_int_equal(sockopt_record(&t, 5, SOL_SOCKET, SO_KEEPALIVE, &two, sizeof(two)), 0);
    assert_int_equal(t.n, 2);
    e = sockopt_find(&t, 5, SOL_SOCKET, SO_KEEPALIVE);
    assert_non_null(e);
    assert_int_equal(e->len, sizeof(int));
    assert_memory_equal(e->val, &two, sizeof(two));
    assert_null(sockopt_find(&t, 5, IPPROTO_TCP, SO_KEEPALIVE));
    sockopt_forget(&t, 5);
    assert_null(sockopt_find(&t, 5, SOL_SOCKET, SO_KEEPALIVE));
    assert_non_null(sockopt_find(&t, 6, SOL_SOCKET, SO_KEEPALIVE));
    assert_int_equal(t.n, 1);
}

static void
record_refuses_what_it_cannot_hold(void **state)
{
    struct sockopt_table t = {store, 0, CAP};
    char big[SOCKOPT_VALMAX + 1] = {0};
    int one = 1;

    assert_int_equal(sockopt_record(&t, 3, SOL_SOCKET, SO_LINGER, big, sizeof(big)), -EINVAL);
    assert_int_equal(sockopt_record(&t, 3, SOL_SOCKET, SO_LINGER, NULL, 4), -EINVAL);
    assert_int_equal(t.n, 0);
    for (int i = 0; i < CAP; i++)
        assert_int_equal(sockopt_record(&t, 3, SOL_SOCKET, 1000 + i, &one, sizeof(one)), 0);
    assert_int_equal(sockopt_record(&t, 3, SOL_SOCKET, 5000, &one, sizeof(one)), -ENOSPC);
    /* Replacing one already held still works when full. */
    assert_int_equal(sockopt_record(&t, 3, SOL_SOCKET, 1000, &one, sizeof(one)), 0);
}

static void
copy_gives_a_dup_the_same_options(void **state)
{
    struct sockopt_table t = {store, 0, 3};
    int one = 1, two = 2;
    const struct sockopt_entry *e;

    assert_int_equal(sockopt_record(&t, 3, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    assert_int_equal(sockopt_record(&t, 4, SOL_SOCKET, SO_KEEPALIVE, &two, sizeof(two)), 0);
    assert_int_equal(sockopt_copy(&t, 3, 7), 0);
    assert_int_equal(t.n, 3);
    e = sockopt_find(&t, 7, SOL_SOCKET, SO_KEEPALIVE);
    assert_non_null(e);
    assert_memory_equal(e->val, &one, sizeof(one));
    assert_int_equal(sockopt_copy(&t, 4, 8), -ENOSPC);
    assert_null(sockopt_find(&t, 8, SOL_SOCKET, SO_KEEPALIVE));
}

static void
inherited_options(void **state)
{
    assert_true(sockopt_inherited(SOL_SOCKET, SO_KEEPALIVE));
    assert_true(sockopt_inherited(SOL_SOCKET, SO_LINGER));
    assert_true(sockopt_inherited(SOL_SOCKET, SO_RCVBUF));
    assert_true(sockopt_inherited(IPPROTO_TCP, TCP_NODELAY));
    /* Options of the listening socket itself are absorbed, not copied. */
    assert_false(sockopt_inherited(IPPROTO_TCP, TCP_DEFER_ACCEPT));
    assert_false(sockopt_inherited(IPPROTO_TCP, TCP_FASTOPEN));
    assert_false(sockopt_inherited(SOL_SOCKET, SO_REUSEADDR));
    assert_false(sockopt_inherited(SOL_SOCKET, SO_REUSEPORT));
    /* The level counts: TCP_NODELAY and SO_DEBUG share a number. */
    assert_false(sockopt_inherited(SOL_SOCKET, TCP_NODELAY));
}

static void
apply_sets_inherited_options_on_a_real_connection(void **state)
{
    struct sockopt_table t = {store, 0, CAP};
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int ls, c, conn, one = 1, v = 0, secs = 30;
    socklen_t vl = sizeof(v);

    ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 4), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    conn = accept(ls, NULL, NULL);
    assert_true(conn >= 0);

    sockopt_record(&t, ls, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    sockopt_record(&t, ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
    sockopt_record(&t, ls + 100, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    assert_int_equal(sockopt_apply(&t, ls, conn, setsockopt), 1);
    assert_int_equal(getsockopt(conn, SOL_SOCKET, SO_KEEPALIVE, &v, &vl), 0);
    assert_int_equal(v, 1);
    vl = sizeof(v);
    assert_int_equal(getsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
    assert_int_equal(v, 0); /* recorded for another fd */
    /* The listening socket itself was never touched. */
    vl = sizeof(v);
    assert_int_equal(getsockopt(ls, SOL_SOCKET, SO_KEEPALIVE, &v, &vl), 0);
    assert_int_equal(v, 0);
    close(conn);
    close(c);
    close(ls);
}

static void
carry_records_what_differs_from_a_fresh_socket(void **state)
{
    struct sockopt_table t = {store, 0, CAP};
    const struct sockopt_entry *e;
    int s = socket(AF_INET, SOCK_STREAM, 0), fresh = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1, buf = 40000, v;

    (void)state;
    assert_true(s >= 0 && fresh >= 0);
    assert_int_equal(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)), 0);
    assert_int_equal(sockopt_carry(&t, 7, s, fresh, getsockopt), 2);
    assert_non_null(e = sockopt_find(&t, 7, SOL_SOCKET, SO_KEEPALIVE));
    memcpy(&v, e->val, sizeof(v));
    assert_int_equal(v, 1);
    /* Halved: the kernel doubles it again when it is applied. */
    assert_non_null(e = sockopt_find(&t, 7, SOL_SOCKET, SO_RCVBUF));
    memcpy(&v, e->val, sizeof(v));
    assert_int_equal(v, buf);
    /* Defaults are not recorded: nothing to apply at every accept. */
    assert_null(sockopt_find(&t, 7, IPPROTO_TCP, TCP_NODELAY));
    /* A full table says so, for the caller to grow it. */
    t.cap = 1;
    t.n = 0;
    assert_int_equal(sockopt_carry(&t, 7, s, fresh, getsockopt), -ENOSPC);
    close(s);
    close(fresh);
}


/* What epollset_drop_fd asked to take out, in order. */
static int dels[8][2], ndels;

static void
note_del(int ep, int fd)
{
    assert_true(ndels < (int)N(dels));
    dels[ndels][0] = ep;
    dels[ndels][1] = fd;
    ndels++;
}

static void
epoll_sets_hold_what_was_added_until_it_goes(void **state)
{
    struct epollset_entry e[8];
    struct epollset t = {e, 0, 8, 0};

    (void)state;
    assert_false(epollset_holds(&t, 5));
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0);
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0); /* noted once */
    assert_int_equal(t.n, 2); /* the name 5, the registration of 7 */
    assert_true(epollset_holds(&t, 5));
    assert_false(epollset_holds(&t, 7)); /* the socket is not a set */
    assert_false(epollset_holds(&t, 6));
    epollset_del(&t, 6, 7); /* another set: nothing */
    assert_true(epollset_holds(&t, 5));
    epollset_del(&t, 5, 7);
    assert_false(epollset_holds(&t, 5));
    /* The set closes: it holds nothing, and its number may be reused. */
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0);
    epollset_drop_set(&t, 5);
    assert_false(epollset_holds(&t, 5));
    assert_int_equal(t.n, 0);
}

static void
epoll_sets_under_a_dup_are_the_same_set(void **state)
{
    struct epollset_entry e[8];
    struct epollset t = {e, 0, 8, 0};

    (void)state;
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0);
    assert_int_equal(epollset_copy(&t, 5, 9), 0);
    assert_true(epollset_holds(&t, 9));
    /* Added through one number, seen through the other. */
    assert_int_equal(epollset_add(&t, 9, 8, 100), 0);
    epollset_del(&t, 5, 7);
    assert_true(epollset_holds(&t, 5)); /* 8 is still in it */
    epollset_del(&t, 5, 8);
    assert_false(epollset_holds(&t, 9));
    assert_false(epollset_holds(&t, 5));
    /* Closing one number leaves the set to the other. */
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0);
    assert_int_equal(epollset_copy(&t, 5, 9), 0);
    epollset_drop_set(&t, 5);
    assert_false(epollset_holds(&t, 5));
    assert_true(epollset_holds(&t, 9));
    /* A full table says so, for the caller to grow it. */
    t.cap = t.n;
    assert_int_equal(epollset_copy(&t, 9, 10), -ENOSPC);
    assert_int_equal(epollset_add(&t, 11, 7, 100), -ENOSPC);
}

static void
epoll_sets_drop_a_closed_socket_its_adder_added(void **state)
{
    struct epollset_entry e[8];
    struct epollset t = {e, 0, 8, 0};

    (void)state;
    ndels = 0;
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0); /* the parent's */
    assert_int_equal(epollset_copy(&t, 5, 9), 0);
    assert_int_equal(epollset_add(&t, 6, 7, 200), 0); /* the child's */
    assert_int_equal(epollset_add(&t, 6, 8, 200), 0);
    assert_true(epollset_holds(&t, 9));
    /* The child (200) closes 7: out of its own set, once, not out of the
     * parent's set, which the parent still waits on. */
    epollset_drop_fd(&t, 7, 200, note_del);
    assert_int_equal(ndels, 1);
    assert_int_equal(dels[0][0], 6);
    assert_int_equal(dels[0][1], 7);
    assert_false(epollset_holds(&t, 5));
    assert_false(epollset_holds(&t, 9));
    assert_true(epollset_holds(&t, 6)); /* 8 */
    epollset_drop_fd(&t, 8, 100, note_del);
    assert_int_equal(ndels, 1);
    assert_int_equal(t.n, 3); /* the names 5, 9 and 6 stay */
}

static void
epoll_sets_are_one_set_from_their_creation(void **state)
{
    struct epollset_entry e[8];
    struct epollset t = {e, 0, 8, 0};

    (void)state;
    /* A copy made while the set is empty sees what is added later. */
    assert_int_equal(epollset_open(&t, 5), 0);
    assert_int_equal(epollset_copy(&t, 5, 9), 0);
    assert_false(epollset_holds(&t, 9));
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0);
    assert_true(epollset_holds(&t, 9));
    /* Emptied, then filled through the other number: still one set. */
    epollset_del(&t, 9, 7);
    assert_false(epollset_holds(&t, 5));
    assert_int_equal(epollset_add(&t, 9, 7, 100), 0);
    assert_true(epollset_holds(&t, 5));
    /* Another set is another id, even when it holds the same socket. */
    assert_int_equal(epollset_open(&t, 6), 0);
    assert_false(epollset_holds(&t, 6));
    epollset_del(&t, 6, 7);
    assert_true(epollset_holds(&t, 5));
    /* A number epoll_create gives again names the new set only: the old
     * one, closed behind the table's back, is gone from it. */
    assert_int_equal(epollset_open(&t, 9), 0);
    assert_false(epollset_holds(&t, 9));
    assert_true(epollset_holds(&t, 5));
    /* A dup of an unknown number, or onto a set's number, names nothing. */
    assert_int_equal(epollset_copy(&t, 3, 6), 0);
    assert_false(epollset_holds(&t, 6));
    epollset_add(&t, 6, 8, 100);
    assert_true(epollset_holds(&t, 6)); /* known from its first add */
    /* The last number of a set goes: its registrations go with it. */
    epollset_drop_set(&t, 5);
    epollset_drop_set(&t, 6);
    epollset_drop_set(&t, 9);
    assert_int_equal(t.n, 0);
    /* A full table: the new set's number is unknown, so a wait on it
     * does not count, and it is never taken for another set. */
    assert_int_equal(epollset_add(&t, 6, 8, 100), 0);
    t.cap = t.n;
    assert_int_equal(epollset_open(&t, 5), -ENOSPC);
    assert_int_equal(epollset_copy(&t, 5, 9), 0);
    assert_false(epollset_holds(&t, 5));
    assert_false(epollset_holds(&t, 9));
    assert_true(epollset_holds(&t, 6));
}

static void
epoll_sets_close_range_forgets_the_numbers_in_it(void **state)
{
    struct epollset_entry e[8];
    struct epollset t = {e, 0, 8, 0};

    (void)state;
    assert_int_equal(epollset_add(&t, 5, 7, 100), 0);
    assert_int_equal(epollset_copy(&t, 5, 9), 0);
    assert_int_equal(epollset_add(&t, 12, 8, 100), 0);
    assert_int_equal(epollset_open(&t, 20), 0);
    /* 9 goes, 5 keeps the set. */
    epollset_drop_range(&t, 6, 10);
    assert_false(epollset_holds(&t, 9));
    assert_true(epollset_holds(&t, 5));
    assert_true(epollset_holds(&t, 12));
    /* Everything from 5 up, as closefrom(5). */
    epollset_drop_range(&t, 5, ~0U);
    assert_false(epollset_holds(&t, 5));
    assert_false(epollset_holds(&t, 12));
    assert_int_equal(t.n, 0);
    /* A file now at 9 is not the set: what is added through a new copy
     * of 5 elsewhere does not reach it. */
    assert_int_equal(epollset_open(&t, 5), 0);
    assert_int_equal(epollset_copy(&t, 5, 11), 0);
    assert_int_equal(epollset_add(&t, 11, 7, 100), 0);
    assert_false(epollset_holds(&t, 9));
    assert_true(epollset_holds(&t, 5));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ask_sends_get_and_takes_the_reply_with_its_id),
        cmocka_unit_test(ask_skips_replies_for_siblings_and_closes_their_fds),
        cmocka_unit_test(ask_skips_garbage),
        cmocka_unit_test(ask_times_out_when_nobody_answers),
        cmocka_unit_test(ask_fails_when_the_master_is_gone),
        cmocka_unit_test(ask_fails_when_the_master_closes_after_the_request),
        cmocka_unit_test(verdicts),
        cmocka_unit_test(record_find_replace_forget),
        cmocka_unit_test(record_refuses_what_it_cannot_hold),
        cmocka_unit_test(copy_gives_a_dup_the_same_options),
        cmocka_unit_test(inherited_options),
        cmocka_unit_test(apply_sets_inherited_options_on_a_real_connection),
        cmocka_unit_test(carry_records_what_differs_from_a_fresh_socket),
        cmocka_unit_test(epoll_sets_hold_what_was_added_until_it_goes),
        cmocka_unit_test(epoll_sets_under_a_dup_are_the_same_set),
        cmocka_unit_test(epoll_sets_drop_a_closed_socket_its_adder_added),
        cmocka_unit_test(epoll_sets_are_one_set_from_their_creation),
        cmocka_unit_test(epoll_sets_close_range_forgets_the_numbers_in_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
