/* readiness.c: readiness checks: delay, tcp, http and exec probes. */
#include "readiness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "handle.h"
#include "log.h"
#include "spawn.h"
#include "traffic.h"

extern char **environ;

/* One connection attempt; it outlives the probe until libuv closes it. */
struct attempt {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    struct probe *p;
    char req[1200];
    char resp[256];
    size_t got;
};

struct probe {
    struct master *m;
    struct worker *w;
    uv_timer_t *timer;
    struct attempt *att;
    struct child exec; /* the running exec: probe, if any */
    int exec_running;
    char target[512]; /* the spec with %p and %g expanded */
    unsigned long tries;
};

int
readiness_expand(const char *in, pid_t pid, unsigned gen, char *out,
                 size_t size)
{
    size_t o = 0;

    for (; *in; in++) {
        char num[24];
        const char *add = num;

        if (in[0] == '%' && in[1] == 'p') {
            snprintf(num, sizeof(num), "%d", (int)pid);
            in++;
        } else if (in[0] == '%' && in[1] == 'g') {
            snprintf(num, sizeof(num), "%u", gen);
            in++;
        } else if (in[0] == '%' && in[1] == '%') {
            add = "%";
            in++;
        } else {
            num[0] = *in;
            num[1] = '\0';
        }
        size_t n = strlen(add);
        if (o + n + 1 > size)
            return -ENOSPC;
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

int
readiness_parse_url(const char *url, char *hostport, size_t hsize, char *path,
                    size_t psize)
{
    const char *h, *slash;
    size_t n;

    if (strncmp(url, "http://", 7) != 0)
        return -EINVAL;
    h = url + 7;
    slash = strchr(h, '/');
    n = slash ? (size_t)(slash - h) : strlen(h);
    if (n == 0 || n + 4 > hsize)
        return -EINVAL;
    memcpy(hostport, h, n);
    hostport[n] = '\0';
    /* No port: 80, as a browser would. */
    if (hostport[n - 1] == ']' || strrchr(hostport, ':') == NULL ||
        (hostport[0] == '[' && strstr(hostport, "]:") == NULL))
        strcat(hostport, ":80");
    if (snprintf(path, psize, "%s", slash ? slash : "/") >= (int)psize)
        return -EINVAL;
    return 0;
}

int
readiness_http_status(const char *buf, size_t len)
{
    int code = 0;

    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' ||
        buf[7] > '9' || buf[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        code = code * 10 + (buf[i] - '0');
    }
    return code;
}

static void passed(struct probe *p);

static void
on_attempt_closed(uv_handle_t *h)
{
    free(h->data);
}

static void
attempt_end(struct attempt *a)
{
    if (a->p != NULL)
        a->p->att = NULL;
    a->p = NULL;
    a->tcp.data = a;
    /* A reset, not a close: a probe's source port is used again soon, and
     * TIME_WAIT would tie it to the last connection. */
    if (uv_tcp_close_reset(&a->tcp, on_attempt_closed) < 0)
        uv_close((uv_handle_t *)&a->tcp, on_attempt_closed);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct attempt *a = h->data;

    buf->base = a->resp + a->got;
    buf->len = sizeof(a->resp) - 1 - a->got;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct attempt *a = s->data;
    struct probe *p = a->p;
    int code;

    if (p == NULL)
        return;
    if (n > 0)
        a->got += (size_t)n;
    if (a->got >= 12 || n < 0 || a->got >= sizeof(a->resp) - 1) {
        code = readiness_http_status(a->resp, a->got);
        log_event(LOG_DEBUG, "probe", "gen=%u pid=%d target=%s http=%d",
                  p->w->gen->id, (int)p->w->child.pid, log_q(p->target), code);
        attempt_end(a);
        if (code >= 200 && code < 400)
            passed(p);
    }
}

static void
on_written(uv_write_t *req, int status)
{
    struct attempt *a = req->data;

    if (a->p == NULL)
        return;
    if (status < 0) {
        attempt_end(a);
        return;
    }
    uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    struct probe *p = a->p;
    uv_buf_t b;

    if (p == NULL)
        return;
    if (status < 0) {
        log_event(LOG_DEBUG, "probe", "gen=%u pid=%d target=%s err=%s",
                  p->w->gen->id, (int)p->w->child.pid, log_q(p->target),
                  uv_err_name(status));
        attempt_end(a);
        return;
    }
    if (a->req[0] == '\0') { /* tcp: connected is enough */
        attempt_end(a);
        passed(p);
        return;
    }
    b = uv_buf_init(a->req, (unsigned)strlen(a->req));
    a->wr.data = a;
    if (uv_write(&a->wr, (uv_stream_t *)&a->tcp, &b, 1, on_written) < 0)
        attempt_end(a);
}

static void
start_connect(struct probe *p, int http)
{
    char hostport[520], path[520];
    struct addr dst;
    struct attempt *a;
    unsigned port;

    if (http) {
        if (readiness_parse_url(p->target, hostport, sizeof(hostport), path,
                                sizeof(path)) < 0)
            return;
    } else {
        snprintf(hostport, sizeof(hostport), "%s", p->target);
    }
    if (addr_parse(hostport, &dst, NULL, 0) < 0 ||
        addr_family(&dst) == AF_UNIX)
        return;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return;
    if (http)
        snprintf(a->req, sizeof(a->req),
                 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: handoff\r\n"
                 "Connection: close\r\n\r\n", path, hostport);
    uv_tcp_init(p->m->loop, &a->tcp);
    a->tcp.data = a;
    a->conn.data = a;
    a->p = p;
    p->att = a;
    /* From a source port of the generation's probe block: a steered
     * listener sends it to this generation's socket, and only it. */
    if ((port = traffic_probe_port(p->m, p->w->gen)) != 0) {
        struct sockaddr_storage src;
        memset(&src, 0, sizeof(src));
        src.ss_family = dst.ss.ss_family;
        if (src.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&src)->sin6_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in *)&src)->sin_port = htons((uint16_t)port);
        uv_tcp_bind(&a->tcp, (struct sockaddr *)&src, 0);
    }
    if (uv_tcp_connect(&a->conn, &a->tcp, (struct sockaddr *)&dst.ss,
                       on_connect) < 0)
        attempt_end(a);
}

