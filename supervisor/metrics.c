/* metrics.c: Prometheus metrics: the text of the master's state and the HTTP endpoint that serves it. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "control.h"
#include "handle.h"
#include "log.h"
#include "metrics_state.h"
#include "proc.h"
#include "steer.h"
#include "view.h"
#include "version.h"

/* --- observations ---------------------------------------------------------- */

/* From a fast worker's readiness to a slow drain: 10 ms to 5 minutes. */
const double metrics_bounds[METRICS_NBUCKETS] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
};

void
metrics_hist_observe(struct metrics_hist *h, double seconds)
{
    size_t i = 0;

    if (seconds < 0)
        seconds = 0;
    while (i < METRICS_NBUCKETS && seconds > metrics_bounds[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += seconds;
}

void
metrics_observe_drain(struct metrics_data *d, uint64_t drain_ns)
{
    if (drain_ns != 0)
        metrics_hist_observe(&d->drain, (double)(uv_hrtime() - drain_ns) / 1e9);
}

/* --- /proc ----------------------------------------------------------------- */

static long
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own */
}

int
metrics_proc_read(pid_t pid, struct metrics_proc *out)
{
    long tick = sysconf(_SC_CLK_TCK);
    struct proc_stat st;

    memset(out, 0, sizeof(*out));
    out->open_fds = pid == 0 ? count_fds() : -1;
    if (proc_stat(pid == 0 ? getpid() : pid, &st) < 0)
        return -ESRCH;
    out->cpu_seconds = (double)st.cpu_ticks / (double)(tick > 0 ? tick : 100);
    out->rss_bytes = st.rss_bytes;
    return 0;
}

/* --- the text -------------------------------------------------------------- */

static void
family(struct control_buf *b, const char *name, const char *type,
       const char *help)
{
    control_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                       type);
}

/* A label value: \ " and newline escaped, as the format wants. */
static void
label(struct control_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            control_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            control_buf_printf(b, "\\n");
        else
            control_buf_printf(b, "%c", *s);
    }
}

static void
histogram(struct control_buf *b, const char *name, const char *help,
          const struct metrics_hist *h)
{
    uint64_t cum = 0;

    family(b, name, "histogram", help);
    for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
        cum += h->bucket[i];
        control_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
                           metrics_bounds[i], (unsigned long long)cum);
    }
    control_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                       (unsigned long long)h->count);
    control_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
                       (unsigned long long)h->count);
}

