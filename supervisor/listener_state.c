/* listener_state.c: listeners written as JSON before an upgrade's exec, and
 * taken over by the new image from the same descriptors, each checked first. */
#include "listener_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sock_state.h"
#include "state.h"
#include "steer.h"

/* --- writing ---------------------------------------------------------------
 */

static json_t *
address(const struct addr *a)
{
    size_t len = a->len < sizeof(a->ss) ? a->len : sizeof(a->ss);

    return json_pack("{s:I,s:o,s:b}", "len", (json_int_t)a->len, "sockaddr",
                     state_hex(&a->ss, len), "dgram", a->dgram);
}

static json_t *
group(const struct steer *s)
{
    json_t *o = json_object(), *m = json_array();
    int f = o == NULL || m == NULL;

    for (size_t i = 0; !f && i < s->n; i++)
        if (json_array_append_new(
                m, json_pack("{s:i,s:o,s:i,s:I}", "fd", s->m[i].fd, "cookie",
                             sock_state_u64(sock_state_cookie(s->m[i].fd)),
                             "owner", (int)s->m[i].owner, "gen",
                             (json_int_t)s->m[i].gen)) < 0)
            f = 1;
    if (f) {
        json_decref(o);
        json_decref(m);
        return NULL;
    }
    state_put(o, "addr", address(&s->addr), &f);
    state_put(o, "backlog", state_num(s->backlog), &f);
    state_put(o, "nonblocking", state_num(s->nonblocking), &f);
    state_put(o, "members", m, &f);
    state_put(o, "pinned", state_num(s->pinned), &f);
    state_put(o, "probed", state_num(s->probed), &f);
    state_put(o, "swaps", state_num(s->swaps), &f);
    state_put(o, "quic", state_num(s->quic), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
listener_state_write(const struct listener *l)
{
    json_t *o = json_object();
    int f = o == NULL;

    if (f)
        return NULL;
    state_put(o, "name", json_string(l->name), &f);
    state_put(o, "addr", address(&l->addr), &f);
    state_put(o, "bound", address(&l->bound), &f);
    state_put(o, "bound_text", json_string(l->bound_text), &f);
    state_put(o, "fd", state_num(l->fd), &f);
    state_put(o, "cookie", sock_state_u64(sock_state_cookie(l->fd)), &f);
    state_put(o, "backlog", state_num(l->backlog), &f);
    state_put(o, "nonblocking", state_num(l->nonblocking), &f);
    state_put(o, "traffic", state_num(l->traffic), &f);
    state_put(o, "dev", sock_state_u64((uint64_t)l->dev), &f);
    state_put(o, "ino", sock_state_u64((uint64_t)l->ino), &f);
    state_put(o, "mode", state_num(l->mode), &f);
    state_put(o, "uid", state_num((long long)l->uid), &f);
    state_put(o, "gid", state_num((long long)l->gid), &f);
    state_put(o, "steer", l->steer != NULL ? group(l->steer) : json_null(), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* --- handing the descriptors on --------------------------------------------
 */

/* FD_CLOEXEC of fd set (keep = 0) or cleared (keep = 1); its old flags in
 * *was. 0 or -errno. */
static int
set_keep(int fd, int keep, int *was)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0)
        return -errno;
    *was = fl;
    if (fcntl(fd, F_SETFD, keep ? fl & ~FD_CLOEXEC : fl | FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

int
listener_state_inherit(const struct listener *l, int on)
{
    int fds[STEER_MAX_MEMBERS + 1], was[STEER_MAX_MEMBERS + 1];
    size_t n = 0, done;
    int rc = 0;

    if (l->fd >= 0)
        fds[n++] = l->fd;
    for (size_t i = 0; l->steer != NULL && i < l->steer->n; i++)
        fds[n++] = l->steer->m[i].fd;
    for (done = 0; done < n && rc == 0; done++)
        rc = set_keep(fds[done], on, &was[done]);
    if (rc < 0) /* all or none: put back those already changed */
        for (size_t i = 0; i + 1 < done; i++)
            fcntl(fds[i], F_SETFD, was[i]);
    return rc;
}

/* --- reading ------------------------------------------------------------- */

#define U32 0xffffffffLL
#define FD_MAX 0x7fffffffLL

static void
get_addr(struct state_rd *r, const json_t *o, const char *key, struct addr *a)
{
    const json_t *v = json_object_get(o, key), *s;
    const char *hex;
    size_t len;

    memset(a, 0, sizeof(*a));
    if (!json_is_object(v)) {
        state_fault(r, key, v == NULL ? "missing" : "not an object");
        return;
    }
    len = (size_t)state_get(r, v, "len", 0, sizeof(a->ss));
    s = json_object_get(v, "sockaddr");
    if (r->failed)
        return;
    if (!json_is_string(s) || json_string_length(s) != 2 * len) {
        state_fault(r, key, "sockaddr: not %zu bytes in hex", len);
        return;
    }
    hex = json_string_value(s);
    if (state_unhex(hex, len, &a->ss) < 0) {
        state_fault(r, key, "sockaddr: not hex");
        memset(a, 0, sizeof(*a));
        return;
    }
    a->len = (socklen_t)len;
    /* Absent from the state of an image before UDP: a stream socket's. */
    a->dgram = json_is_true(json_object_get(v, "dgram"));
    if (len < sizeof(sa_family_t) ||
        (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6 &&
         a->ss.ss_family != AF_UNIX))
        state_fault(r, key, "not an IPv4, IPv6 or unix address");
}

/*
 * Whether fd is the socket the document says: open, a socket, listening,
 * bound to a, the socket of that cookie (0: not checked), with
 * SO_REUSEPORT when reuseport. 0, or -EINVAL and the fault
 * in r under key.
 */
static int
check_fd(struct state_rd *r, const char *key, int fd, const struct addr *a,
         uint64_t want, int nonblocking, int reuseport)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(int);
    char text[ADDR_STRLEN], bound[ADDR_STRLEN];
    struct stat st;
    int on = 0, fl;
    uint64_t c;

    if ((fl = fcntl(fd, F_GETFL)) < 0) {
        state_fault(r, key, "fd %d is not open", fd);
        return -EINVAL;
    }
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        state_fault(r, key, "fd %d is not a socket", fd);
        return -EINVAL;
    }
    if (a->dgram) {
        int type = 0;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
            type != SOCK_DGRAM) {
            state_fault(r, key, "fd %d is not a datagram socket", fd);
            return -EINVAL;
        }
    } else if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 ||
               !on) {
        state_fault(r, key, "fd %d is not listening", fd);
        return -EINVAL;
    }
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        state_fault(r, key, "fd %d: getsockname: %s", fd, strerror(errno));
        return -EINVAL;
    }
    if (!addr_equal(a, (const struct sockaddr *)&ss, len)) {
        if (addr_format((struct sockaddr *)&ss, len, text, sizeof(text)) < 0)
            snprintf(text, sizeof(text), "an address of family %d",
                     ss.ss_family);
        if (addr_format((const struct sockaddr *)&a->ss, a->len, bound,
                        sizeof(bound)) < 0)
            snprintf(bound, sizeof(bound), "?");
        state_fault(r, key, "fd %d is bound to %s, not %s", fd, text, bound);
        return -EINVAL;
    }
    if ((c = sock_state_cookie(fd)) != want && want != 0) {
        state_fault(
            r, key,
            "fd %d is another socket than the one recorded (cookie %" PRIu64
            ", not %" PRIu64 ")",
            fd, c, want);
        return -EINVAL;
    }
    /* O_NONBLOCK is not checked: it belongs to the one open file the
     * workers share, and a worker may set it (python's socket module
     * does); nonblocking is what handoff set, as before the exec. */
    (void)nonblocking;
    len = sizeof(on);
    on = 0;
    if (reuseport &&
        (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &len) < 0 || !on)) {
        state_fault(r, key, "fd %d has no SO_REUSEPORT: not of a group", fd);
        return -EINVAL;
    }
    return 0;
}

