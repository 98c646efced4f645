/* control.c: the control socket (status, roll, stop): the master's side. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "control_state.h"
#include "guard.h"
#include "handle.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "status.h"

/* --- answers: pure helpers ------------------------------------------------ */

enum control_request
control_parse(const char *line)
{
    char words[3][16];
    int n = 0;

    if (strncmp(line, "roll canary=", 12) == 0)
        return CONTROL_ROLL_CANARY; /* the spec is longer than a word */
    if (strncmp(line, "upgrade", 7) == 0 && (line[7] == '\0' || line[7] == ' '))
        return CONTROL_UPGRADE; /* a path is longer than a word */
    while (n < 3) {
        size_t len;
        line += strspn(line, " \t\r");
        len = strcspn(line, " \t\r");
        if (len == 0)
            break;
        if (len >= sizeof(words[0]))
            return CONTROL_UNKNOWN;
        memcpy(words[n], line, len);
        words[n++][len] = '\0';
        line += len;
    }
    line += strspn(line, " \t\r");
    if (*line != '\0' || n == 0 || n == 3)
        return CONTROL_UNKNOWN;
    if (strcmp(words[0], "status") == 0)
        return n == 1 ? CONTROL_STATUS
               : strcmp(words[1], "json") == 0 ? CONTROL_STATUS_JSON
                                               : CONTROL_UNKNOWN;
    if (n == 2 && strcmp(words[0], "roll") != 0)
        return CONTROL_UNKNOWN;
    if (strcmp(words[0], "roll") == 0)
        return n == 1 || strcmp(words[1], "progress") == 0 ? CONTROL_ROLL
                                                           : CONTROL_UNKNOWN;
    if (strcmp(words[0], "stop") == 0)
        return CONTROL_STOP;
    if (strcmp(words[0], "metrics") == 0)
        return CONTROL_METRICS;
    if (strcmp(words[0], "promote") == 0)
        return CONTROL_PROMOTE;
    if (strcmp(words[0], "rollback") == 0)
        return CONTROL_ROLLBACK;
    return CONTROL_UNKNOWN;
}

static void
buf_add(struct control_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->s, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void
control_buf_printf(struct control_buf *b, const char *fmt, ...)
{
    char small[256], *big = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        buf_add(b, small, (size_t)n);
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&big, fmt, ap) < 0)
        big = NULL;
    va_end(ap);
    if (big == NULL) {
        b->failed = 1;
        return;
    }
    buf_add(b, big, strlen(big));
    free(big);
}

void
control_buf_quote(struct control_buf *b, const char *s)
{
    buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf_add(b, "\\", 1);
            buf_add(b, s, 1);
        } else if (c == '\n') {
            buf_add(b, "\\n", 2);
        } else if (c < ' ' || c == 0x7f) {
            buf_add(b, "?", 1);
        } else {
            buf_add(b, s, 1);
        }
    }
    buf_add(b, "\"", 1);
}

const char *
control_path(const char *configured, int pid1, int *implicit)
{
    *implicit = 0;
    if (configured != NULL)
        return strcmp(configured, "none") == 0 ? NULL : configured;
    if (!pid1)
        return NULL;
    *implicit = 1;
    return CONTROL_DEFAULT_PATH;
}

/* --- the server ------------------------------------------------------------ */

/* An answer being written; the connection may be gone when it ends. */
struct wreq {
    uv_write_t req;
    int close_after;
    char data[];
};

static void
conn_close(struct conn *c)
{
    struct control *ctl = c->ctl;

    for (struct conn **pp = &ctl->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    ctl->nconns--;
    if (ctl->asker == c)
        ctl->asker = NULL;
    handle_close(c->pipe);
    handle_close(c->timer);
    free(c);
}

static void
on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct conn *c = req->handle->data; /* NULL once it is being closed */
    int close_after = w->close_after;

    free(w);
    if (c != NULL && (status < 0 || close_after))
        conn_close(c);
}

static void
on_answer_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c != NULL)
        conn_close(c); /* a client that does not read its answer */
}

/*
 * Write s to c; close c after it when close_after. c may be freed before
 * this returns: callers do not touch it afterwards.
 */