static void
on_exec_exit(struct child *c, int status)
{
    struct probe *p = (struct probe *)((char *)c - offsetof(struct probe, exec));

    p->exec_running = 0;
    log_event(LOG_DEBUG, "probe", "gen=%u pid=%d target=%s exit=%d",
              p->w->gen->id, (int)p->w->child.pid, log_q(p->target),
              reap_exit_code(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        passed(p);
}

static void
start_exec(struct probe *p)
{
    char *argv[] = {"/bin/sh", "-c", p->target, NULL};
    struct spawn_opts o;

    if (p->exec_running)
        return; /* the last one is still running: wait for it */
    memset(&o, 0, sizeof(o));
    o.argv = argv;
    o.envp = environ;
    o.listen_pid_index = -1;
    o.chan_fd = -1;
    o.uid = (uid_t)-1;
    o.gid = (gid_t)-1;
    /* Its exec is not waited for: one that fails exits 127, not ready. */
    spawn_process(&o, &p->exec.pid, NULL);
    if (p->exec.pid > 0) {
        p->exec.on_exit = on_exec_exit;
        p->exec_running = 1;
        reap_add(&p->m->reaper, &p->exec);
    }
}

static void
on_tick(uv_timer_t *t)
{
    struct probe *p = t->data;
    enum ready_kind kind;

    if (p == NULL)
        return;
    kind = p->w->gen->plan->cfg->ready;
    p->tries++;
    if (kind == READY_DELAY) {
        passed(p);
        return;
    }
    if (p->att != NULL) /* no answer within the interval: try again */
        attempt_end(p->att);
    if (kind == READY_EXEC)
        start_exec(p);
    else
        start_connect(p, kind == READY_HTTP);
}

static void
passed(struct probe *p)
{
    struct master *m = p->m;
    struct worker *w = p->w;

    master_worker_ready(m, w, w->gen->plan->cfg->ready);
}

int
readiness_start(struct master *m, struct worker *w)
{
    const struct config *c = w->gen->plan->cfg;
    struct probe *p;
    uint64_t first;

    if (c->ready == READY_LISTEN || c->ready == READY_NOTIFY)
        return 0; /* the worker tells: control channel or NOTIFY_SOCKET */
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->m = m;
    p->w = w;
    if (c->ready_arg != NULL &&
        readiness_expand(c->ready_arg, w->child.pid, w->gen->id, p->target,
                         sizeof(p->target)) < 0) {
        free(p);
        return -ENOSPC;
    }
    p->timer = handle_timer(m->loop, p);
    if (p->timer == NULL) {
        free(p);
        return -ENOMEM;
    }
    w->probe = p;
    if (c->ready == READY_DELAY) {
        uv_timer_start(p->timer, on_tick, c->ready_delay, 0);
    } else {
        /* First probe soon after the start, then every ready_interval. */
        first = c->ready_interval < 50 ? c->ready_interval : 50;
        uv_timer_start(p->timer, on_tick, first, c->ready_interval);
    }
    return 0;
}

void
readiness_stop(struct worker *w)
{
    struct probe *p = w->probe;

    if (p == NULL)
        return;
    w->probe = NULL;
    handle_close(p->timer);
    if (p->att != NULL)
        attempt_end(p->att);
    if (p->exec_running) {
        reap_remove(&p->m->reaper, &p->exec);
        kill(p->exec.pid, SIGKILL); /* reaped as an orphan */
    }
    free(p);
}
