/* readiness.c: readiness checks: delay, tcp, http, dns and exec probes
 * (probe.h). */
#include "readiness.h"

#include <errno.h>
#include <stdlib.h>

#include "generation.h"
#include "handle.h"
#include "log.h"
#include "plan.h"
#include "probe.h"

struct probe {
    struct readiness_ctx rc;
    struct worker *w;
    uv_timer_t *timer;
    struct probe_attempt *att; /* the attempt under way, if any */
    char target[512]; /* the spec with %p and %g expanded */
    unsigned long tries;
};

static void
on_verdict(void *arg, int ok, uint64_t us, const char *what)
{
    struct probe *p = arg;
    struct worker *w = p->w;

    (void)us;
    p->att = NULL;
    log_event(LOG_DEBUG, "probe", "gen=%u pid=%d target=%s %s", w->gen->id,
              (int)w->child.pid, log_q(p->target), what);
    if (ok)
        p->rc.ready(p->rc.ctx, w, w->gen->plan->cfg->ready);
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
        p->rc.ready(p->rc.ctx, p->w, kind);
        return;
    }
    if (p->att != NULL) {
        if (kind == READY_EXEC)
            return;           /* still running: its own timeout judges it */
        probe_cancel(p->att); /* no answer within the interval: again */
    }
    /* From a source port of the generation's probe block: a steered
     * listener sends it to this generation's socket, and only it. */
    p->att = probe_start(
        p->rc.probes,
        kind == READY_EXEC   ? PROBE_EXEC
        : kind == READY_HTTP ? PROBE_HTTP
        : kind == READY_DNS  ? PROBE_DNS
                             : PROBE_TCP,
        p->target,
        kind == READY_EXEC ? 0 : p->rc.probe_port(p->rc.ctx, p->w->gen), NULL,
        probe_exec_timeout(p->w->gen->plan->cfg->ready_interval), on_verdict,
        p);
}

/* The check of w begun, its first tick after waited_ms of a delay have
 * passed already. */
static int
begin(const struct readiness_ctx *rc, struct worker *w, uint64_t waited_ms)
{
    const struct config *c = w->gen->plan->cfg;
    struct probe *p;
    uint64_t first;

    if (c->ready == READY_LISTEN || c->ready == READY_NOTIFY)
        return 0; /* the worker tells: control channel or NOTIFY_SOCKET */
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->rc = *rc;
    p->w = w;
    if (c->ready_arg != NULL &&
        readiness_expand(c->ready_arg, w->child.pid, w->gen->id, p->target,
                         sizeof(p->target)) < 0) {
        free(p);
        return -ENOSPC;
    }
    p->timer = handle_timer(rc->probes->loop, p);
    if (p->timer == NULL) {
        free(p);
        return -ENOMEM;
    }
    w->probe = p;
    if (c->ready == READY_DELAY) {
        uv_timer_start(
            p->timer, on_tick,
            c->ready_delay > waited_ms ? c->ready_delay - waited_ms : 0, 0);
    } else {
        /* First probe soon after the start, then every ready_interval. */
        first = c->ready_interval < 50 ? c->ready_interval : 50;
        uv_timer_start(p->timer, on_tick, first, c->ready_interval);
    }
    return 0;
}

int
readiness_start(const struct readiness_ctx *rc, struct worker *w)
{
    return begin(rc, w, 0);
}

int
readiness_resume(const struct readiness_ctx *rc, struct worker *w,
                 uint64_t now_ns)
{
    return begin(
        rc, w, now_ns > w->started_ns ? (now_ns - w->started_ns) / 1000000 : 0);
}

int
readiness_busy(const struct worker *w)
{
    return w->probe != NULL && w->probe->att != NULL &&
           w->gen->plan->cfg->ready == READY_EXEC;
}

void
readiness_stop(struct worker *w)
{
    struct probe *p = w->probe;

    if (p == NULL)
        return;
    w->probe = NULL;
    handle_close(p->timer);
    probe_cancel(p->att);
    free(p);
}