static void
generations(const struct view *v, struct control_buf *b, metrics_proc_fn *proc)
{
    static const enum gen_state states[] = {
        GEN_STARTING, GEN_CANARY, GEN_ACTIVE, GEN_KEPT,
        GEN_DRAINING, GEN_FAILED, GEN_DONE,
    };
    static const enum deploy_wstate ws[] = {DW_STARTING, DW_READY, DW_STOPPING,
                                            DW_EMPTY};
    const struct view_gen *g;

    family(b, "handoff_generation_state", "gauge",
           "1 for the state the generation is in.");
    for (g = v->gens; g < v->gens + v->ngens; g++)
        for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
            control_buf_printf(b, "handoff_generation_state{generation=\"%u\","
                               "state=\"%s\"} %d\n", g->id,
                               gen_state_name(states[i]), g->state == states[i]);
    family(b, "handoff_generation_share_ratio", "gauge",
           "The generation's share of new connections (steered traffic).");
    for (g = v->gens; g < v->gens + v->ngens; g++)
        if (g->routed)
            control_buf_printf(b, "handoff_generation_share_ratio{generation="
                               "\"%u\"} %g\n", g->id,
                               (double)g->share_bps / STEER_SHARE_ALL);
    family(b, "handoff_generation_processes", "gauge",
           "The generation's worker processes by state.");
    for (g = v->gens; g < v->gens + v->ngens; g++)
        for (size_t k = 0; k < sizeof(ws) / sizeof(ws[0]); k++) {
            struct view_proc one = {.w = ws[k]};
            size_t n = 0;

            for (size_t i = 0; i < g->nprocs; i++)
                n += g->procs[i].w == ws[k];
            control_buf_printf(b, "handoff_generation_processes{generation="
                               "\"%u\",state=\"%s\"} %zu\n", g->id,
                               view_proc_state(&one), n);
        }
    family(b, "handoff_generation_restarts_total", "counter",
           "Restarts of the generation's worker processes.");
    for (g = v->gens; g < v->gens + v->ngens; g++)
        control_buf_printf(b, "handoff_generation_restarts_total{generation="
                           "\"%u\"} %u\n", g->id, g->restarts);
    if (proc == NULL)
        return;
    /* One pass over /proc, two families. */
    {
        struct metrics_proc sums[DEPLOY_MAX_GENS] = {{0}};

        for (size_t k = 0; k < v->ngens; k++)
            for (size_t i = 0; i < v->gens[k].nprocs; i++) {
                struct metrics_proc p;
                pid_t pid = v->gens[k].procs[i].pid;

                if (pid > 0 && proc(pid, &p) == 0) {
                    sums[k].rss_bytes += p.rss_bytes;
                    sums[k].cpu_seconds += p.cpu_seconds;
                }
            }
        family(b, "handoff_generation_resident_memory_bytes", "gauge",
               "Resident memory of the generation's worker processes.");
        for (size_t k = 0; k < v->ngens; k++)
            control_buf_printf(b, "handoff_generation_resident_memory_bytes{"
                               "generation=\"%u\"} %llu\n", v->gens[k].id,
                               (unsigned long long)sums[k].rss_bytes);
        family(b, "handoff_generation_cpu_seconds_total", "counter",
               "CPU time of the generation's worker processes now running.");
        for (size_t k = 0; k < v->ngens; k++)
            control_buf_printf(b, "handoff_generation_cpu_seconds_total{"
                               "generation=\"%u\"} %.2f\n", v->gens[k].id,
                               sums[k].cpu_seconds);
    }
}

/* One sample per socket of the TCP (dgram 0) or UDP listeners: its queue's
 * length, or its drops. */
static void
queues(const struct view *v, struct control_buf *b, int dgram, const char *name,
       int drops)
{
    for (size_t i = 0; i < v->nlisteners; i++)
        for (size_t k = 0; k < v->listeners[i].nqueues; k++) {
            const struct view_queue *q = &v->listeners[i].queues[k];
            long val = drops ? q->drops : q->length;

            if (v->listeners[i].dgram != dgram || val < 0)
                continue;
            control_buf_printf(b, "%s{listener=\"", name);
            label(b, v->listeners[i].name);
            if (q->gen == 0)
                control_buf_printf(b, "\",generation=\"all\"} %ld\n", val);
            else
                control_buf_printf(b, "\",generation=\"%u\"} %ld\n", q->gen,
                                   val);
        }
}

/* Steered: a socket per generation; shared: one queue for all. */
static void
listeners(const struct view *v, struct control_buf *b)
{
    family(b, "handoff_listener_backlog", "gauge",
           "The listen backlog of the listener's sockets.");
    for (size_t i = 0; i < v->nlisteners; i++) {
        if (v->listeners[i].dgram)
            continue; /* a datagram socket has none */
        control_buf_printf(b, "handoff_listener_backlog{listener=\"");
        label(b, v->listeners[i].name);
        control_buf_printf(b, "\"} %ld\n", v->listeners[i].backlog);
    }
    family(b, "handoff_listener_queue_length", "gauge",
           "Connections waiting in the accept queue (generation \"all\": "
           "a shared socket).");
    queues(v, b, 0, "handoff_listener_queue_length", 0);
    family(b, "handoff_listener_receive_queue_bytes", "gauge",
           "Bytes of datagrams waiting in a UDP listener's receive queue "
           "(generation \"all\": a shared socket).");
    queues(v, b, 1, "handoff_listener_receive_queue_bytes", 0);
    family(b, "handoff_listener_receive_drops_total", "counter",
           "Datagrams a UDP listener's socket dropped, its receive queue "
           "full (generation \"all\": a shared socket).");
    queues(v, b, 1, "handoff_listener_receive_drops_total", 1);
}

