/* test_protocol.c: the control protocol and the master's answers to it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel.h"
#include "listener.h"
#include "protocol.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A packet by hand: header fields and payload as given. */
static size_t
raw_packet(void *buf, uint16_t version, uint16_t type, uint32_t id,
           uint32_t hdr_len, const void *payload, size_t n)
{
    struct proto_hdr h = {.version = version, .type = type, .id = id,
                          .len = hdr_len, .reserved = 0};

    memcpy(buf, &h, PROTO_HDR_LEN);
    memcpy((char *)buf + PROTO_HDR_LEN, payload, n);
    return PROTO_HDR_LEN + n;
}

static size_t
packet(void *buf, const char *payload)
{
    size_t n = strlen(payload);

    return raw_packet(buf, PROTO_VERSION, PROTO_HELLO, 1, (uint32_t)n,
                      payload, n);
}

/* --- encode / decode ----------------------------------------------------- */

static void
header_is_sixteen_bytes(void **state)
{
    assert_int_equal(sizeof(struct proto_hdr), PROTO_HDR_LEN);
}

static void
encode_decode_round_trip(void **state)
{
    char buf[PROTO_MAX_MSG];
    static struct proto_msg m;
    struct proto_kv kv[] = {
        {"pid", "4242"}, {"name", "web"}, {"empty", ""}, {"eq", "a=b=c"},
        {"spaces", " x y "},
    };
    int n = proto_encode(buf, sizeof(buf), PROTO_GET, 0xdeadbeef, kv, N(kv));

    assert_true(n > PROTO_HDR_LEN);
    assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
    assert_int_equal(m.hdr.version, PROTO_VERSION);
    assert_int_equal(m.hdr.type, PROTO_GET);
    assert_int_equal(m.hdr.id, 0xdeadbeef);
    assert_int_equal(m.hdr.len, (uint32_t)n - PROTO_HDR_LEN);
    assert_int_equal(m.nkv, N(kv));
    for (size_t i = 0; i < N(kv); i++) {
        assert_string_equal(m.kv[i].key, kv[i].key);
        assert_string_equal(m.kv[i].value, kv[i].value);
        assert_string_equal(proto_get(&m, kv[i].key), kv[i].value);
    }
    assert_null(proto_get(&m, "missing"));
    assert_memory_equal((char *)buf + PROTO_HDR_LEN,
                        "pid=4242\nname=web\nempty=\neq=a=b=c\nspaces= x y \n",
                        (size_t)n - PROTO_HDR_LEN);
}

static void
encode_decode_without_keys(void **state)
{
    char buf[PROTO_MAX_MSG];
    static struct proto_msg m;
    int n = proto_encode(buf, sizeof(buf), PROTO_READY, 9, NULL, 0);

    assert_int_equal(n, PROTO_HDR_LEN);
    assert_int_equal(proto_decode(buf, (size_t)n, &m), 0);
    assert_int_equal(m.nkv, 0);
    assert_int_equal(m.hdr.type, PROTO_READY);
    assert_int_equal(m.hdr.id, 9);
}

static void
decode_keeps_unknown_keys_for_the_caller_to_ignore(void **state)
{
    char buf[PROTO_MAX_MSG];
    static struct proto_msg m;
    size_t n = packet(buf, "future=1\nname=web\nx-vendor=abc\n");

    assert_int_equal(proto_decode(buf, n, &m), 0);
    assert_int_equal(m.nkv, 3);
    assert_string_equal(proto_get(&m, "name"), "web");
    assert_string_equal(proto_get(&m, "future"), "1");
    assert_string_equal(proto_get(&m, "x-vendor"), "abc");
}

static void
decode_accepts_unknown_type(void **state)
{
    char buf[PROTO_MAX_MSG];
    static struct proto_msg m;
    size_t n = raw_packet(buf, PROTO_VERSION, 999, 3, 4, "a=1\n", 4);

    assert_int_equal(proto_decode(buf, n, &m), 0);
    assert_int_equal(m.hdr.type, 999);
}