static void
answer(struct conn *c, const char *s, size_t n, int close_after)
{
    struct wreq *w = malloc(sizeof(*w) + n);
    uv_buf_t b;

    if (w == NULL) {
        conn_close(c);
        return;
    }
    memcpy(w->data, s, n);
    w->close_after = close_after;
    b = uv_buf_init(w->data, (unsigned)n);
    if (close_after) {
        c->state = C_ANSWERING;
        uv_timer_start(c->timer, on_answer_timeout, CONTROL_LINE_TIMEOUT_MS, 0);
    }
    if (uv_write(&w->req, (uv_stream_t *)c->pipe, &b, 1, on_written) < 0) {
        free(w);
        conn_close(c);
    }
}

static void
answer_str(struct conn *c, const char *s, int close_after)
{
    answer(c, s, strlen(s), close_after);
}

static void
answer_buf(struct conn *c, struct control_buf *b)
{
    if (b->failed)
        answer_str(c, "error: out of memory\n", 1);
    else
        answer(c, b->s, b->len, 1);
    free(b->s);
}

static void
roll_answer(struct conn *c, unsigned gen, const char *why,
            unsigned long long roll_ms)
{
    struct control_buf b = {0};

    if (why == NULL) {
        control_buf_printf(&b, "promoted gen=%u roll_ms=%llu\n", gen,
                           roll_ms);
    } else {
        if (gen != 0)
            control_buf_printf(&b, "failed gen=%u reason=", gen);
        else
            control_buf_printf(&b, "failed reason=");
        control_buf_quote(&b, why);
        control_buf_printf(&b, "\n");
    }
    answer_buf(c, &b);
}

/*
 * A roll, started now or queued behind the one in progress; the client
 * waits for its end, with the steps it asked for (steps NULL: the file's
 * canary). The answer may come before ops->roll() returns, and
 * free c.
 */
static void
request_roll(struct conn *c, const struct canary_step *steps, size_t n)
{
    struct control *ctl = c->ctl;

    c->state = C_ROLL_WAIT;
    if (++ctl->clients == 0 || ctl->clients == (unsigned)-1)
        ctl->clients = 1;
    c->client = ctl->clients;
    ctl->ops->roll(ctl->ops->arg, c->client, steps, n);
}

/* roll canary=5%/30s,25%/2m: that canary for the roll it asks for. */
static void
request_roll_canary(struct conn *c, const char *spec)
{
    struct control_buf b = {0};
    struct view v;
    struct canary_step steps[CANARY_MAX_STEPS];
    char words[CONTROL_LINE_MAX + 1];
    char err[256] = "a canary needs steered traffic";
    size_t n = 0;
    int steered = 0;

    snprintf(words, sizeof(words), "%s", spec);
    if (strlen(words) > 9 && strcmp(words + strlen(words) - 9, " progress") == 0) {
        words[strlen(words) - 9] = '\0';
        c->progress = 1;
    }
    for (char *p = words; *p; p++)
        if (*p == ',')
            *p = ' ';
    if (c->ctl->ops->view(c->ctl->ops->arg, &v) == 0) {
        steered = v.steered;
        view_free(&v);
    }
    if (steered && canary_parse_steps(words, steps, CANARY_MAX_STEPS, &n, err,
                                      sizeof(err)) == 0) {
        request_roll(c, steps, n);
        return;
    }
    control_buf_printf(&b, "error: --canary: %s\n", err);
    answer_buf(c, &b);
}

static void
request_rollout(struct conn *c, enum control_request r)
{
    const struct control_ops *ops = c->ctl->ops;
    struct control_buf b = {0};
    unsigned from = 0, gen = 0;
    char why[240] = "refused";
    struct view v;

    if (ops->view(ops->arg, &v) == 0) {
        from = v.starting ? v.starting : v.active;
        view_free(&v);
    }
    if (r == CONTROL_PROMOTE && ops->promote(ops->arg, &gen, why,
                                             sizeof(why)) == 0)
        control_buf_printf(&b, "promoted gen=%u\n", gen);
    else if (r == CONTROL_ROLLBACK &&
             ops->rollback(ops->arg, &gen, why, sizeof(why)) == 0)
        control_buf_printf(&b, "rolled back gen=%u to=%u\n", from, gen);
    else
        control_buf_printf(&b, "error: %s\n", why);
    answer_buf(c, &b);
}