void
metrics_render(const struct view *v, struct control_buf *b,
               metrics_proc_fn *proc)
{
    static const struct metrics_data none;
    const struct metrics_data *data = v->data ? v->data : &none;
    struct metrics_proc self;

    family(b, "handoff_build_info", "gauge", "handoff's version.");
    control_buf_printf(b, "handoff_build_info{version=\"");
    label(b, handoff_version);
    control_buf_printf(b, "\"} 1\n");
    family(b, "handoff_uptime_seconds", "gauge", "Time since handoff started.");
    control_buf_printf(b, "handoff_uptime_seconds %.3f\n",
                       (double)v->uptime_ms / 1e3);
    family(b, "handoff_rolls_total", "counter",
           "Rolls by outcome (the first generation's start included).");
    control_buf_printf(b, "handoff_rolls_total{outcome=\"promoted\"} %u\n"
                       "handoff_rolls_total{outcome=\"failed\"} %u\n",
                       v->rolls_ok, v->rolls_failed);
    /* Every cause, 0 included: rate() and increase() need the series
     * before its first rollback, not from it. */
    family(b, "handoff_rollbacks_total", "counter",
           "Rollbacks of new connections to the previous generation, by what "
           "caused them.");
    for (enum deploy_cause c = 0; c < DEPLOY_NCAUSES; c++)
        control_buf_printf(b, "handoff_rollbacks_total{guard=\"%s\"} %u\n",
                           deploy_cause_name(c), v->rollbacks[c]);
    family(b, "handoff_liveness_failures_total", "counter",
           "Verdicts that the active generation failed (liveness, watchdog, "
           "max_rss).");
    for (int r = 0; r < LIVENESS_NREASONS; r++)
        control_buf_printf(b,
                           "handoff_liveness_failures_total{reason=\"%s\"} %lu\n",
                           liveness_reason_name(r), v->liveness_failures[r]);
    family(b, "handoff_replacements_total", "counter",
           "Replacements of a failed active generation started, by what "
           "failed it.");
    for (int r = 0; r < LIVENESS_NREASONS; r++)
        control_buf_printf(b, "handoff_replacements_total{reason=\"%s\"} %lu\n",
                           liveness_reason_name(r), v->replacements[r]);
    family(b, "handoff_restarts_total", "counter",
           "Restarts of worker processes of active generations.");
    control_buf_printf(b, "handoff_restarts_total %u\n", v->restarts);
    histogram(b, "handoff_ready_seconds",
              "From a worker's start to its readiness.", &data->ready);
    histogram(b, "handoff_roll_seconds",
              "From a roll asked for to its promotion.", &data->roll);
    histogram(b, "handoff_drain_seconds",
              "From a worker's drain signal to its exit.", &data->drain);
    generations(v, b, proc);
    listeners(v, b);
    family(b, "handoff_metrics_refused_total", "counter",
           "Metrics connections closed over the bound of 64 (the oldest idle first).");
    control_buf_printf(b, "handoff_metrics_refused_total %llu\n",
                       (unsigned long long)data->refused);
    family(b, "handoff_upgrades_total", "counter",
           "handoff upgraded in place (handoff upgrade), by outcome.");
    control_buf_printf(b,
                       "handoff_upgrades_total{outcome=\"ok\"} %llu\n"
                       "handoff_upgrades_total{outcome=\"refused\"} %llu\n",
                       (unsigned long long)data->upgrades_ok,
                       (unsigned long long)data->upgrades_refused);
    if (proc == NULL || proc(0, &self) < 0)
        return;
    family(b, "process_resident_memory_bytes", "gauge",
           "Resident memory of the master.");
    control_buf_printf(b, "process_resident_memory_bytes %llu\n",
                       (unsigned long long)self.rss_bytes);
    family(b, "process_cpu_seconds_total", "counter",
           "CPU time of the master, user and system.");
    control_buf_printf(b, "process_cpu_seconds_total %.2f\n", self.cpu_seconds);
    if (self.open_fds >= 0) {
        family(b, "process_open_fds", "gauge",
               "File descriptors the master holds open.");
        control_buf_printf(b, "process_open_fds %ld\n", self.open_fds);
    }
}