static void
encode_rejects_oversize(void **state)
{
    static char buf[2 * PROTO_MAX_MSG], big[PROTO_MAX_MSG];
    struct proto_kv kv[PROTO_MAX_KEYS + 1];
    struct proto_kv one = {"k", big};
    size_t room = PROTO_MAX_MSG - PROTO_HDR_LEN - 3; /* "k=" and '\n' */

    /* Exactly PROTO_MAX_MSG fits. */
    memset(big, 'v', room);
    big[room] = '\0';
    assert_int_equal(proto_encode(buf, sizeof(buf), PROTO_GET, 1, &one, 1),
                     PROTO_MAX_MSG);
    /* One more byte does not, however large the buffer. */
    big[room] = 'v';
    big[room + 1] = '\0';
    assert_int_equal(proto_encode(buf, sizeof(buf), PROTO_GET, 1, &one, 1),
                     -EMSGSIZE);
    /* The caller's capacity counts too. */
    assert_int_equal(proto_encode(buf, 20, PROTO_GET, 1,
                                  &(struct proto_kv){"key", "value"}, 1),
                     -EMSGSIZE);
    assert_int_equal(proto_encode(buf, PROTO_HDR_LEN - 1, PROTO_GET, 1, NULL,
                                  0), -EMSGSIZE);
    /* Too many keys. */
    for (size_t i = 0; i < N(kv); i++)
        kv[i] = (struct proto_kv){"k", "v"};
    assert_int_equal(proto_encode(buf, sizeof(buf), PROTO_GET, 1, kv,
                                  PROTO_MAX_KEYS + 1), -EMSGSIZE);
    assert_true(proto_encode(buf, sizeof(buf), PROTO_GET, 1, kv,
                             PROTO_MAX_KEYS) > 0);
}

static void
encode_rejects_bad_keys_and_values(void **state)
{
    char buf[PROTO_MAX_MSG];
    static const struct proto_kv bad[] = {
        {"", "v"}, {"a=b", "v"}, {"a\nb", "v"}, {"k", "line\nbreak"},
    };

    for (size_t i = 0; i < N(bad); i++)
        assert_int_equal(proto_encode(buf, sizeof(buf), PROTO_GET, 1, &bad[i],
                                      1), -EINVAL);
}

static void
decode_rejects_bad_version(void **state)
{
    char buf[PROTO_MAX_MSG];
    static struct proto_msg m;
    size_t n = raw_packet(buf, PROTO_VERSION + 1, PROTO_HELLO, 77, 4, "a=1\n",
                          4);

    assert_int_equal(proto_decode(buf, n, &m), -EPROTONOSUPPORT);
    /* The id is still known, for the error reply. */
    assert_int_equal(m.hdr.id, 77);
    n = raw_packet(buf, 0, PROTO_HELLO, 1, 0, "", 0);
    assert_int_equal(proto_decode(buf, n, &m), -EPROTONOSUPPORT);
}

static void
decode_rejects_length_mismatch_and_bad_sizes(void **state)
{
    static char buf[2 * PROTO_MAX_MSG];
    static struct proto_msg m;
    size_t n;

    n = raw_packet(buf, PROTO_VERSION, PROTO_HELLO, 1, 5, "a=1\n", 4);
    assert_int_equal(proto_decode(buf, n, &m), -EPROTO);
    n = raw_packet(buf, PROTO_VERSION, PROTO_HELLO, 1, 3, "a=1\n", 4);
    assert_int_equal(proto_decode(buf, n, &m), -EPROTO);
    n = raw_packet(buf, PROTO_VERSION, PROTO_HELLO, 1, 0xffffffff, "a=1\n", 4);
    assert_int_equal(proto_decode(buf, n, &m), -EPROTO);
    /* Shorter than a header, longer than the limit. */
    assert_int_equal(proto_decode(buf, PROTO_HDR_LEN - 1, &m), -EPROTO);
    assert_int_equal(proto_decode(buf, 0, &m), -EPROTO);
    memset(buf + PROTO_HDR_LEN, 'a', PROTO_MAX_MSG);
    buf[PROTO_HDR_LEN + 1] = '=';
    buf[PROTO_MAX_MSG] = '\n';
    raw_packet(buf, PROTO_VERSION, PROTO_HELLO, 1,
               PROTO_MAX_MSG + 1 - PROTO_HDR_LEN, "", 0);
    assert_int_equal(proto_decode(buf, PROTO_MAX_MSG + 1, &m), -EPROTO);
}

