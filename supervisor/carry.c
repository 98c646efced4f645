/* carry.c: the master's whole state gathered into one document before an upgrade's exec, and handed back part by part in the image it starts. */
#include "carry.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_state.h"
#include "fdlimit.h"
#include "gens_state.h"
#include "guard.h"
#include "livecheck.h"
#include "log.h"
#include "plan.h"
#include "rundir.h"
#include "metrics_state.h"
#include "notify_state.h"
#include "sdnotify_state.h"
#include "sock_state.h"
#include "state.h"
#include "steer_state.h"
#include "upgrade.h"
#include "version.h"
#include "worker_state.h"

int
carry_busy(void *arg, char *why, size_t len)
{
    const struct carry *c = arg;
    const char *what = NULL;

    if (c->d->stopping)
        what = "handoff is stopping";
    else if (c->d->pending != DP_NONE)
        what = "a swap of steering programs is awaited";
    else if (guard_busy(*c->guard))
        what = "a guard's probe is under way";
    if (what != NULL) {
        snprintf(why, len, "%s", what);
        return 1;
    }
    return gens_state_busy(c->gens, why, len) ||
           control_busy(*c->control, why, len);
}

static json_t *
argv_write(char *const *argv)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && argv[i] != NULL; i++)
        if (json_array_append_new(a, json_string(argv[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *
shell_write(const struct carry *c)
{
    json_t *o = json_object(), *log_text;
    int f = o == NULL;
    unsigned long dropped;
    const char *held;
    size_t n;

    if (f)
        return NULL;
    state_put(o, "rundir", json_string(c->rundir), &f);
    state_put(o, "started_ns", sock_state_u64(*c->started_ns), &f);
    state_put(o, "last_ms", sock_state_u64(*c->last_ms), &f);
    state_put(o, "swap_us", sock_state_u64(*c->swap_us), &f);
    state_put(o, "orphans", sock_state_u64(c->reaper->orphans), &f);
    state_put(o, "asked_ns", sock_state_u64(c->asked_ns), &f);
    state_put(o, "nofile_soft", sock_state_u64(fdlimit_start_soft()), &f);
    n = log_held(&held, &dropped);
    /* Lines are text; one that is not UTF-8 is counted as dropped. */
    log_text = json_stringn(held, n);
    state_put(o, "log", log_text != NULL ? log_text : json_string(""), &f);
    state_put(o, "log_dropped",
              sock_state_u64(dropped + (log_text == NULL && n > 0)), &f);
    if (f) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
carry_write(void *arg)
{
    const struct carry *c = arg;
    json_t *doc = state_write(c->d);
    int f = doc == NULL;

    if (f)
        return NULL;
    state_put(doc, "argv", argv_write(c->argv), &f);
    state_put(doc, "gens", gens_state_write(c->gens), &f);
    state_put(doc, "steering", steer_state_write(c->steering), &f);
    state_put(doc, "notify", notify_state_write(*c->notify), &f);
    state_put(doc, "sdnotify", sdnotify_state_write(*c->sdnotify), &f);
    state_put(doc, "control", control_state_write(*c->control), &f);
    state_put(doc, "metrics", metrics_state_write(*c->metrics), &f);
    state_put(doc, "metrics_data", metrics_state_write_data(c->metrics_data),
              &f);
    state_put(doc, "guard", guard_state_write(*c->guard), &f);
    state_put(doc, "liveness",
              *c->live ? livecheck_state_write(*c->live) : json_null(), &f);
    state_put(doc, "remnants", worker_remnants_write(c->workers), &f);
    state_put(doc, "master", shell_write(c), &f);
    if (f) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int
carry_inherit(void *arg, int on)
{
    const struct carry *c = arg;
    int rc;

    if ((rc = gens_state_inherit(c->gens, on)) < 0)
        return rc;
    if ((rc = notify_state_inherit(*c->notify, on)) < 0)
        goto gens;
    if ((rc = sdnotify_state_inherit(*c->sdnotify, on)) < 0)
        goto notify;
    if ((rc = control_state_inherit(*c->control, on)) < 0)
        goto sdnotify;
    if ((rc = metrics_state_inherit(*c->metrics, on)) < 0)
        goto control;
    return 0;
control:
    (void)control_state_inherit(*c->control, !on);
sdnotify:
    (void)sdnotify_state_inherit(*c->sdnotify, !on);
notify:
    (void)notify_state_inherit(*c->notify, !on);
gens:
    (void)gens_state_inherit(c->gens, !on);
    return rc;
}

/* The arguments doc names, parsed as the master parsed them. */
static int
args_read(const json_t *doc, struct config_args *args, char ***argv, char *err,
          size_t len)
{
    const json_t *a = json_object_get(doc, "argv");
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    int rc;

    if (n == 0 || n > 4096) {
        snprintf(err, len, "argv: not an array of 1 to 4096 strings");
        return -EINVAL;
    }
    if ((*argv = calloc(n + 1, sizeof(**argv))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(a, i)) ||
            ((*argv)[i] = strdup(json_string_value(json_array_get(a, i)))) ==
                NULL) {
            snprintf(err, len, "argv[%zu]: not a string", i);
            return -EINVAL; /* the caller frees what was copied */
        }
    if ((rc = config_args_parse((int)n, *argv, args, err, len)) < 0)
        return rc;
    return 0;
}

static void
argv_free(char **argv)
{
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

int
carry_check(const json_t *doc, char *err, size_t len)
{
    struct config_args args;
    struct steer_plan steering;
    struct metrics_data data;
    struct deploy d;
    char **argv = NULL;
    int rc;

    memset(&args, 0, sizeof(args));
    rc = state_read(&d, doc, err, len);
    deploy_free(&d);
    if (rc < 0)
        return rc;
    if ((rc = args_read(doc, &args, &argv, err, len)) == 0 &&
        (rc = gens_state_check(json_object_get(doc, "gens"), &args, err,
                               len)) == 0 &&
        (rc = steer_state_read(json_object_get(doc, "steering"), &steering, err,
                               len)) == 0)
        rc = metrics_state_read_data(json_object_get(doc, "metrics_data"),
                                     &data, err, len);
    config_args_free(&args);
    argv_free(argv);
    return rc;
}

static int
shell_read(struct carry *c, const json_t *o, uint64_t *asked_ns, char *err,
           size_t len)
{
    struct state_rd r = {.prefix = "master: ", .err = err, .errlen = len};
    char rundir[PATH_MAX];
    uint64_t soft, dropped;

    if (!json_is_object(o)) {
        snprintf(err, len, "master: not an object");
        return -EINVAL;
    }
    state_text(&r, o, "rundir", rundir, sizeof(rundir));
    *c->started_ns = sock_state_get_u64(&r, o, "started_ns");
    *c->last_ms = sock_state_get_u64(&r, o, "last_ms");
    *c->swap_us = sock_state_get_u64(&r, o, "swap_us");
    c->reaper->orphans = (unsigned long)sock_state_get_u64(&r, o, "orphans");
    *asked_ns = sock_state_get_u64(&r, o, "asked_ns");
    soft = sock_state_get_u64(&r, o, "nofile_soft");
    dropped = sock_state_get_u64(&r, o, "log_dropped");
    if (!r.failed && !json_is_string(json_object_get(o, "log")))
        state_fault(&r, "log", "not a string");
    if (r.failed)
        return -EINVAL;
    fdlimit_restore(soft);
    log_hold(json_string_value(json_object_get(o, "log")),
             json_string_length(json_object_get(o, "log")),
             (unsigned long)dropped);
    snprintf(c->rundir, PATH_MAX, "%s", rundir);
    return 0;
}

int
carry_open(struct carry *c, struct config *cfg, char **source, size_t len,
           char *err, size_t errlen)
{
    char why[CONFIG_ERRLEN];
    int rc;

    if ((rc = control_open(c->loop, c->control_ops, cfg->control, c->control,
                           err, errlen)) < 0) {
        log_event(LOG_ERROR, "control_failed", "error=%s", log_q(err));
        config_free(cfg);
        return rc;
    }
    if ((rc = metrics_open(c->loop, cfg->metrics, c->view, c->view_arg,
                           c->metrics_data, c->metrics, err, errlen)) < 0) {
        config_free(cfg);
        return rc;
    }
    steer_plan_init(c->steering, cfg->probe_lo, cfg->probe_hi);
    if ((rc = plan_new(cfg, NULL, 0, &c->gens->plan, why, sizeof(why))) < 0) {
        config_free(cfg);
        snprintf(err, errlen, "listen %s", why);
        log_event(LOG_ERROR, "listen_failed", "error=%s", log_q(why));
        return rc;
    }
    c->gens->plan->id = ++c->gens->next_id;
    plan_set_source(c->gens->plan, *source, len);
    *source = NULL;
    if ((rc = rundir_make(c->rundir, PATH_MAX, c->notify_path, PATH_MAX)) < 0 ||
        (rc = notify_open(c->loop, c->notify_path, c->on_notify, c->notify_arg,
                          c->notify)) < 0) {
        snprintf(err, errlen, "cannot make the notify socket in %s",
                 c->rundir[0] ? c->rundir : "/run or /tmp");
        return rc;
    }
    return 0;
}

/* The guard the core names, started again with the counts it had. */
static int
guard_adopt(struct carry *c, const json_t *o, char *err, size_t len)
{
    const struct deploy *d = c->d;
    struct gen *g = gen_find(c->gens->list, d->guard_cur);

    if (d->guard_cur == 0 || g == NULL ||
        gen_find(c->gens->list, d->guard_prev) == NULL)
        return 0;
    *c->guard = guard_start(c->guards, &g->plan->cfg->canary, d->guard_cur,
                            d->guard_prev, d->guard_latency);
    if (*c->guard == NULL || json_is_null(o))
        return 0;
    return guard_state_read(*c->guard, o, err, len);
}

int
carry_adopt(struct carry *c, const json_t *doc, uint64_t *asked_ns, char *err,
            size_t len)
{
    struct gens_adopt ga = {c->loop, c->args, c->workers};
    int rc;

    if ((rc = state_read(c->d, doc, err, len)) < 0)
        return rc;
    if ((rc = metrics_state_read_data(json_object_get(doc, "metrics_data"),
                                      c->metrics_data, err, len)) < 0 ||
        (rc = steer_state_read(json_object_get(doc, "steering"), c->steering,
                               err, len)) < 0 ||
        (rc = gens_state_adopt(c->gens, json_object_get(doc, "gens"), &ga, err,
                               len)) < 0 ||
        (rc = worker_remnants_adopt(
             c->workers, json_object_get(doc, "remnants"), err, len)) < 0 ||
        (rc = notify_state_adopt(c->loop, json_object_get(doc, "notify"),
                                 c->on_notify, c->notify_arg, c->notify, err,
                                 len)) < 0 ||
        (rc = sdnotify_state_adopt(json_object_get(doc, "sdnotify"),
                                   c->sdnotify, err, len)) < 0 ||
        (rc = control_state_adopt(c->loop, c->control_ops,
                                  json_object_get(doc, "control"), c->control,
                                  err, len)) < 0 ||
        (rc = metrics_state_adopt(c->loop, json_object_get(doc, "metrics"),
                                  c->view, c->view_arg, c->metrics_data,
                                  c->metrics, err, len)) < 0)
        return rc;
    snprintf(c->notify_path, PATH_MAX, "%s", (*c->notify)->path);
    if (handoff_refuse_adopt) {
        snprintf(err, len,
                 "this build refuses every state once adopted "
                 "(a test build)");
        return -EINVAL;
    }
    /* Last: the log lines held are written once this image goes on. */
    if ((rc = guard_adopt(c, json_object_get(doc, "guard"), err, len)) < 0 ||
        (*c->live != NULL &&
         (rc = livecheck_state_read(*c->live, json_object_get(doc, "liveness"),
                                    err, len)) < 0))
        return rc;
    return shell_read(c, json_object_get(doc, "master"), asked_ns, err, len);
}

void
carry_resumed(struct carry *c, const json_t *doc, uint64_t asked_ns)
{
    const char *from = json_string_value(json_object_get(doc, "written_by"));
    uint64_t now = uv_hrtime();
    unsigned long long ms =
        asked_ns && now > asked_ns ? (now - asked_ns) / 1000000 : 0;
    char line[700];

    if (upgrade_failed() != NULL) {
        /* The image this one executed gave the state back. */
        snprintf(line, sizeof(line), "error: %s\n", upgrade_failed());
        c->metrics_data->upgrades_refused++;
        log_event(LOG_ERROR, "upgrade_refused", "reason=%s",
                  log_q(upgrade_failed()));
    } else {
        snprintf(line, sizeof(line), "upgraded pid=%d from=%s to=%s ms=%llu\n",
                 (int)getpid(), from ? from : "?", handoff_version, ms);
        c->metrics_data->upgrades_ok++;
        log_event(LOG_INFO, "upgrade", "pid=%d from=%s to=%s ms=%llu",
                  (int)getpid(), log_q(from ? from : "?"),
                  log_q(handoff_version), ms);
    }
    control_upgraded(*c->control, line);
}

/* An upgrade that did not happen: the asking client told why. */
static void
upgrade_refused(void *arg, int rc, const char *why)
{
    struct carry *c = arg;
    char line[1100];

    if (rc == -EBUSY) {
        /* Brief: the client asks again (handoff upgrade does). */
        snprintf(line, sizeof(line), "error: busy: %s\n", why);
        log_event(LOG_DEBUG, "upgrade_busy", "reason=%s", log_q(why));
    } else {
        snprintf(line, sizeof(line), "error: %s\n", why);
        c->metrics_data->upgrades_refused++;
        log_event(LOG_WARN, "upgrade_refused", "reason=%s", log_q(why));
    }
    control_upgraded(*c->control, line);
}

void
carry_upgrade(struct carry *c, const char *binary, uint64_t timeout_ms)
{
    static struct upgrade_ops ops = {carry_busy, carry_write, carry_inherit,
                                     NULL};
    char path[PATH_MAX], why[PATH_MAX + 100];
    int rc;

    c->asked_ns = uv_hrtime();
    ops.arg = c;
    if (binary == NULL &&
        (rc = upgrade_binary(c->argv[0], path, sizeof(path))) < 0) {
        snprintf(why, sizeof(why), "%s: the binary handoff was started as: %s",
                 c->argv[0], strerror(-rc));
        upgrade_refused(c, rc, why);
        return;
    }
    binary = binary != NULL ? binary : path;
    log_event(LOG_INFO, "upgrade_start", "binary=%s", log_q(binary));
    rc = upgrade_start(c->loop, &ops, binary, c->argv,
                       timeout_ms ? timeout_ms : UPGRADE_TIMEOUT_MS,
                       upgrade_refused, c);
    if (rc < 0) {
        snprintf(why, sizeof(why), "%s", strerror(-rc));
        upgrade_refused(c, rc, why);
    }
}

void
carry_give_back(const json_t *doc, char *const argv[], const char *err)
{
    const json_t *by = json_object_get(doc, "written_by");
    char why[1200];

    snprintf(why, sizeof(why),
             "handoff %s could not take the state over: %s; handoff %s "
             "resumed",
             handoff_version, err,
             json_is_string(by) ? json_string_value(by) : "before");
    log_event(LOG_ERROR, "upgrade_failed", "error=%s", log_q(err));
    log_detach(); /* its lines out before the exec */
    (void)upgrade_back(doc, argv, why);
}
