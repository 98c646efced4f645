/* probe.c: one probe attempt on the loop: connect, GET, ask a DNS server, or
 * run a command. */
#include "probe.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dnsq.h"
#include "handle.h"
#include "log.h"
#include "readiness.h"
#include "reap.h"
#include "spawn.h"

extern char **environ;

struct probe_attempt {
    uv_tcp_t tcp; /* PROBE_TCP, PROBE_HTTP: closed, then the attempt freed */
    uv_connect_t conn;
    uv_write_t wr;
    struct child exec; /* PROBE_EXEC, registered with the reaper */
    uv_timer_t *timer; /* PROBE_EXEC: its timeout */
    uv_udp_t udp;      /* PROBE_DNS: closed, then the attempt freed */
    uv_udp_send_t send;
    struct addr dst; /* PROBE_DNS: the only source a reply is taken from */
    uint16_t id;
    uint8_t query[DNSQ_QUERY_MAX];
    uint64_t timeout_ms;
    struct probe_host host;
    enum probe_kind kind;
    probe_cb *cb;
    void *arg;
    uint64_t t0;
    char req[1200];
    char resp[256];
    size_t got;
};

static void
on_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Let go of what the attempt holds; a connection's memory goes with it. */
static void
release(struct probe_attempt *a)
{
    if (a->kind == PROBE_EXEC) {
        if (a->exec.pid > 0) {
            reap_remove(a->host.reaper, &a->exec);
            /* The whole group: a shell's own children (the sleep of
             * sh -c 'sleep 1000') would outlive it. Each is reaped as an
             * orphan: the master is their subreaper. */
            kill(-a->exec.pid, SIGKILL);
        }
        handle_close(a->timer);
        free(a);
        return;
    }
    if (a->kind == PROBE_DNS) {
        /* A send still queued is called back (cancelled) before this. */
        a->udp.data = a;
        uv_close((uv_handle_t *)&a->udp, on_closed);
        return;
    }
    a->tcp.data = a;
    /* A reset, not a close: a probe's source port is used again soon, and
     * TIME_WAIT would tie it to the last connection. */
    if (uv_tcp_close_reset(&a->tcp, on_closed) < 0)
        uv_close((uv_handle_t *)&a->tcp, on_closed);
}

static void
verdict(struct probe_attempt *a, int ok, const char *what)
{
    probe_cb *cb = a->cb;
    void *arg = a->arg;
    uint64_t us = (uv_hrtime() - a->t0) / 1000;

    a->cb = NULL;
    release(a);
    if (cb != NULL)
        cb(arg, ok, us, what);
}

void
probe_cancel(struct probe_attempt *a)
{
    if (a == NULL)
        return;
    a->cb = NULL;
    release(a);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct probe_attempt *a = h->data;

    (void)hint;
    buf->base = a->resp + a->got;
    buf->len = sizeof(a->resp) - 1 - a->got;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct probe_attempt *a = s->data;
    char what[32];
    int code;

    (void)buf;
    if (n > 0)
        a->got += (size_t)n;
    if (a->got >= 12 || n < 0 || a->got >= sizeof(a->resp) - 1) {
        uv_read_stop(s);
        code = readiness_http_status(a->resp, a->got);
        snprintf(what, sizeof(what), "http=%d", code);
        verdict(a, code >= 200 && code < 400, what);
    }
}

/* Whether a connect or write callback has nothing more to do: cancelled
 * (closing), or failed (the verdict given). */
static int
over(struct probe_attempt *a, int status)
{
    char what[48];

    if (a->cb == NULL)
        return 1;
    if (status >= 0)
        return 0;
    snprintf(what, sizeof(what), "err=%s", uv_err_name(status));
    verdict(a, 0, what);
    return 1;
}

static void
on_written(uv_write_t *req, int status)
{
    struct probe_attempt *a = req->data;

    if (!over(a, status))
        uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
}

static void
on_connect(uv_connect_t *req, int status)
{
    struct probe_attempt *a = req->data;
    uv_buf_t b;

    if (over(a, status))
        return;
    if (a->kind == PROBE_TCP) { /* connected is enough */
        verdict(a, 1, "connected");
        return;
    }
    b = uv_buf_init(a->req, (unsigned)strlen(a->req));
    a->wr.data = a;
    if (uv_write(&a->wr, (uv_stream_t *)&a->tcp, &b, 1, on_written) < 0)
        verdict(a, 0, "err=write");
}