static void
decode_rejects_malformed_payload(void **state)
{
    static const struct {
        const char *payload;
        size_t n;
    } bad[] = {
        {"a=1\0b=2\n", 8},   /* embedded NUL */
        {"a=1\nb=2\n\0", 9}, /* trailing NUL */
        {"a=1\nnoequals\n", 13},
        {"a=1\n\n", 5},      /* empty line */
        {"=v\n", 3},         /* empty key */
        {"a=1", 3},          /* no final newline */
        {"a=1\nb=2", 7},
    };
    char buf[PROTO_MAX_MSG];
    static struct proto_msg m;

    for (size_t i = 0; i < N(bad); i++) {
        size_t n = raw_packet(buf, PROTO_VERSION, PROTO_GET, 1,
                              (uint32_t)bad[i].n, bad[i].payload, bad[i].n);
        if (proto_decode(buf, n, &m) != -EPROTO)
            fail_msg("case %zu accepted", i);
    }
}

static void
decode_rejects_too_many_keys(void **state)
{
    char payload[PROTO_MAX_MSG], buf[PROTO_MAX_MSG];
    static struct proto_msg m;
    size_t o = 0, n;

    for (int i = 0; i < PROTO_MAX_KEYS; i++)
        o += (size_t)snprintf(payload + o, sizeof(payload) - o, "k%d=%d\n", i,
                              i);
    n = raw_packet(buf, PROTO_VERSION, PROTO_GET, 1, (uint32_t)o, payload, o);
    assert_int_equal(proto_decode(buf, n, &m), 0);
    assert_int_equal(m.nkv, PROTO_MAX_KEYS);
    assert_string_equal(proto_get(&m, "k31"), "31");

    o += (size_t)snprintf(payload + o, sizeof(payload) - o, "one=more\n");
    n = raw_packet(buf, PROTO_VERSION, PROTO_GET, 1, (uint32_t)o, payload, o);
    assert_int_equal(proto_decode(buf, n, &m), -EPROTO);
}

/* --- send / receive ------------------------------------------------------ */

static int
setup_pair(void **state)
{
    int *sv = malloc(2 * sizeof(int));

    if (sv == NULL ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    *state = sv;
    return 0;
}

static int
teardown_pair(void **state)
{
    int *sv = *state;

    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    free(sv);
    return 0;
}

static int
is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* The n lowest free fd numbers, which the kernel hands out next. */
static void
next_free_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        assert_true((fds[i] = dup(0)) >= 0);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static void
send_recv_without_fd(void **state)
{
    int *sv = *state, fd = 123;
    char buf[PROTO_MAX_MSG], got[PROTO_MAX_MSG];
    static struct proto_msg m;
    int n = proto_encode(buf, sizeof(buf), PROTO_HELLO, 5,
                         &(struct proto_kv){"pid", "1"}, 1);

    assert_int_equal(proto_send(sv[0], buf, (size_t)n, -1), 0);
    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), n);
    assert_int_equal(fd, -1);
    assert_int_equal(proto_decode(got, (size_t)n, &m), 0);
    assert_string_equal(proto_get(&m, "pid"), "1");
}

static void
send_recv_passes_fd_as_new_cloexec_descriptor(void **state)
{
    int *sv = *state, fd = -1;
    char buf[PROTO_MAX_MSG], got[PROTO_MAX_MSG];
    FILE *tmp = tmpfile();
    int orig, n;
    struct stat a, b;

    assert_non_null(tmp);
    orig = fileno(tmp);
    /* Not close-on-exec: the flag must come from the receiving side. */
    assert_int_equal(fcntl(orig, F_GETFD) & FD_CLOEXEC, 0);
    n = proto_encode(buf, sizeof(buf), PROTO_SOCKET, 8,
                     &(struct proto_kv){"name", "web"}, 1);
    assert_int_equal(proto_send(sv[0], buf, (size_t)n, orig), 0);
    /* The sender keeps its fd: the master lends, never gives. */
    assert_true(is_open(orig));
    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), n);
    assert_true(fd >= 0);
    assert_int_not_equal(fd, orig);
    assert_int_equal(fstat(orig, &a), 0);
    assert_int_equal(fstat(fd, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_dev, b.st_dev);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    /* One open file: a write through one shows through the other. */
    assert_int_equal(write(fd, "x", 1), 1);
    assert_int_equal(lseek(orig, 0, SEEK_CUR), 1);
    close(fd);
    fclose(tmp);
}