/* status, status json, metrics: the deployment as it is now. */
static void
request_view(struct conn *c, enum control_request r)
{
    const struct control_ops *ops = c->ctl->ops;
    struct control_buf b = {0};
    struct view v;

    if (ops->view(ops->arg, &v) < 0) {
        b.failed = 1;
    } else {
        if (r == CONTROL_STATUS)
            status_text(&v, &b);
        else if (r == CONTROL_STATUS_JSON)
            status_json(&v, &b);
        else
            metrics_render(&v, &b, metrics_proc_read);
        view_free(&v);
    }
    answer_buf(c, &b);
}

/*
 * upgrade [timeout=MS] [binary=PATH]: PATH is the rest of the line, blanks
 * and all. The answer is control_upgraded()'s: from this image if it was
 * refused, else from the new one, which c is carried to (control_state.h).
 */
static void
request_upgrade(struct conn *c)
{
    const struct control_ops *ops = c->ctl->ops;
    struct control_buf b = {0};
    const char *binary, *p;
    unsigned long long timeout_ms;

    if ((p = control_upgrade_parse(c->line, &binary, &timeout_ms)) != NULL) {
        control_buf_printf(&b, "error: upgrade: cannot read ");
        control_buf_quote(&b, p);
        control_buf_printf(&b, " (expected timeout=MS or binary=PATH)\n");
        answer_buf(c, &b);
        return;
    }
    if (c->ctl->asker != NULL) {
        answer_str(c, "error: busy: an upgrade is under way\n", 1);
        return;
    }
    c->state = C_UPGRADE;
    c->ctl->asker = c;
    ops->upgrade(ops->arg, binary, timeout_ms); /* control_upgraded() */
}

static void
request_stop(struct conn *c)
{
    c->state = C_STOP_WAIT;
    answer_str(c, "stopping\n", 0);
    c->ctl->ops->stop(c->ctl->ops->arg, SIGTERM); /* stop_delay included */
}

static void
handle_line(struct conn *c)
{
    enum control_request r = control_parse(c->line);
    static const char *const names[] = {
        "unknown", "status",   "status json", "roll",    "stop",
        "promote", "rollback", "roll canary", "metrics", "upgrade"};
    struct control_buf b = {0};

    uv_read_stop((uv_stream_t *)c->pipe);
    uv_timer_stop(c->timer);
    log_event(r != CONTROL_STATUS && r != CONTROL_STATUS_JSON &&
                      r != CONTROL_METRICS ? LOG_INFO : LOG_DEBUG,
              "control_request", "request=%s pid=%d uid=%d", log_q(names[r]),
              (int)c->pid, (int)c->uid);
    switch (r) {
    case CONTROL_STATUS:
    case CONTROL_STATUS_JSON:
    case CONTROL_METRICS:
        request_view(c, r);
        return;
    case CONTROL_ROLL:
        c->progress = strstr(c->line, "progress") != NULL;
        request_roll(c, NULL, 0);
        return;
    case CONTROL_STOP:
        request_stop(c);
        return;
    case CONTROL_PROMOTE:
    case CONTROL_ROLLBACK:
        request_rollout(c, r);
        return;
    case CONTROL_ROLL_CANARY:
        request_roll_canary(c, c->line + 12);
        return;
    case CONTROL_UPGRADE:
        request_upgrade(c);
        return;
    case CONTROL_UNKNOWN:
        break;
    }
    control_buf_printf(&b, "error: unknown command ");
    control_buf_quote(&b, c->line);
    control_buf_printf(&b, " (expected status, status json, roll, promote, "
                           "rollback, metrics, upgrade or stop)\n");
    answer_buf(c, &b);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;

    *buf = c != NULL ? uv_buf_init(c->rbuf, sizeof(c->rbuf))
                     : uv_buf_init(NULL, 0);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;

    if (c == NULL || n == 0 || c->state != C_READING)
        return;
    if (n < 0) {
        if (n == UV_EOF && c->len > 0) {
            /* A last line without its newline: take it. */
            c->line[c->len] = '\0';
            handle_line(c);
        } else {
            conn_close(c);
        }
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char ch = buf->base[i];
        if (ch == '\n' || ch == '\0') {
            c->line[c->len] = '\0';
            handle_line(c);
            return;
        }
        if (c->len == CONTROL_LINE_MAX) {
            uv_read_stop(s);
            answer_str(c, "error: request line longer than 256 bytes\n", 1);
            return;
        }
        c->line[c->len++] = ch;
    }
}