/* The source a probe of sport leaves from, as a connection's: the wildcard
 * of dst's family, so the kernel picks the address the route gives; sport
 * the one a steered listener sends to the generation checked. */
static void
probe_source(const struct addr *dst, unsigned sport,
             struct sockaddr_storage *src)
{
    memset(src, 0, sizeof(*src));
    src->ss_family = dst->ss.ss_family;
    if (src->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)src)->sin6_port = htons((uint16_t)sport);
    else
        ((struct sockaddr_in *)src)->sin_port = htons((uint16_t)sport);
}

static struct probe_attempt *
start_connect(struct probe_attempt *a, const char *target, unsigned sport)
{
    char hostport[520], path[520];
    struct addr dst;

    if (a->kind == PROBE_HTTP) {
        if (readiness_parse_url(target, hostport, sizeof(hostport), path,
                                sizeof(path)) < 0)
            goto fail;
        snprintf(a->req, sizeof(a->req),
                 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: handoff\r\n"
                 "Connection: close\r\n\r\n", path, hostport);
    } else {
        snprintf(hostport, sizeof(hostport), "%s", target);
    }
    if (addr_parse(hostport, &dst, NULL, 0) < 0 ||
        addr_family(&dst) == AF_UNIX || dst.dgram)
        goto fail;
    uv_tcp_init(a->host.loop, &a->tcp);
    a->tcp.data = a;
    a->conn.data = a;
    if (sport != 0) {
        struct sockaddr_storage src;
        probe_source(&dst, sport, &src);
        uv_tcp_bind(&a->tcp, (struct sockaddr *)&src, 0);
    }
    if (uv_tcp_connect(&a->conn, &a->tcp, (struct sockaddr *)&dst.ss,
                       on_connect) < 0) {
        a->cb = NULL;
        release(a);
        return NULL;
    }
    return a;
fail:
    free(a);
    return NULL;
}

static void
on_dns_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct probe_attempt *a = h->data;

    (void)hint;
    /* A longer reply is cut (UV_UDP_PARTIAL): its header is all that is
     * read. */
    buf->base = a->resp;
    buf->len = sizeof(a->resp);
}

static void
on_dns_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
            const struct sockaddr *from, unsigned flags)
{
    struct probe_attempt *a = h->data;
    socklen_t len;
    char what[48];

    (void)flags;
    if (a->cb == NULL || n == 0)
        return;  /* closing; or nothing more to read */
    if (n < 0) { /* ECONNREFUSED: the port is closed (ICMP) */
        snprintf(what, sizeof(what), "err=%s", uv_err_name((int)n));
        verdict(a, 0, what);
        return;
    }
    len = from != NULL && from->sa_family == AF_INET6
              ? sizeof(struct sockaddr_in6)
              : sizeof(struct sockaddr_in);
    /* The socket is connected, so the kernel takes only HOST:PORT's
     * datagrams; checked again, as only the server asked may pass. A
     * datagram that is not the answer (another id, a query) is ignored:
     * the answer may still come within the caller's timeout. */
    if (from == NULL || !addr_equal(&a->dst, from, len) ||
        !dnsq_match((const uint8_t *)buf->base, (size_t)n, a->id))
        return;
    snprintf(what, sizeof(what), "rcode=%d",
             dnsq_rcode((const uint8_t *)buf->base, (size_t)n));
    verdict(a, 1, what);
}

static void
on_dns_sent(uv_udp_send_t *req, int status)
{
    over(req->data, status);
}