static void
recv_rejects_packet_larger_than_buffer(void **state)
{
    int *sv = *state, fd = 5, before[1];
    char buf[PROTO_MAX_MSG], got[64];
    static char big[200];
    struct proto_kv kv = {"k", big};
    FILE *tmp = tmpfile();
    int n;

    memset(big, 'b', 150);
    n = proto_encode(buf, sizeof(buf), PROTO_GET, 1, &kv, 1);
    assert_true(n > (int)sizeof(got));
    assert_int_equal(proto_send(sv[0], buf, (size_t)n, -1), 0);
    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), -EPROTO);
    assert_int_equal(fd, -1);

    /* With an fd riding along: it is closed, not leaked. */
    assert_non_null(tmp);
    assert_int_equal(proto_send(sv[0], buf, (size_t)n, fileno(tmp)), 0);
    next_free_fds(before, 1);
    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), -EPROTO);
    assert_int_equal(fd, -1);
    assert_false(is_open(before[0]));
    fclose(tmp);

    /* The channel is still usable after a refused packet. */
    n = proto_encode(buf, sizeof(buf), PROTO_READY, 2, NULL, 0);
    assert_int_equal(proto_send(sv[0], buf, (size_t)n, -1), 0);
    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), n);
}

static void
recv_rejects_two_fds_and_closes_both(void **state)
{
    int *sv = *state, fd = 5, next[2];
    char buf[PROTO_MAX_MSG], got[PROTO_MAX_MSG];
    int fds[2], n;
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c;

    assert_int_equal(pipe(fds), 0);
    n = proto_encode(buf, sizeof(buf), PROTO_SOCKET, 1, NULL, 0);
    iov = (struct iovec){.iov_base = buf, .iov_len = (size_t)n};
    memset(&u, 0, sizeof(u));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    assert_int_equal(sendmsg(sv[0], &msg, 0), n);
    close(fds[0]);
    close(fds[1]);

    next_free_fds(next, 2);
    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), -EPROTO);
    assert_int_equal(fd, -1);
    assert_false(is_open(next[0]));
    assert_false(is_open(next[1]));
}

static void
recv_reports_end_of_stream_and_nothing_to_read(void **state)
{
    int *sv = *state, fd = 5;
    char got[PROTO_MAX_MSG];

    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), -EAGAIN);
    close(sv[0]);
    sv[0] = -1;
    assert_int_equal(proto_recv(sv[1], got, sizeof(got), &fd), 0);
    assert_int_equal(fd, -1);
}

static void
send_to_closed_peer_fails_without_sigpipe(void **state)
{
    int *sv = *state;
    char buf[PROTO_MAX_MSG];
    int n = proto_encode(buf, sizeof(buf), PROTO_READY, 1, NULL, 0);

    close(sv[1]);
    sv[1] = -1;
    assert_int_equal(proto_send(sv[0], buf, (size_t)n, -1), -EPIPE);
}

/* --- channel_answer ------------------------------------------------------ */

static struct listener web, admin;
static struct listener *both[] = {&web, &admin};

static void
make_listener(struct listener *l, const char *name, const char *addr, int fd)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->name, sizeof(l->name), "%s", name);
    assert_int_equal(addr_parse(addr, &l->addr, NULL, 0), 0);
    l->bound = l->addr;
    assert_int_equal(addr_format((struct sockaddr *)&l->bound.ss,
                                 l->bound.len, l->bound_text,
                                 sizeof(l->bound_text)), 0);
    l->fd = fd;
    l->backlog = 128;
    l->refs = 1;
}

