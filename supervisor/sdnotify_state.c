/* sdnotify_state.c: handoff's own NOTIFY_SOCKET written before an upgrade's
 * exec and adopted, checked first, by the image it executes. */
#include "sdnotify_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sock_state.h"
#include "state.h"

#define FD_MAX 0x7fffffffLL

/* The NOTIFY_SOCKET value of n's address (sdnotify_address's inverse). */
static void
address_text(const struct sdnotify *n, char *buf, size_t size)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);

    if (n->sun.sun_path[0] == '\0' && n->len > off)
        snprintf(buf, size, "@%.*s", (int)(n->len - off - 1),
                 n->sun.sun_path + 1);
    else
        snprintf(buf, size, "%.*s", (int)sizeof(n->sun.sun_path),
                 n->sun.sun_path);
}

json_t *
sdnotify_state_write(const struct sdnotify *n)
{
    char text[sizeof(n->sun.sun_path) + 1];
    json_t *o;
    int f;

    if (n == NULL)
        return json_null();
    if ((o = json_object()) == NULL)
        return NULL;
    f = 0;
    address_text(n, text, sizeof(text));
    state_put(o, "fd", state_num(n->fd), &f);
    state_put(o, "cookie", sock_state_u64(sock_state_cookie(n->fd)), &f);
    state_put(o, "address", json_string(text), &f);
    state_put(o, "warned", state_num(n->warned), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
sdnotify_state_inherit(const struct sdnotify *n, int on)
{
    return n == NULL ? 0 : sock_state_keep(n->fd, on);
}

int
sdnotify_state_adopt(const json_t *o, struct sdnotify **out, char *err,
                     size_t errlen)
{
    struct state_rd r = {.prefix = "sdnotify: ", .err = err, .errlen = errlen};
    struct sock_want w = {.family = AF_UNIX, .type = SOCK_DGRAM, .path = ""};
    char text[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = "";
    struct sdnotify *n;

    *out = NULL;
    if (json_is_null(o))
        return 0;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "sdnotify: neither null nor an object");
        return -EINVAL;
    }
    if ((n = calloc(1, sizeof(*n))) == NULL)
        return -ENOMEM;
    n->fd = (int)state_get(&r, o, "fd", 0, FD_MAX);
    w.cookie = sock_state_get_u64(&r, o, "cookie");
    state_text(&r, o, "address", text, sizeof(text));
    n->warned = (int)state_get(&r, o, "warned", 0, 1);
    if (!r.failed && sdnotify_address(text, &n->sun, &n->len) < 0)
        state_fault(&r, "address", "\"%s\" is not a NOTIFY_SOCKET address",
                    text);
    if (!r.failed)
        sock_state_check(&r, n->fd, &w);
    if (r.failed) {
        free(n);
        return -EINVAL;
    }
    (void)sock_state_keep(n->fd, 0);
    *out = n;
    return 0;
}