/* --- the endpoint ---------------------------------------------------------- */

enum mconn_state {
    M_READING, /* the request, until the deadline */
    M_WRITING, /* the answer; the rest of the request is discarded */
    M_LINGER,  /* answered and shut down: waiting a little for the peer's end,
                * so that unread bytes do not turn our close into a reset */
};

struct mconn {
    struct metrics *mt;
    uv_tcp_t *tcp;
    uv_timer_t *timer;
    enum mconn_state state;
    int eof;
    size_t len;
    struct mconn *next;
    char req[METRICS_REQUEST_MAX];
};

struct mwrite {
    uv_write_t req;
    char data[];
};

#define LINGER_MS 1000

static void
mconn_close(struct mconn *c)
{
    struct metrics *mt = c->mt;

    for (struct mconn **pp = &mt->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    mt->nconns--;
    handle_close(c->tcp);
    handle_close(c->timer);
    free(c);
}

static void
on_timeout(uv_timer_t *t)
{
    static const char msg[] = "HTTP/1.1 408 Request Timeout\r\n"
                              "Connection: close\r\nContent-Length: 0\r\n\r\n";
    struct mconn *c = t->data;
    uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);

    if (c == NULL)
        return;
    if (c->state == M_READING)
        (void)uv_try_write((uv_stream_t *)c->tcp, &b, 1);
    mconn_close(c); /* a slow client, or one that does not read */
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    struct mconn *c = req->handle->data;

    free(req);
    if (c == NULL)
        return;
    if (status < 0 || c->eof) {
        mconn_close(c);
        return;
    }
    c->state = M_LINGER;
    uv_timer_start(c->timer, on_timeout, LINGER_MS, 0);
}

static void
on_written(uv_write_t *req, int status)
{
    struct mconn *c = req->handle->data;
    uv_shutdown_t *sreq;

    free(req); /* the struct mwrite: req comes first */
    if (c == NULL)
        return;
    if (status < 0 || (sreq = malloc(sizeof(*sreq))) == NULL) {
        mconn_close(c);
        return;
    }
    if (uv_shutdown(sreq, (uv_stream_t *)c->tcp, on_shutdown) < 0) {
        free(sreq);
        mconn_close(c);
    }
}

/* Answer and close; c may be freed before this returns. */
static void
respond(struct mconn *c, const char *status, const char *ctype,
        const char *body, size_t blen, int head)
{
    char hdr[256];
    int hlen = snprintf(hdr, sizeof(hdr),
                        "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: "
                        "%zu\r\n%sConnection: close\r\n\r\n", status, ctype,
                        blen, strncmp(status, "405", 3) == 0
                                  ? "Allow: GET, HEAD\r\n" : "");
    size_t n = (size_t)hlen + (head ? 0 : blen);
    struct mwrite *w = malloc(sizeof(*w) + n);
    uv_buf_t b;

    if (w == NULL) {
        mconn_close(c);
        return;
    }
    memcpy(w->data, hdr, (size_t)hlen);
    if (!head)
        memcpy(w->data + hlen, body, blen);
    b = uv_buf_init(w->data, (unsigned)n);
    c->state = M_WRITING;
    uv_timer_start(c->timer, on_timeout, METRICS_TIMEOUT_MS, 0);
    if (uv_write(&w->req, (uv_stream_t *)c->tcp, &b, 1, on_written) < 0) {
        free(w);
        mconn_close(c);
    }
}

