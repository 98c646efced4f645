/* plan.c: plans: a configuration and its listeners, reused across reloads. */
#include "plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "fdlimit.h"
#include "log.h"

struct plan *
plan_ref(struct plan *p)
{
    p->refs++;
    return p;
}

void
plan_unref(struct plan *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    for (size_t i = 0; i < p->nls; i++)
        listener_unref(p->ls[i]);
    free(p->ls);
    config_free(p->cfg);
    free(p->source);
    free(p);
}

void
plan_set_source(struct plan *p, char *text, size_t len)
{
    free(p->source);
    p->source = text;
    p->source_len = len;
}

static void
plan_free_partial(struct plan *p)
{
    for (size_t j = 0; j < p->nls; j++)
        listener_unref(p->ls[j]);
    free(p->ls);
    free(p);
}

/*
 * The open listener for lc in any live plan: a reload during a reload's
 * roll must find what the starting plan opened, not open it again.
 */
static struct listener *
find_open(struct plan *const *old, size_t nold, const struct listen_conf *lc,
          struct plan *p)
{
    struct listener *l = NULL;

    for (size_t k = 0; k < nold && l == NULL; k++)
        if (old[k] != NULL)
            l = listener_find(old[k]->ls, old[k]->nls, lc, p->ls, p->nls);
    return l;
}

/* Same socket, maybe a new name, backlog or blocking mode. */
static void
plan_update(struct listener *l, const struct listen_conf *lc)
{
    int rc;

    snprintf(l->name, sizeof(l->name), "%s", lc->name);
    listener_set_flows(l, lc->flows);
    if (l->backlog != lc->backlog)
        listener_set_backlog(l, lc->backlog);
    if (l->nonblocking != lc->nonblocking &&
        (rc = listener_set_nonblocking(l, lc->nonblocking)) < 0)
        log_event(LOG_WARN, "listen_failed", "name=%s error=%s", log_q(l->name),
                  log_q(strerror(-rc)));
}

int
plan_new(struct config *cfg, struct plan *const *old, size_t nold,
         struct plan **out, char *err, size_t errlen)
{
    struct plan *p = calloc(1, sizeof(*p));
    int rc;

    if (p == NULL || (p->ls = calloc(cfg->nlisten, sizeof(*p->ls))) == NULL) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->refs = 1;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct listen_conf *lc = &cfg->listen[i];
        struct listener *l = find_open(old, nold, lc, p);

        if (l != NULL && l->traffic != lc->traffic &&
            addr_family(&l->addr) != AF_UNIX) {
            snprintf(err, errlen,
                     "%s: %s: traffic cannot change from %s to "
                     "%s while the socket is open: restart handoff",
                     lc->name, lc->address, l->traffic ? "shared" : "steered",
                     lc->traffic ? "shared" : "steered");
            plan_free_partial(p);
            return -EINVAL;
        }
        if (l != NULL) {
            p->ls[p->nls++] = listener_ref(l);
            plan_update(l, lc);
            continue;
        }
        rc = listener_open(lc, &p->ls[p->nls], err, errlen);
        if (rc == -EMFILE) { /* name the limit, and what would do */
            int n = snprintf(err, errlen, "%s: %s: ", lc->name, lc->address);
            if (n > 0 && (size_t)n < errlen)
                fdlimit_nofile_explain(err + n, errlen - (size_t)n,
                                       cfg->nlisten);
        }
        if (rc < 0) {
            plan_free_partial(p);
            return rc;
        }
        l = p->ls[p->nls++];
        log_event(LOG_INFO, "listen", "name=%s address=%s traffic=%s",
                  log_q(l->name), log_q(l->bound_text),
                  l->steer != NULL ? "steered" : "shared");
    }
    p->cfg = cfg;
    *out = p;
    return 0;
}

void
plan_each_listener(struct plan *const *plans, size_t n,
                   void (*f)(struct listener *, void *), void *arg)
{
    /* A mark per pass rather than a list of those seen: 1,000 listeners
     * shared by three generations' plans stay 1,000 calls. */
    static unsigned pass;

    if (++pass == 0)
        pass = 1; /* 0 is a listener never visited */
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; plans[k] != NULL && i < plans[k]->nls; i++) {
            struct listener *l = plans[k]->ls[i];
            if (l->pass == pass)
                continue;
            l->pass = pass;
            f(l, arg);
        }
}

int
plan_steered(const struct plan *p)
{
    for (size_t i = 0; i < p->nls; i++)
        if (p->ls[i]->steer != NULL)
            return 1;
    return 0;
}

/* What the core needs of plan p. */
void
plan_conf(const struct plan *p, struct deploy_conf *c)
{
    const struct config *cfg = p->cfg;

    memset(c, 0, sizeof(*c));
    c->plan = p->id;
    c->processes = (unsigned)cfg->processes;
    c->restart = cfg->restart == RESTART_ALWAYS ? DEPLOY_RESTART_ALWAYS
                 : cfg->restart == RESTART_ON_FAILURE
                     ? DEPLOY_RESTART_ON_FAILURE
                     : DEPLOY_RESTART_NEVER;
    c->steered = plan_steered(p);
    c->drain_signal = cfg->drain_signal;
    c->ready_timeout = cfg->ready_timeout;
    c->drain_timeout = cfg->drain_timeout;
    c->drain_delay = cfg->drain_delay;
    c->stop_timeout = cfg->stop_timeout;
    c->stop_delay = cfg->stop_delay;
    c->keep_previous = cfg->canary.keep_previous;
    c->shim = cfg->pass == PASS_SHIM;
    snprintf(c->ready, sizeof(c->ready), "%s", config_ready_name(cfg->ready));
    c->nsteps = cfg->canary.nsteps;
    for (size_t i = 0; i < c->nsteps && i < DEPLOY_MAX_STEPS; i++) {
        c->steps[i].bps = cfg->canary.steps[i].bps;
        c->steps[i].ms = cfg->canary.steps[i].ms;
    }
}

/*
 * A unix socket file removed behind the shim's back (by a static binary,
 * an rm from outside) leaves its listener unreachable: every connect()
 * fails with ENOENT. The file cannot be linked to the socket again, so a
 * new socket is made at the path (listener_restore()) and lent from then
 * on. Returns how many were made.
 */
int
plan_restore_paths(struct plan *p, const char *when)
{
    int n = 0, rc;

    for (size_t i = 0; p != NULL && i < p->nls; i++) {
        struct listener *l = p->ls[i];

        if ((rc = listener_restore(l)) == 0)
            continue;
        if (rc > 0)
            n++;
        log_event(rc > 0 ? LOG_WARN : LOG_ERROR, "unix_path_lost",
                  "name=%s address=%s found=%s action=%s%s%s", log_q(l->name),
                  log_q(l->bound_text), when, rc > 0 ? "new_socket" : "none",
                  rc > 0 ? "" : " error=", rc > 0 ? "" : log_q(strerror(-rc)));
    }
    return n;
}