static int
setup_plan(void **state)
{
    static struct plan p;

    make_listener(&web, "web", "0.0.0.0:8080", 40);
    make_listener(&admin, "admin", "127.0.0.1:9000", 41);
    p = (struct plan){.ls = both, .nls = 2, .refs = 1};
    *state = &p;
    return 0;
}

/* Send a request through channel_answer and decode the reply. */
static int
ask(const struct plan *p, uint16_t type, uint32_t id, const char *key,
    const char *value, struct proto_msg *reply, int *fd)
{
    char buf[PROTO_MAX_MSG], out[PROTO_MAX_MSG];
    static struct proto_msg req;
    struct proto_kv kv = {key, value};
    int n = proto_encode(buf, sizeof(buf), type, id, &kv, key ? 1 : 0);

    assert_true(n > 0);
    assert_int_equal(proto_decode(buf, (size_t)n, &req), 0);
    *fd = 99;
    n = channel_answer(p, 3, &req, out, sizeof(out), fd);
    if (n > 0) {
        assert_int_equal(proto_decode(out, (size_t)n, reply), 0);
        assert_int_equal(reply->hdr.id, id);
    }
    return n;
}

static void
hello_gets_welcome_with_listener_names(void **state)
{
    static struct proto_msg r;
    int fd;

    assert_true(ask(*state, PROTO_HELLO, 11, "pid", "4242", &r, &fd) > 0);
    assert_int_equal(r.hdr.type, PROTO_WELCOME);
    assert_int_equal(fd, -1);
    assert_string_equal(proto_get(&r, "version"), "1");
    assert_string_equal(proto_get(&r, "generation"), "3");
    assert_string_equal(proto_get(&r, "listeners"), "web,admin");
}

static void
hello_without_listeners_gets_empty_list(void **state)
{
    struct plan empty = {.ls = NULL, .nls = 0};
    static struct proto_msg r;
    int fd;

    assert_true(ask(&empty, PROTO_HELLO, 1, NULL, NULL, &r, &fd) > 0);
    assert_int_equal(r.hdr.type, PROTO_WELCOME);
    assert_string_equal(proto_get(&r, "listeners"), "");
}

/*
 * handoff-protocol(7): WELCOME's list holds at most 2,047 bytes of whole
 * names (47 of 42 characters); one left out is still lent by name.
 */
static void
hello_lists_whole_names_within_2047_bytes(void **state)
{
    static struct listener many[60];
    static struct listener *ls[60];
    struct plan p = {.ls = ls, .nls = 60, .refs = 1};
    static struct proto_msg r;
    const char *list;
    size_t names = 1;
    int fd;

    (void)state;
    for (int i = 0; i < 60; i++) {
        char name[48];
        snprintf(name, sizeof(name), "%02d%040d", i, 0);
        make_listener(&many[i], name, "127.0.0.1:8080", 40 + i);
        ls[i] = &many[i];
    }
    assert_true(ask(&p, PROTO_HELLO, 1, NULL, NULL, &r, &fd) > 0);
    list = proto_get(&r, "listeners");
    assert_true(strlen(list) <= 2047);
    for (const char *c = list; *c; c++)
        names += *c == ',';
    assert_int_equal(names, 47);
    assert_int_equal(strlen(list), 47 * 42 + 46);
    assert_true(ask(&p, PROTO_GET, 2, "name", many[59].name, &r, &fd) > 0);
    assert_int_equal(r.hdr.type, PROTO_SOCKET);
}

static void
get_by_name_lends_the_socket(void **state)
{
    static struct proto_msg r;
    int fd;

    assert_true(ask(*state, PROTO_GET, 12, "name", "admin", &r, &fd) > 0);
    assert_int_equal(r.hdr.type, PROTO_SOCKET);
    assert_int_equal(fd, 41);
    assert_string_equal(proto_get(&r, "name"), "admin");
    assert_string_equal(proto_get(&r, "address"), "127.0.0.1:9000");

    assert_true(ask(*state, PROTO_GET, 13, "name", "web", &r, &fd) > 0);
    assert_int_equal(fd, 40);
    assert_string_equal(proto_get(&r, "address"), "0.0.0.0:8080");
}