static void
answer(struct mconn *c, enum metrics_http r)
{
    static const char *const status[] = {
        [METRICS_HTTP_NOT_FOUND] = "404 Not Found",
        [METRICS_HTTP_METHOD] = "405 Method Not Allowed",
        [METRICS_HTTP_BAD] = "400 Bad Request",
        [METRICS_HTTP_TOO_LARGE] = "431 Request Header Fields Too Large",
    };
    struct control_buf b = {0};

    if (r == METRICS_HTTP_HEALTHZ) { /* answered: the loop runs */
        respond(c, "200 OK", "text/plain", "ok\n", 3, 0);
        return;
    }
    if (r == METRICS_HTTP_READYZ) {
        struct view v;
        int rc = c->mt->view(c->mt->arg, &v),
            ready = rc == 0 && view_serving(&v);

        if (rc == 0)
            view_free(&v);
        respond(c, ready ? "200 OK" : "503 Service Unavailable", "text/plain",
                ready ? "ready\n" : "not ready\n", ready ? 6 : 10, 0);
        return;
    }
    if (r == METRICS_HTTP_GET || r == METRICS_HTTP_HEAD) {
        struct view v;

        if (c->mt->view(c->mt->arg, &v) < 0) {
            b.failed = 1; /* v holds nothing then */
        } else {
            metrics_render(&v, &b, metrics_proc_read);
            view_free(&v);
        }
        if (!b.failed)
            respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
                    b.s ? b.s : "", b.len, r == METRICS_HTTP_HEAD);
        else
            respond(c, "500 Internal Server Error", "text/plain",
                    "out of memory\n", 14, 0);
        free(b.s);
        return;
    }
    control_buf_printf(&b, "%s\n", status[r] + 4);
    respond(c, status[r], "text/plain", b.s ? b.s : "", b.s ? b.len : 0, 0);
    free(b.s);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char discard[4096]; /* used at once by on_read: one is enough */
    struct mconn *c = h->data;

    (void)suggested;
    if (c != NULL && c->state == M_READING)
        *buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof(c->req) - c->len));
    else
        *buf = uv_buf_init(discard, sizeof(discard));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct mconn *c = s->data;
    enum metrics_http r;

    (void)buf;
    if (c == NULL || n == 0)
        return;
    if (n < 0) {
        if (c->state == M_WRITING) {
            c->eof = 1; /* it may have half-closed: the answer goes on */
            uv_read_stop(s);
        } else {
            mconn_close(c);
        }
        return;
    }
    if (c->state != M_READING)
        return;
    c->len += (size_t)n;
    /* Judged only when a line ended, or the buffer is full. */
    if (memchr(c->req + c->len - n, '\n', (size_t)n) == NULL &&
        c->len < sizeof(c->req))
        return;
    r = metrics_http_parse(c->req, c->len);
    if (r != METRICS_HTTP_MORE)
        answer(c, r);
}

/*
 * c, still reading its request, is closed and its memory and timer serve t,
 * just accepted: a flood of idle connections then costs the loop an accept
 * and a close per connection, nothing allocated or freed but t itself. The
 * loop must keep up with a client that connects in a loop, whose connects
 * the kernel completes without it: one it falls 4096 behind has its SYN
 * dropped and waits a second (under ASan the allocations took twice as long
 * as the client's connect).
 */
static void
mconn_reuse(struct mconn *c, uv_tcp_t *t)
{
    struct metrics *mt = c->mt;

    handle_close(c->tcp); /* reading only: no request of it is pending */
    for (struct mconn **pp = &mt->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    c->tcp = t;
    t->data = c;
    c->state = M_READING;
    c->eof = 0;
    c->len = 0;
    c->next = mt->conns; /* the newest now */
    mt->conns = c;
    uv_timer_start(c->timer, on_timeout, METRICS_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)t, on_alloc, on_read) < 0)
        mconn_close(c);
}

/* The connection waiting longest for its request (the list is newest
 * first), or NULL when every one is being answered. */
