/* readiness.h: the check a new worker must pass before it is promoted. */
#ifndef HANDOFF_READINESS_H
#define HANDOFF_READINESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct gen;
struct probe_host;
struct worker;

/* What the checks are given by their owner (master.c), and tell it. */
struct readiness_ctx {
    const struct probe_host *probes; /* where probes run (probe.h) */
    /* The source port of g's probes (traffic.h), 0 for any. */
    unsigned (*probe_port)(void *ctx, struct gen *g);
    /* w passed its check, of kind via. */
    void (*ready)(void *ctx, struct worker *w, enum ready_kind via);
    void *ctx;
};

/*
 * listen and notify wait for the worker to say so (control channel,
 * NOTIFY_SOCKET); delay waits; tcp, http, dns and exec probe every
 * ready_interval. A passed check calls rc->ready.
 */
int readiness_start(const struct readiness_ctx *rc, struct worker *w);
void readiness_stop(struct worker *w);
/*
 * The check of a starting worker adopted after an upgrade's exec (the
 * old image's timer and attempt did not survive it), begun again: probes
 * from now on, a delay counted from the worker's start (started_ns, on
 * the clock of uv_hrtime(), now_ns) as before. 0 or -errno.
 */
int readiness_resume(const struct readiness_ctx *rc, struct worker *w,
                     uint64_t now_ns);

/* Whether w's check runs a command now (exec:), which an exec of the
 * master would leave unwatched. A connection under way (tcp:, http:) is
 * only a try the exec cuts short; between tries only a timer runs. */
int readiness_busy(const struct worker *w);

/* Expand %p (pid), %g (generation) and %% in in; -ENOSPC if out is small. */
int readiness_expand(const char *in, pid_t pid, unsigned gen, char *out,
                     size_t size);

/* Split http://HOST[:PORT]/PATH; returns 0 or -EINVAL. */
int readiness_parse_url(const char *url, char *hostport, size_t hsize,
                        char *path, size_t psize);

/* Status code of an HTTP response's first line, or -1. */
int readiness_http_status(const char *buf, size_t len);

#endif