static void
on_line_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c == NULL)
        return;
    uv_read_stop((uv_stream_t *)c->pipe);
    answer_str(c, "error: no request line within 5s\n", 1);
}

/* Say why in one line and close: a connection that gets no struct conn. */
static void
refuse(uv_pipe_t *p, const char *msg)
{
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)strlen(msg));
    uv_os_fd_t fd;
    char scratch[CONTROL_LINE_MAX + 1];

    (void)uv_try_write((uv_stream_t *)p, &b, 1); /* a fresh socket: fits */
    /* Unread data would turn the client's end of file into a reset. */
    if (uv_fileno((uv_handle_t *)p, &fd) == 0)
        while (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
            ;
    handle_close(p);
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct control *ctl = server->data;
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    uv_os_fd_t fd;
    struct conn *c;
    uv_pipe_t *p;

    if (ctl == NULL || status < 0 || (p = malloc(sizeof(*p))) == NULL)
        return;
    uv_pipe_init(ctl->loop, p, 0);
    p->data = NULL;
    if (uv_accept(server, (uv_stream_t *)p) < 0) {
        handle_close(p);
        return;
    }
    if (uv_fileno((uv_handle_t *)p, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
        refuse(p, "error: cannot tell who you are\n");
        return;
    }
    if (cred.uid != geteuid() && cred.uid != 0) {
        log_event(LOG_WARN, "control_refused", "pid=%d uid=%d reason=%s",
                  (int)cred.pid, (int)cred.uid, "permission");
        refuse(p, "error: permission denied\n");
        return;
    }
    if (ctl->nconns >= CONTROL_MAX_CONNS) {
        log_event(LOG_WARN, "control_refused", "pid=%d uid=%d reason=%s",
                  (int)cred.pid, (int)cred.uid, "busy");
        refuse(p, "error: busy: too many connections\n");
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->timer = handle_timer(ctl->loop, c)) == NULL) {
        free(c);
        refuse(p, "error: out of memory\n");
        return;
    }
    c->ctl = ctl;
    c->pipe = p;
    c->pid = cred.pid;
    c->uid = cred.uid;
    p->data = c;
    c->next = ctl->conns;
    ctl->conns = c;
    ctl->nconns++;
    uv_timer_start(c->timer, on_line_timeout, CONTROL_LINE_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)p, on_alloc, on_read) < 0)
        conn_close(c);
}

/*
 * Does a process accept connections at path? 1: yes (its pid in *pid when
 * known), 0: nothing there or a stale socket file, -errno: cannot tell, or
 * -ENOTSOCK for a file that is not a socket.
 */
static int
probe(const char *path, pid_t *pid)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    struct stat st;
    int fd, e;

    *pid = 0;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
            *pid = cred.pid;
        close(fd);
        return 1;
    }
    e = errno;
    close(fd);
    if (e == EAGAIN) /* listening, with a full queue */
        return 1;
    return e == ECONNREFUSED ? 0 : -e;
}

/* Bind and listen on path with mode 0600; 0 or a libuv error. */
static int
listen_on(struct control *ctl, const char *path)
{
    mode_t old;
    struct stat st;
    int rc;

    uv_pipe_init(ctl->loop, ctl->server, 0);
    ctl->server->data = ctl;
    /* Created 0600 rather than chmod()ed after: never open to others. */
    old = umask(0177);
    rc = uv_pipe_bind(ctl->server, path);
    umask(old);
    if (rc < 0)
        return rc;
    if (stat(path, &st) == 0) {
        ctl->dev = st.st_dev;
        ctl->ino = st.st_ino;
    }
    rc = uv_listen((uv_stream_t *)ctl->server, CONTROL_MAX_CONNS,
                   on_connection);
    if (rc < 0)
        unlink(path);
    return rc;
}

int
control_serve(struct control *ctl, int fd)
{
    int rc;

    uv_pipe_init(ctl->loop, ctl->server, 0);
    ctl->server->data = ctl;
    if ((rc = uv_pipe_open(ctl->server, fd)) < 0)
        return rc;
    return uv_listen((uv_stream_t *)ctl->server, CONTROL_MAX_CONNS,
                     on_connection);
}

