/* metrics_state.c: the metrics endpoint's listening socket and counters
 * written before an upgrade's exec and adopted, checked first, by the image it
 * executes. */
#include "metrics_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "handle.h"
#include "sock_state.h"
#include "state.h"

#define FD_MAX 0x7fffffffLL

static int
server_fd(const struct metrics *mt)
{
    uv_os_fd_t fd;

    return uv_fileno((const uv_handle_t *)mt->server, &fd) < 0 ? -1 : fd;
}

json_t *
metrics_state_write(const struct metrics *mt)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char text[ADDR_STRLEN] = "";
    json_t *o;
    int f = 0, fd;

    if (mt == NULL)
        return json_null();
    if ((o = json_object()) == NULL)
        return NULL;
    fd = server_fd(mt);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        addr_format((struct sockaddr *)&ss, len, text, sizeof(text)) < 0)
        text[0] = '\0'; /* refused on reading */
    state_put(o, "fd", state_num(fd), &f);
    state_put(o, "cookie", sock_state_u64(sock_state_cookie(fd)), &f);
    state_put(o, "address", json_string(text), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
metrics_state_inherit(const struct metrics *mt, int on)
{
    int fd;

    if (mt == NULL)
        return 0;
    if ((fd = server_fd(mt)) < 0)
        return -EBADF;
    return sock_state_keep(fd, on);
}

int
metrics_state_adopt(uv_loop_t *loop, const json_t *o, view_fn *view, void *arg,
                    struct metrics_data *data, struct metrics **out, char *err,
                    size_t errlen)
{
    struct state_rd r = {.prefix = "metrics: ", .err = err, .errlen = errlen};
    struct sock_want w = {.type = SOCK_STREAM, .listening = 1};
    char text[ADDR_STRLEN] = "", why[256];
    struct metrics *mt;
    struct addr a;
    int fd, rc;

    *out = NULL;
    if (json_is_null(o))
        return 0;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "metrics: neither null nor an object");
        return -EINVAL;
    }
    fd = (int)state_get(&r, o, "fd", 0, FD_MAX);
    w.cookie = sock_state_get_u64(&r, o, "cookie");
    state_text(&r, o, "address", text, sizeof(text));
    if (!r.failed && addr_parse(text, &a, why, sizeof(why)) < 0)
        state_fault(&r, "address", "%s", why);
    else if (!r.failed && (addr_family(&a) == AF_UNIX || a.dgram))
        state_fault(&r, "address", "\"%s\" is not a TCP address", text);
    if (r.failed)
        return -EINVAL;
    w.family = addr_family(&a);
    w.addr = &a;
    if (sock_state_check(&r, fd, &w) < 0)
        return -EINVAL;
    if ((mt = calloc(1, sizeof(*mt))) == NULL ||
        (mt->server = malloc(sizeof(*mt->server))) == NULL) {
        free(mt);
        return -ENOMEM;
    }
    mt->view = view;
    mt->arg = arg;
    mt->data = data;
    /* listen() again on a socket checked to be listening does not fail: the
     * handle owns fd only once it succeeded. */
    if ((rc = metrics_serve(mt, loop, fd)) < 0) {
        snprintf(err, errlen, "metrics: fd %d: %s", fd, uv_strerror(rc));
        handle_close(mt->server);
        free(mt);
        return rc;
    }
    (void)sock_state_keep(fd, 0);
    *out = mt;
    return 0;
}

/* --- the counters ----------------------------------------------------------
 */

static json_t *
hist(const struct metrics_hist *h)
{
    json_t *o = json_object(), *b = json_array();
    int f = o == NULL || b == NULL;

    for (size_t i = 0; !f && i <= METRICS_NBUCKETS; i++)
        if (json_array_append_new(b, sock_state_u64(h->bucket[i])) < 0)
            f = 1;
    if (f) {
        json_decref(o);
        json_decref(b);
        return NULL;
    }
    state_put(o, "bucket", b, &f);
    state_put(o, "count", sock_state_u64(h->count), &f);
    state_put(o, "sum", json_real(h->sum), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
metrics_state_write_data(const struct metrics_data *d)
{
    json_t *o = json_object();
    int f = o == NULL;

    if (f)
        return NULL;
    state_put(o, "ready", hist(&d->ready), &f);
    state_put(o, "roll", hist(&d->roll), &f);
    state_put(o, "drain", hist(&d->drain), &f);
    state_put(o, "refused", sock_state_u64(d->refused), &f);
    state_put(o, "upgrades_ok", sock_state_u64(d->upgrades_ok), &f);
    state_put(o, "upgrades_refused", sock_state_u64(d->upgrades_refused), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void
read_hist(struct state_rd *r, const json_t *o, const char *key,
          struct metrics_hist *h)
{
    const json_t *v = json_object_get(o, key), *b, *s;

    if (r->failed)
        return;
    if (!json_is_object(v)) {
        state_fault(r, key, v == NULL ? "missing" : "not an object");
        return;
    }
    snprintf(r->path, sizeof(r->path), "%s", key);
    b = json_object_get(v, "bucket");
    if (!json_is_array(b) || json_array_size(b) != METRICS_NBUCKETS + 1)
        state_fault(r, "bucket", "not an array of %d counts",
                    METRICS_NBUCKETS + 1);
    for (size_t i = 0; !r->failed && i <= METRICS_NBUCKETS; i++) {
        const char *t = json_string_value(json_array_get(b, i));
        char *e;

        errno = 0;
        h->bucket[i] = t != NULL ? strtoull(t, &e, 10) : 0;
        if (t == NULL || *t < '0' || *t > '9' || *e != '\0' || errno != 0)
            state_fault(r, "bucket", "[%zu] is not a 64-bit unsigned count", i);
    }
    snprintf(r->path, sizeof(r->path), "%s", key);
    h->count = sock_state_get_u64(r, v, "count");
    s = json_object_get(v, "sum");
    if (!r->failed && (!json_is_number(s) || json_number_value(s) < 0))
        state_fault(r, "sum", "not a number of seconds");
    else if (!r->failed)
        h->sum = json_number_value(s);
    r->path[0] = '\0';
}

int
metrics_state_read_data(const json_t *o, struct metrics_data *d, char *err,
                        size_t errlen)
{
    struct state_rd r = {
        .prefix = "metrics data: ", .err = err, .errlen = errlen};
    struct metrics_data n;

    memset(&n, 0, sizeof(n));
    if (!json_is_object(o)) {
        snprintf(err, errlen, "metrics data: not an object");
        return -EINVAL;
    }
    read_hist(&r, o, "ready", &n.ready);
    read_hist(&r, o, "roll", &n.roll);
    read_hist(&r, o, "drain", &n.drain);
    n.refused = sock_state_get_u64(&r, o, "refused");
    n.upgrades_ok = sock_state_get_u64(&r, o, "upgrades_ok");
    n.upgrades_refused = sock_state_get_u64(&r, o, "upgrades_refused");
    if (r.failed)
        return -EINVAL;
    *d = n;
    return 0;
}
