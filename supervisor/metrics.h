/* metrics.h: Prometheus metrics: the text of the master's state and the HTTP endpoint that serves it. */
#ifndef HANDOFF_METRICS_H
#define HANDOFF_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "view.h"

struct control_buf;

/*
 * The endpoint must never stall the loop nor grow without bound, whatever
 * a scraper does: so many connections at once (more are accepted and
 * closed at once), so many bytes of request (more: 431), so long to send
 * it (then closed), the answer written without blocking.
 */
#define METRICS_MAX_CONNS 64
/*
 * The listen backlog, as the listeners' default. A client's connect()
 * completes in the kernel before the master accepts: a client looping on
 * connect() queues a connection every 15 us, and 128 filled within 2 ms of
 * the master not being scheduled; a SYN met by a full queue is dropped and
 * its client waits a whole retransmission (1 s). The kernel caps it at
 * net.core.somaxconn.
 */
#define METRICS_BACKLOG 4096
#define METRICS_REQUEST_MAX 8192
#define METRICS_TIMEOUT_MS 5000
#define METRICS_NBUCKETS 14 /* +Inf aside */

/* Bucket i counts observations <= metrics_bounds[i] (not cumulative). */
extern const double metrics_bounds[METRICS_NBUCKETS];

struct metrics_hist {
    uint64_t bucket[METRICS_NBUCKETS + 1]; /* the last one: above them all */
    uint64_t count;
    double sum;
};

/* What the master records as things happen (the shell holds it). */
struct metrics_data {
    struct metrics_hist ready; /* a worker's start to ready */
    struct metrics_hist roll;  /* a roll asked for to promotion */
    struct metrics_hist drain; /* a worker's drain signal to its exit */
    uint64_t refused;          /* endpoint connections over the bound */
    uint64_t upgrades_ok;      /* handoff upgrade: images executed */
    uint64_t upgrades_refused; /* and refused, nothing changed */
};

void metrics_hist_observe(struct metrics_hist *h, double seconds);

/* A worker drained since drain_ns (0: never asked to drain) exits. */
void metrics_observe_drain(struct metrics_data *d, uint64_t drain_ns);

/* A process's resources; pid 0 is the master itself. */
struct metrics_proc {
    uint64_t rss_bytes;
    double cpu_seconds;
    long open_fds; /* only for pid 0; -1: unknown */
};
/* Reads them (from /proc in metrics_proc_read); 0 or -errno. */
typedef int metrics_proc_fn(pid_t pid, struct metrics_proc *out);
metrics_proc_fn metrics_proc_read;

/*
 * The text exposition format 0.0.4 of the deployment v into b: a pure
 * function of v but for proc (NULL: no process metrics), for tests to
 * drive.
 */
void metrics_render(const struct view *v, struct control_buf *b,
                    metrics_proc_fn *proc);

/* What a request (the bytes received so far) asks for. */
enum metrics_http {
    METRICS_HTTP_MORE,      /* no blank line yet, within bounds */
    METRICS_HTTP_GET,       /* GET /metrics */
    METRICS_HTTP_HEAD,      /* HEAD /metrics */
    METRICS_HTTP_NOT_FOUND, /* 404: another path */
    METRICS_HTTP_METHOD,    /* 405: another method */
    METRICS_HTTP_BAD,       /* 400: not HTTP/1.x */
    METRICS_HTTP_TOO_LARGE, /* 431: METRICS_REQUEST_MAX bytes, no end */
    METRICS_HTTP_HEALTHZ,   /* GET /healthz: the loop runs */
    METRICS_HTTP_READYZ,    /* GET /readyz: serving, no stop begun */
};

/* Request line and headers up to the blank line; the rest is ignored. */
enum metrics_http metrics_http_parse(const char *buf, size_t len);

/*
 * Serve GET /metrics on address (HOST:PORT or [V6]:PORT; NULL or "none":
 * no endpoint, *out NULL) from the views view(arg) takes; refused
 * connections are counted in data. Returns 0 or -errno with a message in
 * err.
 */
struct metrics;
int metrics_open(uv_loop_t *loop, const char *address, view_fn *view,
                 void *arg, struct metrics_data *data, struct metrics **out,
                 char *err, size_t errlen);
void metrics_close(struct metrics *mt);

#endif