static struct probe_attempt *
start_dns(struct probe_attempt *a, const char *target, unsigned sport)
{
    char name[DNSQ_NAME_MAX + 2];
    struct sockaddr_storage src;
    uv_buf_t b;
    int n;

    /* A random id: a late answer to an earlier query from the same port,
     * or a guess by someone else, is not taken for this one's. */
    if (dnsq_parse(target, &a->dst, name, sizeof(name), NULL, 0) < 0 ||
        uv_random(NULL, NULL, &a->id, sizeof(a->id), 0, NULL) < 0 ||
        (n = dnsq_build(name, a->id, a->query, sizeof(a->query))) < 0) {
        free(a);
        return NULL;
    }
    if (uv_udp_init(a->host.loop, &a->udp) < 0) {
        free(a);
        return NULL;
    }
    a->udp.data = a;
    a->send.data = a;
    probe_source(&a->dst, sport, &src);
    b = uv_buf_init((char *)a->query, (unsigned)n);
    if (uv_udp_bind(&a->udp, (struct sockaddr *)&src, 0) < 0 ||
        uv_udp_connect(&a->udp, (struct sockaddr *)&a->dst.ss) < 0 ||
        uv_udp_recv_start(&a->udp, on_dns_alloc, on_dns_recv) < 0 ||
        uv_udp_send(&a->send, &a->udp, &b, 1, NULL, on_dns_sent) < 0) {
        /* The probe port taken (EADDRINUSE) or no route: the caller's
         * next try takes the next port of the block. */
        a->cb = NULL;
        release(a);
        return NULL;
    }
    return a;
}

static void
on_exec_exit(struct child *c, int status)
{
    struct probe_attempt *a =
        (struct probe_attempt *)((char *)c - offsetof(struct probe_attempt, exec));
    char what[32];

    /* What it left running in its group goes with it (release kills the
     * group): a check is over when its command is. The group outlives its
     * leader's reaping while a member lives, so its number is not reused. */
    snprintf(what, sizeof(what), "exit=%d", reap_exit_code(status));
    verdict(a, WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}

static void
on_exec_timeout(uv_timer_t *t)
{
    struct probe_attempt *a = t->data;
    char what[48];

    if (a == NULL)
        return;
    log_event(LOG_WARN, "probe_timeout", "pid=%d timeout_ms=%llu",
              (int)a->exec.pid, (unsigned long long)a->timeout_ms);
    snprintf(what, sizeof(what), "err=timeout after %llums",
             (unsigned long long)a->timeout_ms);
    verdict(a, 0, what); /* kills its process group */
}

static struct probe_attempt *
start_exec(struct probe_attempt *a, const char *target, char **env)
{
    char *argv[] = {"/bin/sh", "-c", (char *)target, NULL};
    struct spawn_opts o;

    memset(&o, 0, sizeof(o));
    o.argv = argv;
    o.envp = env != NULL ? env : environ;
    o.listen_pid_index = o.watchdog_pid_index = -1;
    o.chan_fd = -1;
    o.uid = (uid_t)-1;
    o.gid = (gid_t)-1;
    /* A group of its own, killed whole at its timeout or cancel; and gone
     * with a master killed by SIGKILL, like a worker. */
    o.own_pgroup = 1;
    o.die_with_parent = 1;
    a->timer = handle_timer(a->host.loop, a);
    if (a->timer == NULL) {
        free(a);
        return NULL;
    }
    /* Its exec is not waited for: one that fails exits 127, a failure. */
    spawn_process(&o, &a->exec.pid, NULL);
    if (a->exec.pid <= 0) {
        handle_close(a->timer);
        free(a);
        return NULL;
    }
    a->exec.on_exit = on_exec_exit;
    reap_add(a->host.reaper, &a->exec);
    uv_timer_start(a->timer, on_exec_timeout, a->timeout_ms, 0);
    return a;
}

uint64_t
probe_exec_timeout(uint64_t interval_ms)
{
    return interval_ms > PROBE_EXEC_MIN_TIMEOUT_MS ? interval_ms
                                                   : PROBE_EXEC_MIN_TIMEOUT_MS;
}

struct probe_attempt *
probe_start(const struct probe_host *host, enum probe_kind kind,
            const char *target, unsigned sport, char **env, uint64_t timeout_ms,
            probe_cb *cb, void *arg)
{
    struct probe_attempt *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->host = *host;
    a->kind = kind;
    a->cb = cb;
    a->arg = arg;
    a->t0 = uv_hrtime();
    a->timeout_ms = timeout_ms;
    if (kind == PROBE_DNS)
        return start_dns(a, target, sport);
    return kind == PROBE_EXEC ? start_exec(a, target, env)
                              : start_connect(a, target, sport);
}
