/* notify_state.c: the workers' NOTIFY_SOCKET written before an upgrade's exec
 * and adopted, checked first, by the image it executes. */
#include "notify_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sock_state.h"
#include "state.h"

#define FD_MAX 0x7fffffffLL

json_t *
notify_state_write(const struct notify *n)
{
    json_t *o = json_object();
    int f = o == NULL;

    if (f)
        return NULL;
    state_put(o, "fd", state_num(n->fd), &f);
    state_put(o, "cookie", sock_state_u64(sock_state_cookie(n->fd)), &f);
    state_put(o, "path", json_string(n->path), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
notify_state_inherit(const struct notify *n, int on)
{
    return sock_state_keep(n->fd, on);
}

int
notify_state_adopt(uv_loop_t *loop, const json_t *o, notify_cb *cb, void *ctx,
                   struct notify **out, char *err, size_t errlen)
{
    struct state_rd r = {.prefix = "notify: ", .err = err, .errlen = errlen};
    struct sock_want w = {.family = AF_UNIX, .type = SOCK_DGRAM, .passcred = 1};
    struct notify *n;
    int rc;

    *out = NULL;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "notify: not an object");
        return -EINVAL;
    }
    if ((n = calloc(1, sizeof(*n))) == NULL)
        return -ENOMEM;
    n->fd = (int)state_get(&r, o, "fd", 0, FD_MAX);
    w.cookie = sock_state_get_u64(&r, o, "cookie");
    state_text(&r, o, "path", n->path, sizeof(n->path));
    if (!r.failed && n->path[0] != '/')
        state_fault(&r, "path", "\"%s\" is not an absolute path", n->path);
    w.path = n->path;
    if (!r.failed)
        sock_state_check(&r, n->fd, &w);
    if (r.failed) {
        free(n);
        return -EINVAL;
    }
    n->cb = cb;
    n->ctx = ctx;
    if ((rc = notify_poll(loop, n)) < 0) {
        free(n);
        return rc;
    }
    /* Ours from now on: no worker spawned later inherits it by chance. */
    (void)sock_state_keep(n->fd, 0);
    *out = n;
    return 0;
}