static struct steer *
read_group(struct state_rd *r, const json_t *o, const struct listener *l)
{
    struct steer *s = calloc(1, sizeof(*s));
    const json_t *m;
    uint64_t cookies[STEER_MAX_MEMBERS];
    size_t n;

    if (s == NULL)
        return NULL;
    snprintf(r->path, sizeof(r->path), "steer");
    get_addr(r, o, "addr", &s->addr);
    s->backlog = (long)state_get(r, o, "backlog", 0, FD_MAX);
    s->nonblocking = (int)state_get(r, o, "nonblocking", 0, 1);
    s->pinned = (unsigned)state_get(r, o, "pinned", 0, U32);
    s->probed = (unsigned)state_get(r, o, "probed", 0, U32);
    s->swaps = (unsigned)state_get(r, o, "swaps", 0, U32);
    if (json_object_get(o, "quic") != NULL) /* from an image with QUIC */
        s->quic = (int)state_get(r, o, "quic", 0, 1);
    s->ops = &steer_kernel; /* as listener_open's groups */
    m = json_object_get(o, "members");
    if (!r->failed && !json_is_array(m))
        state_fault(r, "members", m == NULL ? "missing" : "not an array");
    else if (!r->failed && json_array_size(m) > STEER_MAX_MEMBERS)
        state_fault(r, "members", "%zu entries, at most %d", json_array_size(m),
                    STEER_MAX_MEMBERS);
    n = r->failed ? 0 : json_array_size(m);
    if (!r->failed && (s->addr.len != l->bound.len ||
                       memcmp(&s->addr.ss, &l->bound.ss, s->addr.len) != 0))
        state_fault(r, "addr", "not the listener's bound address");
    for (size_t i = 0; i < n && !r->failed; i++) {
        const json_t *e = json_array_get(m, i);
        struct steer_member *sm = &s->m[i];

        snprintf(r->path, sizeof(r->path), "steer.members[%zu]", i);
        if (!json_is_object(e)) {
            state_fault(r, "", "not an object");
            break;
        }
        sm->fd = (int)state_get(r, e, "fd", 0, FD_MAX);
        cookies[i] = sock_state_get_u64(r, e, "cookie");
        sm->owner = (enum steer_owner)state_get(r, e, "owner", STEER_RESERVED,
                                                STEER_EXTRA);
        sm->gen = (unsigned)state_get(r, e, "gen", 0, U32);
        for (size_t j = 0; j < i && !r->failed; j++)
            if (s->m[j].fd == sm->fd)
                state_fault(r, "fd", "%d is member %zu's too", sm->fd, j);
        for (size_t j = 0; j < i && !r->failed; j++)
            if (sm->owner == STEER_GEN && s->m[j].owner == STEER_GEN &&
                s->m[j].gen == sm->gen)
                state_fault(r, "gen", "%u is member %zu's too", sm->gen, j);
        for (size_t j = 0; j < i && !r->failed; j++)
            if (cookies[i] != 0 && cookies[j] == cookies[i])
                state_fault(r, "cookie", "member %zu's socket too", j);
        if (!r->failed)
            check_fd(r, "", sm->fd, &s->addr, cookies[i], s->nonblocking, 1);
        s->n = i + 1;
    }
    /* An extra member (a server that binds once per thread) belongs with
     * its generation's first: steer_fds and steer_leave_one count on it. */
    for (size_t i = 0; i < s->n && !r->failed; i++)
        if (s->m[i].owner == STEER_EXTRA && steer_fd(s, s->m[i].gen) < 0) {
            snprintf(r->path, sizeof(r->path), "steer.members[%zu]", i);
            state_fault(r, "gen", "%u has no first member", s->m[i].gen);
        }
    if (r->failed) {
        free(s); /* not steer_close: the descriptors are not ours */
        return NULL;
    }
    return s;
}