static struct mconn *
oldest_reading(struct metrics *mt)
{
    struct mconn *found = NULL;

    for (struct mconn *c = mt->conns; c; c = c->next)
        if (c->state == M_READING)
            found = c;
    return found;
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct metrics *mt = server->data;
    struct mconn *c;
    uv_tcp_t *t;

    if (mt == NULL || status < 0 || (t = malloc(sizeof(*t))) == NULL)
        return;
    uv_tcp_init(server->loop, t);
    t->data = NULL;
    if (uv_accept(server, (uv_stream_t *)t) < 0) {
        handle_close(t);
        return;
    }
    if (mt->nconns >= METRICS_MAX_CONNS && (c = oldest_reading(mt)) != NULL) {
        /* Full: the oldest that has not sent its request yet makes room.
         * A flood of idle connections (a slowloris) then holds only the
         * newest 64, and a real scraper, whose request comes at once, is
         * answered whatever the flood does. */
        mt->data->refused++;
        mconn_reuse(c, t);
        return;
    }
    if (mt->nconns >= METRICS_MAX_CONNS ||
        (c = calloc(1, sizeof(*c))) == NULL) {
        /* Closed at once: 64 answers being written, or no memory. */
        mt->data->refused++;
        handle_close(t);
        return;
    }
    if ((c->timer = handle_timer(server->loop, c)) == NULL) {
        free(c);
        handle_close(t);
        return;
    }
    c->mt = mt;
    c->tcp = t;
    t->data = c;
    c->next = mt->conns;
    mt->conns = c;
    mt->nconns++;
    uv_timer_start(c->timer, on_timeout, METRICS_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)t, on_alloc, on_read) < 0)
        mconn_close(c);
}

int
metrics_serve(struct metrics *mt, uv_loop_t *loop, int fd)
{
    int rc;

    uv_tcp_init(loop, mt->server);
    mt->server->data = mt;
    if ((rc = uv_tcp_open(mt->server, fd)) < 0)
        return rc;
    return uv_listen((uv_stream_t *)mt->server, METRICS_BACKLOG,
                     on_connection);
}

int
metrics_open(uv_loop_t *loop, const char *address, view_fn *view, void *arg,
             struct metrics_data *data, struct metrics **out, char *err,
             size_t errlen)
{
    struct metrics *mt;
    struct addr a;
    struct sockaddr_storage ss;
    int len = sizeof(ss), rc;
    char text[ADDR_STRLEN];

    *out = NULL;
    if (address == NULL || strcmp(address, "none") == 0)
        return 0;
    if (addr_parse(address, &a, err, errlen) < 0)
        return -EINVAL;
    if (addr_family(&a) == AF_UNIX || a.dgram) {
        snprintf(err, errlen, "metrics %s: a TCP address is needed", address);
        return -EINVAL;
    }
    mt = calloc(1, sizeof(*mt));
    if (mt == NULL || (mt->server = malloc(sizeof(*mt->server))) == NULL) {
        free(mt);
        snprintf(err, errlen, "metrics %s: out of memory", address);
        return -ENOMEM;
    }
    mt->view = view;
    mt->arg = arg;
    mt->data = data;
    uv_tcp_init(loop, mt->server);
    mt->server->data = mt;
    if ((rc = uv_tcp_bind(mt->server, (struct sockaddr *)&a.ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)mt->server, METRICS_BACKLOG,
                        on_connection)) < 0) {
        snprintf(err, errlen, "metrics %s: %s", address, uv_strerror(rc));
        handle_close(mt->server);
        free(mt);
        return rc;
    }
    if (uv_tcp_getsockname(mt->server, (struct sockaddr *)&ss, &len) < 0 ||
        addr_format((struct sockaddr *)&ss, (socklen_t)len, text,
                    sizeof(text)) < 0)
        snprintf(text, sizeof(text), "%s", address);
    log_event(LOG_INFO, "metrics", "address=%s", log_q(text));
    *out = mt;
    return 0;
}

void
metrics_close(struct metrics *mt)
{
    if (mt == NULL)
        return;
    while (mt->conns != NULL)
        mconn_close(mt->conns);
    handle_close(mt->server);
    free(mt);
}
