/* readiness.h: the check a new worker must pass before it is promoted. */
#ifndef HANDOFF_READINESS_H
#define HANDOFF_READINESS_H

#include <stddef.h>
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
 * NOTIFY_SOCKET); delay waits; tcp, http and exec probe every
 * ready_interval. A passed check calls rc->ready.
 */
int readiness_start(const struct readiness_ctx *rc, struct worker *w);
void readiness_stop(struct worker *w);
/* Whether a probe of w's check is under way (a child or a connection of
 * this image's, which an upgrade cannot carry); between probes, its check
 * is only a timer, which the image after it starts again. */
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
