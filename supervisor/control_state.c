/* control_state.c: the control socket's listening socket written before an
 * upgrade's exec and adopted, checked first, by the image it executes. */
#include "control_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "handle.h"
#include "sock_state.h"
#include "state.h"

#define FD_MAX 0x7fffffffLL
#define U32 0xffffffffLL

json_t *
control_state_write(const struct control *ctl)
{
    uv_os_fd_t fd = -1;
    json_t *o;
    int f = 0;

    if (ctl == NULL)
        return json_null();
    if ((o = json_object()) == NULL)
        return NULL;
    if (uv_fileno((const uv_handle_t *)ctl->server, &fd) < 0)
        fd = -1; /* refused on reading: a control without its socket */
    state_put(o, "fd", state_num(fd), &f);
    state_put(o, "cookie", sock_state_u64(sock_state_cookie(fd)), &f);
    state_put(o, "path", json_string(ctl->path), &f);
    state_put(o, "dev", sock_state_u64((uint64_t)ctl->dev), &f);
    state_put(o, "ino", sock_state_u64((uint64_t)ctl->ino), &f);
    state_put(o, "clients", state_num(ctl->clients), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
control_state_inherit(const struct control *ctl, int on)
{
    uv_os_fd_t fd;

    if (ctl == NULL)
        return 0;
    if (uv_fileno((const uv_handle_t *)ctl->server, &fd) < 0)
        return -EBADF;
    return sock_state_keep(fd, on);
}

/* The file at ctl->path: the socket file recorded, mode 0600. */
static void
check_file(struct state_rd *r, const struct control *ctl)
{
    struct stat st;

    if (lstat(ctl->path, &st) < 0)
        state_fault(r, "path", "%s: %s", ctl->path, strerror(errno));
    else if (st.st_dev != ctl->dev || st.st_ino != ctl->ino)
        state_fault(r, "path", "%s is another file than the one recorded",
                    ctl->path);
    else if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0600)
        state_fault(r, "path", "%s is not a socket of mode 0600 (%04o)",
                    ctl->path, (unsigned)(st.st_mode & 07777));
}

int
control_state_adopt(uv_loop_t *loop, const struct control_ops *ops,
                    const json_t *o, struct control **out, char *err,
                    size_t errlen)
{
    struct state_rd r = {.prefix = "control: ", .err = err, .errlen = errlen};
    struct sock_want w = {
        .family = AF_UNIX, .type = SOCK_STREAM, .listening = 1};
    struct control *ctl;
    int fd, rc;

    *out = NULL;
    if (json_is_null(o))
        return 0;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "control: neither null nor an object");
        return -EINVAL;
    }
    if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
        return -ENOMEM;
    fd = (int)state_get(&r, o, "fd", 0, FD_MAX);
    w.cookie = sock_state_get_u64(&r, o, "cookie");
    state_text(&r, o, "path", ctl->path, sizeof(ctl->path));
    ctl->dev = (dev_t)sock_state_get_u64(&r, o, "dev");
    ctl->ino = (ino_t)sock_state_get_u64(&r, o, "ino");
    ctl->clients = (unsigned)state_get(&r, o, "clients", 0, U32);
    if (!r.failed && ctl->path[0] != '/')
        state_fault(&r, "path", "\"%s\" is not an absolute path", ctl->path);
    w.path = ctl->path;
    if (!r.failed)
        sock_state_check(&r, fd, &w);
    if (!r.failed)
        check_file(&r, ctl);
    if (r.failed) {
        free(ctl);
        return -EINVAL;
    }
    ctl->loop = loop;
    ctl->ops = ops;
    if ((ctl->server = malloc(sizeof(*ctl->server))) == NULL) {
        free(ctl);
        return -ENOMEM;
    }
    /* listen() again on a socket checked to be listening does not fail: the
     * handle owns fd only once it succeeded. */
    if ((rc = control_serve(ctl, fd)) < 0) {
        snprintf(err, errlen, "control: fd %d: %s", fd, uv_strerror(rc));
        handle_close(ctl->server);
        free(ctl);
        return rc;
    }
    (void)sock_state_keep(fd, 0);
    *out = ctl;
    return 0;
}