static void
get_by_address_matches_wildcard_listener(void **state)
{
    static const struct {
        const char *address;
        int fd;
        const char *name;
    } cases[] = {
        {"0.0.0.0:8080", 40, "web"},
        {"127.0.0.1:8080", 40, "web"},
        {"10.1.2.3:8080", 40, "web"},
        {":8080", 40, "web"},
        {"127.0.0.1:9000", 41, "admin"},
    };
    static struct proto_msg r;

    for (size_t i = 0; i < N(cases); i++) {
        int fd;
        assert_true(ask(*state, PROTO_GET, 14, "address", cases[i].address,
                        &r, &fd) > 0);
        assert_int_equal(r.hdr.type, PROTO_SOCKET);
        assert_int_equal(fd, cases[i].fd);
        assert_string_equal(proto_get(&r, "name"), cases[i].name);
    }
}

static void
get_unknown_gets_enoent(void **state)
{
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"name", "nope"},
        {"name", ""},
        {"address", "127.0.0.1:8081"},
        {"address", "10.0.0.1:9000"}, /* admin is not a wildcard */
        {"address", "127.0.0.1:0"},
        {"address", "[::1]:8080"},
        {"address", "unix:/nowhere"},
        {"address", "not an address"},
    };
    static struct proto_msg r;
    char want[16];

    snprintf(want, sizeof(want), "%d", ENOENT);
    for (size_t i = 0; i < N(cases); i++) {
        int fd;
        assert_true(ask(*state, PROTO_GET, 15, cases[i].key, cases[i].value,
                        &r, &fd) > 0);
        assert_int_equal(r.hdr.type, PROTO_ERROR);
        assert_int_equal(fd, -1);
        assert_string_equal(proto_get(&r, "errno"), want);
        assert_non_null(proto_get(&r, "message"));
    }
}

static void
get_without_name_or_address_gets_einval(void **state)
{
    static struct proto_msg r;
    char want[16];
    int fd;

    snprintf(want, sizeof(want), "%d", EINVAL);
    assert_true(ask(*state, PROTO_GET, 16, "other", "x", &r, &fd) > 0);
    assert_int_equal(r.hdr.type, PROTO_ERROR);
    assert_int_equal(fd, -1);
    assert_string_equal(proto_get(&r, "errno"), want);
}

static void
unknown_type_gets_enosys(void **state)
{
    static struct proto_msg r;
    char want[16];
    int fd;

    snprintf(want, sizeof(want), "%d", ENOSYS);
    assert_true(ask(*state, 999, 17, "name", "web", &r, &fd) > 0);
    assert_int_equal(r.hdr.type, PROTO_ERROR);
    assert_int_equal(fd, -1);
    assert_string_equal(proto_get(&r, "errno"), want);
    /* A master's own message types are not requests either. */
    assert_true(ask(*state, PROTO_WELCOME, 18, NULL, NULL, &r, &fd) > 0);
    assert_int_equal(r.hdr.type, PROTO_ERROR);
    assert_string_equal(proto_get(&r, "errno"), want);
}

static void
ready_gets_no_reply(void **state)
{
    static struct proto_msg r;
    int fd;

    assert_int_equal(ask(*state, PROTO_READY, 19, NULL, NULL, &r, &fd), 0);
    assert_int_equal(fd, -1);
}

/* GET with two keys: the shim's unlink() asks with lend=no. */
static int
ask2(const struct plan *p, const char *address, const char *lend,
     struct proto_msg *reply, int *fd)
{
    char buf[PROTO_MAX_MSG], out[PROTO_MAX_MSG];
    static struct proto_msg req;
    struct proto_kv kv[2] = {{"address", address}, {"lend", lend}};
    int n = proto_encode(buf, sizeof(buf), PROTO_GET, 7, kv, lend ? 2 : 1);

    assert_true(n > 0);
    assert_int_equal(proto_decode(buf, (size_t)n, &req), 0);
    *fd = 99;
    n = channel_answer(p, 3, &req, out, sizeof(out), fd);
    assert_true(n > 0);
    assert_int_equal(proto_decode(out, (size_t)n, reply), 0);
    return n;
}

