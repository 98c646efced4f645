/* control_state.c: the control socket's listening socket written before an
 * upgrade's exec and adopted, checked first, by the image it executes. */
#include "control_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handle.h"
#include "sock_state.h"
#include "state.h"

#define FD_MAX 0x7fffffffLL
#define U32 0xffffffffLL

/* The clients carried: those waiting for an answer of the next image. */
static int
carried(const struct conn *c)
{
    return c->state == C_ROLL_WAIT || c->state == C_UPGRADE;
}

static json_t *
conns_write(const struct control *ctl)
{
    json_t *a = json_array();
    int f = a == NULL;

    for (const struct conn *c = ctl->conns; c && !f; c = c->next) {
        uv_os_fd_t fd = -1;

        if (!carried(c))
            continue;
        if (uv_fileno((const uv_handle_t *)c->pipe, &fd) < 0)
            continue; /* closing: it gets nothing either way */
        f = json_array_append_new(
                a,
                json_pack("{s:i,s:s,s:I,s:i,s:i,s:I}", "fd", fd, "state",
                          c->state == C_UPGRADE ? "upgrade" : "roll", "client",
                          (json_int_t)c->client, "progress", c->progress, "pid",
                          (int)c->pid, "uid", (json_int_t)c->uid)) < 0;
    }
    if (f) {
        json_decref(a);
        return NULL;
    }
    return a;
}

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
    state_put(o, "conns", conns_write(ctl), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
control_state_inherit(const struct control *ctl, int on)
{
    uv_os_fd_t fd, cfd;
    int rc;

    if (ctl == NULL)
        return 0;
    if (uv_fileno((const uv_handle_t *)ctl->server, &fd) < 0)
        return -EBADF;
    if ((rc = sock_state_keep(fd, on)) < 0)
        return rc;
    for (const struct conn *c = ctl->conns; c; c = c->next)
        if (carried(c) && uv_fileno((const uv_handle_t *)c->pipe, &cfd) == 0 &&
            (rc = sock_state_keep(cfd, on)) < 0) {
            (void)control_state_inherit(ctl, !on);
            return rc;
        }
    return 0;
}

/* The clients carried, read and checked before anything is adopted. */
struct carried_conns {
    struct conn cs[CONTROL_MAX_CONNS];
    int fds[CONTROL_MAX_CONNS];
    size_t n;
};

/* The clients a names, each checked: a connected unix stream socket whose
 * peer is the process recorded. */
static void
conns_read(struct state_rd *rd, const json_t *a, struct carried_conns *cc)
{
    struct state_rd r = *rd;
    struct conn *cs = cc->cs;
    int *fds = cc->fds;
    size_t n = 0;
    const json_t *e;

    cc->n = 0;
    if (a == NULL || rd->failed)
        return; /* none carried */
    if (!json_is_array(a) || json_array_size(a) > CONTROL_MAX_CONNS) {
        state_fault(rd, "conns", "not an array of at most %d clients",
                    CONTROL_MAX_CONNS);
        return;
    }
    for (size_t i = 0; i < json_array_size(a) && !r.failed; i++) {
        struct conn *c = &cs[n];
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        int type = 0, family = 0;
        socklen_t tl = sizeof(type), fl = sizeof(family);
        char st[16] = "";

        e = json_array_get(a, i);
        memset(c, 0, sizeof(*c));
        snprintf(r.path, sizeof(r.path), "conns[%zu]", i);
        fds[n] = (int)state_get(&r, e, "fd", 0, FD_MAX);
        state_text(&r, e, "state", st, sizeof(st));
        c->client = (unsigned)state_get(&r, e, "client", 0, U32);
        c->progress = (int)state_get(&r, e, "progress", 0, 1);
        c->pid = (pid_t)state_get(&r, e, "pid", 0, FD_MAX);
        c->uid = (uid_t)state_get(&r, e, "uid", 0, U32);
        c->state = strcmp(st, "upgrade") == 0 ? C_UPGRADE : C_ROLL_WAIT;
        if (!r.failed && strcmp(st, "roll") != 0 && strcmp(st, "upgrade") != 0)
            state_fault(&r, "state", "\"%s\" is neither roll nor upgrade", st);
        if (!r.failed &&
            (getsockopt(fds[n], SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
             getsockopt(fds[n], SOL_SOCKET, SO_DOMAIN, &family, &fl) < 0 ||
             type != SOCK_STREAM || family != AF_UNIX))
            state_fault(&r, "fd", "%d is not a unix stream socket", fds[n]);
        else if (!r.failed &&
                 (getsockopt(fds[n], SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
                  cred.pid != c->pid))
            state_fault(&r, "fd", "%d is not connected to pid %d", fds[n],
                        (int)c->pid);
        n++;
    }
    rd->failed = r.failed;
    cc->n = n;
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
    struct carried_conns cc;
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
    conns_read(&r, json_object_get(o, "conns"), &cc);
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
    /* Checked: a connection that cannot be served now (no memory) is
     * closed, its client told nothing; the others are served. */
    for (size_t i = 0; i < cc.n; i++) {
        (void)sock_state_keep(cc.fds[i], 0);
        if (control_conn_adopt(ctl, cc.fds[i], &cc.cs[i]) < 0)
            close(cc.fds[i]);
    }
    *out = ctl;
    return 0;
}

int
control_busy(const struct control *ctl, char *why, size_t len)
{
    for (const struct conn *c = ctl ? ctl->conns : NULL; c; c = c->next)
        if (uv_stream_get_write_queue_size((uv_stream_t *)c->pipe) > 0) {
            snprintf(why, len,
                     "an answer to control client pid %d is being written",
                     (int)c->pid);
            return 1;
        }
    return 0;
}

int
control_conn_adopt(struct control *ctl, int fd, const struct conn *from)
{
    struct conn *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL || (c->pipe = malloc(sizeof(*c->pipe))) == NULL) {
        free(c);
        return -ENOMEM;
    }
    if ((c->timer = handle_timer(ctl->loop, c)) == NULL) {
        free(c->pipe);
        free(c);
        return -ENOMEM;
    }
    uv_pipe_init(ctl->loop, c->pipe, 0);
    if ((rc = uv_pipe_open(c->pipe, fd)) < 0) {
        handle_close(c->pipe);
        handle_close(c->timer);
        free(c);
        return rc;
    }
    c->pipe->data = c;
    c->ctl = ctl;
    c->state = from->state;
    c->client = from->client;
    c->progress = from->progress;
    c->pid = from->pid;
    c->uid = from->uid;
    c->next = ctl->conns;
    ctl->conns = c;
    ctl->nconns++;
    if (c->state == C_UPGRADE)
        ctl->asker = c;
    return 0;
}