int
listener_state_adopt(const json_t *o, struct listener **out, char *err,
                     size_t errlen)
{
    struct state_rd r = {
        .prefix = "listener ?: ", .err = err, .errlen = errlen};
    struct listener *l;
    const json_t *g;
    uint64_t want;
    int rc;

    *out = NULL;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "listener ?: not an object");
        return -EINVAL;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return -ENOMEM;
    state_text(&r, o, "name", l->name, sizeof(l->name));
    if (!r.failed)
        snprintf(r.prefix, sizeof(r.prefix), "listener %s: ", l->name);
    get_addr(&r, o, "addr", &l->addr);
    get_addr(&r, o, "bound", &l->bound);
    state_text(&r, o, "bound_text", l->bound_text, sizeof(l->bound_text));
    l->fd = (int)state_get(&r, o, "fd", -1, FD_MAX);
    want = sock_state_get_u64(&r, o, "cookie");
    l->backlog = (long)state_get(&r, o, "backlog", 0, FD_MAX);
    l->nonblocking = (int)state_get(&r, o, "nonblocking", 0, 1);
    l->traffic =
        (int)state_get(&r, o, "traffic", TRAFFIC_STEERED, TRAFFIC_SHARED);
    l->dev = (dev_t)sock_state_get_u64(&r, o, "dev");
    l->ino = (ino_t)sock_state_get_u64(&r, o, "ino");
    l->mode = (long)state_get(&r, o, "mode", -1, U32);
    l->uid = (uid_t)state_get(&r, o, "uid", 0, U32);
    l->gid = (gid_t)state_get(&r, o, "gid", 0, U32);
    l->refs = 1;
    g = json_object_get(o, "steer");
    if (!r.failed && g == NULL)
        state_fault(&r, "steer", "missing");
    else if (!r.failed && !json_is_null(g) && !json_is_object(g))
        state_fault(&r, "steer", "neither null nor an object");
    else if (!r.failed && (l->fd >= 0) == json_is_object(g))
        state_fault(&r, "fd",
                    json_is_object(g) ? "%d with a group: not -1"
                                      : "%d without a group",
                    l->fd);
    if (!r.failed && l->fd >= 0)
        check_fd(&r, "fd", l->fd, &l->bound, want, l->nonblocking, 0);
    if (!r.failed && json_is_object(g)) {
        l->steer = read_group(&r, g, l);
        if (l->steer == NULL && !r.failed) {
            free(l);
            return -ENOMEM;
        }
    }
    if (r.failed) {
        free(l);
        return -EINVAL;
    }
    /* Ours from now on: no worker spawned later inherits them by chance. */
    if ((rc = listener_state_inherit(l, 0)) < 0) {
        snprintf(err, errlen, "listener %s: FD_CLOEXEC: %s", l->name,
                 strerror(-rc));
        free(l->steer);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}