static void
get_lend_no_says_managed_without_an_fd(void **state)
{
    static struct proto_msg r;
    int fd;

    ask2(*state, "127.0.0.1:9000", "no", &r, &fd);
    assert_int_equal(r.hdr.type, PROTO_SOCKET);
    assert_int_equal(fd, -1);
    assert_string_equal(proto_get(&r, "name"), "admin");
    ask2(*state, "127.0.0.1:9001", "no", &r, &fd);
    assert_int_equal(r.hdr.type, PROTO_ERROR);
    assert_string_equal(proto_get(&r, "errno"), "2");
}

/* A unix path spelled another way finds the file the master made. */
static void
get_unix_path_matches_by_file(void **state)
{
    static struct proto_msg r;
    static struct listener sock;
    static struct listener *one[] = {&sock};
    struct plan p = {.ls = one, .nls = 1, .refs = 1};
    char dir[] = "/tmp/test_protocol.XXXXXX", addr[128], other[128];
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int s, fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/web.sock", dir);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(stat(sun.sun_path, &st), 0);
    snprintf(addr, sizeof(addr), "unix:%s", sun.sun_path);
    make_listener(&sock, "web", addr, 50);
    sock.dev = st.st_dev;
    sock.ino = st.st_ino;
    snprintf(other, sizeof(other), "unix:%s/./web.sock", dir);
    ask2(&p, other, "no", &r, &fd);
    assert_int_equal(r.hdr.type, PROTO_SOCKET);
    unlink(sun.sun_path);
    ask2(&p, other, "no", &r, &fd);
    assert_int_equal(r.hdr.type, PROTO_ERROR); /* gone: no file to match */
    close(s);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_is_sixteen_bytes),
        cmocka_unit_test(encode_decode_round_trip),
        cmocka_unit_test(encode_decode_without_keys),
        cmocka_unit_test(decode_keeps_unknown_keys_for_the_caller_to_ignore),
        cmocka_unit_test(decode_accepts_unknown_type),
        cmocka_unit_test(encode_rejects_oversize),
        cmocka_unit_test(encode_rejects_bad_keys_and_values),
        cmocka_unit_test(decode_rejects_bad_version),
        cmocka_unit_test(decode_rejects_length_mismatch_and_bad_sizes),
        cmocka_unit_test(decode_rejects_malformed_payload),
        cmocka_unit_test(decode_rejects_too_many_keys),
        cmocka_unit_test_setup_teardown(send_recv_without_fd, setup_pair,
                                        teardown_pair),
        cmocka_unit_test_setup_teardown(
            send_recv_passes_fd_as_new_cloexec_descriptor, setup_pair,
            teardown_pair),
        cmocka_unit_test_setup_teardown(recv_rejects_packet_larger_than_buffer,
                                        setup_pair, teardown_pair),
        cmocka_unit_test_setup_teardown(recv_rejects_two_fds_and_closes_both,
                                        setup_pair, teardown_pair),
        cmocka_unit_test_setup_teardown(
            recv_reports_end_of_stream_and_nothing_to_read, setup_pair,
            teardown_pair),
        cmocka_unit_test_setup_teardown(
            send_to_closed_peer_fails_without_sigpipe, setup_pair,
            teardown_pair),
        cmocka_unit_test_setup(hello_gets_welcome_with_listener_names,
                               setup_plan),
        cmocka_unit_test(hello_without_listeners_gets_empty_list),
        cmocka_unit_test(hello_lists_whole_names_within_2047_bytes),
        cmocka_unit_test_setup(get_by_name_lends_the_socket, setup_plan),
        cmocka_unit_test_setup(get_by_address_matches_wildcard_listener,
                               setup_plan),
        cmocka_unit_test_setup(get_unknown_gets_enoent, setup_plan),
        cmocka_unit_test_setup(get_without_name_or_address_gets_einval,
                               setup_plan),
        cmocka_unit_test_setup(unknown_type_gets_enosys, setup_plan),
        cmocka_unit_test_setup(ready_gets_no_reply, setup_plan),
        cmocka_unit_test_setup(get_lend_no_says_managed_without_an_fd,
                               setup_plan),
        cmocka_unit_test(get_unix_path_matches_by_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