int
control_open(uv_loop_t *loop, const struct control_ops *ops,
             const char *configured, struct control **out, char *err,
             size_t errlen)
{
    int implicit, rc;
    const char *path = control_path(configured, getpid() == 1, &implicit);
    struct control *ctl;
    pid_t pid;

    *out = NULL;
    if (path == NULL)
        return 0;
    if (strlen(path) >= sizeof(ctl->path)) {
        snprintf(err, errlen, "control %s: path too long for a unix socket",
                 path);
        return -ENAMETOOLONG;
    }
    rc = probe(path, &pid);
    if (rc > 0) {
        if (pid > 0)
            snprintf(err, errlen, "control %s: process %d answers on it "
                     "(another handoff?): not starting", path, (int)pid);
        else
            snprintf(err, errlen, "control %s: a process answers on it "
                     "(another handoff?): not starting", path);
        return -EADDRINUSE;
    }
    if (rc == -ENOTSOCK) {
        snprintf(err, errlen, "control %s: exists and is not a socket: not "
                 "starting", path);
        return rc;
    }
    if (rc == 0 && unlink(path) == 0)
        log_event(LOG_INFO, "control_stale", "path=%s action=removed",
                  log_q(path));
    ctl = calloc(1, sizeof(*ctl));
    if (ctl == NULL || (ctl->server = malloc(sizeof(*ctl->server))) == NULL) {
        free(ctl);
        snprintf(err, errlen, "control %s: out of memory", path);
        return -ENOMEM;
    }
    ctl->loop = loop;
    ctl->ops = ops;
    strcpy(ctl->path, path);
    rc = listen_on(ctl, path);
    if (rc < 0) {
        handle_close(ctl->server);
        free(ctl);
        if (implicit && (rc == UV_EACCES || rc == UV_ENOENT ||
                         rc == UV_EROFS || rc == UV_EPERM)) {
            /* A container whose /run is not writable: no socket, as
             * before there was one. */
            log_event(LOG_WARN, "control_failed", "path=%s error=%s "
                      "hint=%s", log_q(path), log_q(uv_strerror(rc)),
                      log_q("set control = PATH, or none"));
            return 0;
        }
        snprintf(err, errlen, "control %s: %s", path, uv_strerror(rc));
        return rc;
    }
    log_event(LOG_INFO, "control", "path=%s", log_q(path));
    *out = ctl;
    return 0;
}

void
control_close(struct control *ctl)
{
    struct stat st;

    if (ctl == NULL)
        return;
    while (ctl->conns != NULL) {
        struct conn *c = ctl->conns;
        uv_os_fd_t fd;

        if (c->state == C_ROLL_WAIT) {
            uv_buf_t b = uv_buf_init("failed reason=\"stopping\"\n", 25);
            (void)uv_try_write((uv_stream_t *)c->pipe, &b, 1);
        }
        /*
         * A "stop" client waits for the end of file that says the master
         * is gone: a copy of its socket stays open, deliberately never
         * closed, until the process exits. Close-on-exec: nothing starts
         * from now on anyway.
         */
        if (c->state == C_STOP_WAIT &&
            uv_fileno((uv_handle_t *)c->pipe, &fd) == 0)
            (void)fcntl(fd, F_DUPFD_CLOEXEC, 0);
        conn_close(c);
    }
    handle_close(ctl->server);
    /* Only the socket made here: a successor may have replaced it. */
    if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
        st.st_ino == ctl->ino)
        unlink(ctl->path);
    free(ctl);
}

void
control_roll_answer(struct control *ctl, unsigned client, unsigned gen,
                    int ok, const char *why, unsigned long long roll_ms)
{
    if (ctl == NULL)
        return;
    for (struct conn *c = ctl->conns; c; c = c->next)
        if (c->state == C_ROLL_WAIT && c->client == client) {
            roll_answer(c, gen, ok == 1 ? NULL : why, roll_ms);
            return; /* c may be gone */
        }
}

void
control_roll_progress(struct control *ctl, const char *text)
{    char line[CONTROL_LINE_MAX + 16];
    int n;

    if (ctl == NULL)
        return;
    n = snprintf(line, sizeof(line), "progress %.*s\n", CONTROL_LINE_MAX, text);
    for (struct conn *c = ctl->conns; c; c = c->next)
        if (c->state == C_ROLL_WAIT && c->progress)
            answer(c, line, (size_t)n, 0);
}

void
control_upgraded(struct control *ctl, const char *line)
{
    struct conn *c = ctl != NULL ? ctl->asker : NULL;

    if (c == NULL)
        return;
    ctl->asker = NULL;
    answer_str(c, line, 1);
}
