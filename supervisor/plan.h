/* plan.h: a configuration with the listeners opened for it, shared by generations. */
#ifndef HANDOFF_PLAN_H
#define HANDOFF_PLAN_H

#include <stddef.h>

#include "config.h"
#include "listener.h"

struct plan {
    struct config *cfg;
    /* The file's bytes cfg was read from (source.h), or NULL. A reload's
     * cfg differs from them in the start-only keys (config_keep_start_keys). */
    char *source;
    size_t source_len;
    struct listener **ls;
    size_t nls;
    int refs;
    unsigned id; /* the deployment core's name for it */
};

struct plan *plan_ref(struct plan *p);
void plan_unref(struct plan *p);

/*
 * A plan for cfg (which it takes on success), reusing the listeners of the
 * live plans in old[0..nold) that have the same address and opening the
 * others. A listener cannot change its traffic mode while it is open. On
 * error nothing is left open and err says why.
 */
int plan_new(struct config *cfg, struct plan *const *old, size_t nold,
             struct plan **out, char *err, size_t errlen);

/* p takes text, the len bytes cfg was read from (source_load), freed
 * with p. */
void plan_set_source(struct plan *p, char *text, size_t len);

/* f(l, arg) once for each listener of plans[0..n) (NULL plans skipped),
 * however many of the plans share it, in one pass of O(listeners). */
void plan_each_listener(struct plan *const *plans, size_t n,
                        void (*f)(struct listener *, void *), void *arg);

struct deploy_conf;

/* Whether p has a steered listener: its generations get sockets of their
 * own. */
int plan_steered(const struct plan *p);

/* What the deployment core needs of p (deploy.h). */
void plan_conf(const struct plan *p, struct deploy_conf *c);

/* Unix socket files of p's listeners removed from outside: a new socket
 * for each (listener_restore), logged with when. Returns how many. */
int plan_restore_paths(struct plan *p, const char *when);

#endif
