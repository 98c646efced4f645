/* worker.c: the fds, variables and channel a worker starts with. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "deploy.h"
#include "fdlimit.h"
#include "handle.h"
#include "log.h"
#include "parse.h"
#include "proc.h"
#include "reach.h"
#include "readiness.h"
#include "spawn.h"
#include "state.h"
#include "traffic.h"

extern char **environ;

/* Variables handoff sets (the list is config_check.c's, which refuses
 * them in environment =): never passed through from the master's own. */
static int
ours(const char *kv)
{
    return config_env_reserved(kv);
}

static int
overridden(const char *kv, char **env)
{
    size_t n = strcspn(kv, "=");

    for (; env && *env; env++)
        if (strncmp(*env, kv, n) == 0 && (*env)[n] == '=')
            return 1;
    return 0;
}

struct envbuf {
    char **v;
    size_t n, cap;
    int failed;
};

static void
env_put(struct envbuf *e, char *s)
{
    if (s == NULL) {
        e->failed = 1;
        return;
    }
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, cap * sizeof(*v));
        if (v == NULL) {
            free(s);
            e->failed = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
}

static char *
fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
    va_list ap;
    char *s;

    va_start(ap, f);
    if (vasprintf(&s, f, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

void
worker_env_free(char **env)
{
    for (char **p = env; p && *p; p++)
        free(*p);
    free(env);
}

/* "name" or "host:port" of a listener as Server::Starter writes it. */
static void
starter_key(const struct listener *l, char *buf, size_t size)
{
    if (addr_family(&l->bound) == AF_UNIX)
        snprintf(buf, size, "%s", l->bound_text + 5);
    else
        snprintf(buf, size, "%s", l->bound_text);
}

/*
 * The numbers of the n inherited fds, 3 and up, each followed by sep
 * (nginx: "3;4;", its binary upgrade's own form, where a number without
 * its ';' is ignored) or between them (gunicorn: "3,4").
 */
static char *
fd_list(size_t n, char sep, int after_each)
{
    char *s = malloc(n * 12 + 1);
    size_t o = 0;

    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && !after_each)
            s[o++] = sep;
        o += (size_t)sprintf(s + o, "%zu", 3 + i);
        if (after_each)
            s[o++] = sep;
    }
    s[o] = '\0';
    return s;
}

/* Put name=value, taking value (NULL: allocation failed). */
static void
env_put_list(struct envbuf *e, const char *name, char *value)
{
    env_put(e, value ? fmt("%s=%s", name, value) : NULL);
    free(value);
}

int
worker_find_shim(char *path, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        char *slash;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(path, size, "%s/.libs/handoff-shim.so", self);
            if (access(path, R_OK) == 0)
                return 0;
        }
    }
    snprintf(path, size, "%s/handoff-shim.so", HANDOFF_PKGLIBDIR);
    return access(path, R_OK) == 0 ? 0 : -ENOENT;
}

char **
worker_env(char **base, const struct plan *p, unsigned gen_id, int quic_cookie,
           const char *notify_path, int chan_fd, const char *preload,
           int *listen_pid_index, int *watchdog_pid_index)
{
    const struct config *c = p->cfg;
    const char *user_preload = NULL;
    struct envbuf e = {0};

    *listen_pid_index = *watchdog_pid_index = -1;
    for (char **v = base; v && *v; v++) {
        if (preload != NULL && strncmp(*v, "LD_PRELOAD=", 11) == 0) {
            user_preload = *v + 11; /* the shim goes after the user's */
            continue;
        }
        if (!ours(*v) && !overridden(*v, c->env) &&
            !overridden(*v, c->user_env))
            env_put(&e, strdup(*v));
    }
    /* user = alice: alice's HOME, USER, LOGNAME and SHELL, as su and
     * systemd's User= give, unless environment = sets them. */
    for (char **u = c->user_env; u && *u; u++)
        if (!overridden(*u, c->env))
            env_put(&e, strdup(*u));
    if (preload != NULL)
        env_put(&e, user_preload && *user_preload
                        ? fmt("LD_PRELOAD=%s %s", user_preload, preload)
                        : fmt("LD_PRELOAD=%s", preload));
    for (size_t i = 0; i < c->nenv; i++)
        env_put(&e, strdup(c->env[i]));
    env_put(&e, fmt("NOTIFY_SOCKET=%s", notify_path));
    env_put(&e, fmt("HANDOFF_FD=%d", chan_fd));
    env_put(&e, fmt("HANDOFF_GENERATION=%u", gen_id));
    if (quic_cookie >= 0)
        env_put(&e, fmt("HANDOFF_QUIC_COOKIE=%02x", (unsigned)quic_cookie));
    /* As systemd's WatchdogSec= gives them: sd_watchdog_enabled() checks
     * WATCHDOG_PID against its own pid, so it is the child's. */
    if (c->liveness.watchdog != 0) {
        env_put(&e, fmt("WATCHDOG_USEC=%llu",
                        (unsigned long long)c->liveness.watchdog * 1000));
        *watchdog_pid_index = (int)e.n;
        env_put(&e, calloc(1, SPAWN_LISTEN_PID_LEN));
        if (!e.failed)
            strcpy(e.v[*watchdog_pid_index], "WATCHDOG_PID=");
    }
    if (c->pass == PASS_SYSTEMD || c->pass == PASS_INHERIT) {
        size_t len = 1;
        char *names;

        for (size_t i = 0; i < p->nls; i++)
            len += strlen(p->ls[i]->name) + 1;
        names = calloc(1, len);
        for (size_t i = 0; names && i < p->nls; i++) {
            if (i > 0)
                strcat(names, ":");
            strcat(names, p->ls[i]->name);
        }
        env_put(&e, fmt("LISTEN_FDS=%zu", p->nls));
        env_put(&e, names ? fmt("LISTEN_FDNAMES=%s", names) : NULL);
        free(names);
        *listen_pid_index = (int)e.n;
        env_put(&e, calloc(1, SPAWN_LISTEN_PID_LEN));
        if (!e.failed)
            strcpy(e.v[*listen_pid_index], "LISTEN_PID=");
    }
    if (c->pass == PASS_INHERIT) {
        char *starter = calloc(1, p->nls * (ADDR_STRLEN + 16) + 1);
        size_t o = 0;

        for (size_t i = 0; starter && i < p->nls; i++) {
            char key[ADDR_STRLEN];
            starter_key(p->ls[i], key, sizeof(key));
            o += (size_t)sprintf(starter + o, "%s%s=%zu", i ? ";" : "", key,
                                 3 + i);
        }
        env_put(&e, starter ? fmt("SERVER_STARTER_PORT=%s", starter) : NULL);
        free(starter);
        env_put(&e, fmt("EINHORN_FD_COUNT=%zu", p->nls));
        for (size_t i = 0; i < p->nls; i++)
            env_put(&e, fmt("EINHORN_FD_%zu=%zu", i, 3 + i));
        /*
         * nginx takes NGINX as its binary upgrade does: it matches each fd
         * to a listen directive by address and stays in the foreground.
         * gunicorn takes its sockets from LISTEN_FDS and reads GUNICORN_FD
         * only beside GUNICORN_PID, which handoff never sets (gunicorn
         * would then wait to be promoted by a parent that is no gunicorn);
         * but GUNICORN_FD alone keeps a gunicorn told to daemonize in the
         * foreground, where handoff can supervise it.
         */
        env_put_list(&e, "NGINX", fd_list(p->nls, ';', 1));
        env_put_list(&e, "GUNICORN_FD", fd_list(p->nls, ',', 0));
    }
    if (e.failed) {
        worker_env_free(e.v);
        return NULL;
    }
    return e.v;
}

static void on_exec_report(uv_poll_t *h, int status, int events);

/* The reaper's callback (the child comes first in struct worker): the exit
 * is logged, then goes to the worker's owner. */
static void
on_child_exit(struct child *c, int status)
{
    struct worker *w = (struct worker *)c;
    struct worker_ctx *wc = w->ctx;
    uint64_t ran_ms = (uv_hrtime() - w->started_ns) / 1000000, stop_ms;
    int serving = w->gen->state == GEN_ACTIVE;
    char desc[64];

    /* Its exec's report first, if the exit came before it: the log tells
     * spawn or exec_failed, then exit. */
    worker_exec_report(w, 1);
    log_event(serving && !wc->stopping(wc->ctx, &stop_ms) ? LOG_WARN : LOG_INFO,
              "exit", "gen=%u pid=%d %s ran_ms=%llu", w->gen->id, (int)c->pid,
              reap_describe(status, desc, sizeof(desc)),
              (unsigned long long)ran_ms);
    w->state = W_EXITED;
    w->gen->slots[w->slot].w = NULL;
    wc->exited(wc->ctx, w, status, desc);
}

int
worker_adopt(struct worker_ctx *wc, struct gen *g, struct worker *w)
{
    if (w->slot >= g->nslots || g->slots[w->slot].w != NULL)
        return -EEXIST;
    w->gen = g;
    w->ctx = wc;
    w->exec_report = -1;
    w->child.on_exit = on_child_exit;
    reap_add(wc->reaper, &w->child);
    g->slots[w->slot].w = w;
    /* Still starting: its check goes on here (the old image's timer and
     * probe ended at the exec). A check that cannot begin leaves it to
     * ready_timeout, as at a start. */
    if (w->state == W_STARTING)
        (void)readiness_resume(wc->readiness, w, uv_hrtime());
    return 0;
}

int
worker_start(struct worker_ctx *wc, struct gen *g, size_t slot)
{
    const struct plan *p = g->plan;
    const struct config *c = p->cfg;
    int inherit = c->pass == PASS_SYSTEMD || c->pass == PASS_INHERIT;
    int chan_target = inherit ? 3 + (int)p->nls : 3;
    int fds[SPAWN_MAX_FDS], child_end = -1, lpid = -1, wpid = -1, rc;
    gid_t groups[256];
    int ngroups = 0;
    struct spawn_opts o;
    struct worker *w;
    char **env;

    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->gen = g;
    w->ctx = wc;
    w->slot = slot;
    w->state = W_STARTING;
    w->exec_report = -1;
    rc = channel_open(wc->channels, w, &child_end);
    if (rc < 0) {
        log_event(LOG_ERROR, "spawn_failed", "gen=%u slot=%zu err=%s", g->id,
                  slot, log_q(strerror(-rc)));
        free(w);
        return rc;
    }
    env = worker_env(environ, p, g->id, traffic_cookie(wc->sp, g),
                     wc->notify_path, chan_target,
                     c->pass == PASS_SHIM ? wc->shim_path : NULL, &lpid,
                     &wpid);
    if (env == NULL) {
        log_event(LOG_ERROR, "spawn_failed", "gen=%u slot=%zu err=%s", g->id,
                  slot, log_q(strerror(ENOMEM)));
        channel_close(w->chan);
        close(child_end);
        free(w);
        return -ENOMEM;
    }
    for (size_t i = 0; inherit && i < p->nls && i < SPAWN_MAX_FDS; i++)
        fds[i] = listener_fd(p->ls[i], g->id);
    if (c->user != NULL) {
        ngroups = (int)(sizeof(groups) / sizeof(groups[0]));
        if (getgrouplist(c->user, c->gid, groups, &ngroups) < 0)
            ngroups = 0;
    }
    memset(&o, 0, sizeof(o));
    o.argv = c->argv;
    o.envp = env;
    o.listen_pid_index = lpid;
    o.watchdog_pid_index = wpid;
    o.fds = fds;
    o.nfds = inherit ? p->nls : 0;
    o.chan_fd = child_end;
    o.chan_target = chan_target;
    o.directory = c->directory;
    o.uid = c->user ? c->uid : (uid_t)-1;
    o.gid = (c->user || c->group) ? c->gid : (gid_t)-1;
    o.groups = groups;
    o.ngroups = c->user ? (size_t)ngroups : 0;
    o.own_pgroup = 1;
    o.die_with_parent = 1;
    o.preload = c->pass == PASS_SHIM ? wc->shim_path : NULL;

    w->started_ns = uv_hrtime();
    rc = spawn_process(&o, &w->child.pid, &w->exec_report);
    close(child_end);
    worker_env_free(env);
    if (w->child.pid < 0) {
        log_event(LOG_ERROR, "spawn_failed", "gen=%u slot=%zu err=%s", g->id,
                  slot, log_q(strerror(-rc)));
        channel_close(w->chan);
        free(w);
        return rc;
    }
    w->child.on_exit = on_child_exit;
    reap_add(wc->reaper, &w->child);
    g->slots[slot].w = w;
    /* The exec is reported through the loop: a roll of many processes
     * starts them all without waiting for each to load its program. */
    w->exec_poll = handle_poll(wc->loop, w->exec_report, w);
    if (w->exec_poll == NULL ||
        uv_poll_start(w->exec_poll, UV_READABLE, on_exec_report) < 0) {
        /* No watch: wait for this one exec, as there is no other way. */
        int fl = fcntl(w->exec_report, F_GETFL);
        handle_close(w->exec_poll);
        w->exec_poll = NULL;
        if (fl >= 0)
            fcntl(w->exec_report, F_SETFL, fl & ~O_NONBLOCK);
        worker_exec_report(w, 0);
    }
    return 0;
}

/*
 * The report pipe says how the exec went: a worker that runs its program is
 * logged and its readiness watched from then on (never before: a readiness
 * check must not pass for a process that is about to exit 127); one whose
 * exec failed says why, and its exit follows.
 */
static void
on_exec_report(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    if (h->data != NULL)
        worker_exec_report(h->data, 0);
}

void
worker_exec_report(struct worker *w, int exited)
{
    struct gen *g = w->gen;
    int rc;

    if (w->exec_report < 0)
        return;
    rc = spawn_report(w->exec_report, &w->exec_step);
    if (rc == -EAGAIN && !exited)
        return; /* woken early: nothing to read yet */
    handle_close(w->exec_poll);
    w->exec_poll = NULL;
    close(w->exec_report);
    w->exec_report = -1;
    if (rc < 0 && rc != -EAGAIN) {
        char why[512];
        w->exec_err = -rc;
        worker_exec_error(w, why, sizeof(why));
        log_event(LOG_ERROR, "exec_failed",
                  "gen=%u pid=%d command=%s err=%s step=%s reason=%s", g->id,
                  (int)w->child.pid, log_q(g->plan->cfg->argv[0]),
                  log_q(strerror(-rc)), log_q(spawn_step_name(w->exec_step)),
                  log_q(why));
        return;
    }
    log_event(LOG_INFO, "spawn", "gen=%u pid=%d slot=%zu", g->id,
              (int)w->child.pid, w->slot);
    if (!exited)
        readiness_start(w->ctx->readiness, w);
}

/* The name of the user workers run as: user =, or handoff's own. */
static const char *
user_name(const struct config *c, char *buf, size_t size)
{
    struct passwd *pw;

    if (c->user != NULL)
        return c->user;
    pw = getpwuid(geteuid());
    if (pw != NULL)
        snprintf(buf, size, "%s", pw->pw_name);
    else
        snprintf(buf, size, "%u", (unsigned)geteuid());
    return buf;
}

void
worker_exec_error(const struct worker *w, char *buf, size_t size)
{
    const struct plan *p = w->gen->plan;
    const char *cmd = p->cfg->argv[0];
    char uname[64];

    if (w->exec_err == 0) {
        buf[0] = '\0';
        return;
    }
    if (w->exec_step == SPAWN_STEP_FDS && w->exec_err == EMFILE)
        fdlimit_nofile_explain(buf, size, p->nls);
    else if (w->exec_step == SPAWN_STEP_PRELOAD)
        snprintf(buf, size, "the shim %s is not readable by user %s (%s)",
                 w->ctx->shim_path, user_name(p->cfg, uname, sizeof(uname)),
                 strerror(w->exec_err));
    else if (w->exec_step == SPAWN_STEP_EXEC)
        snprintf(buf, size, "cannot run %s: %s", cmd, strerror(w->exec_err));
    else
        snprintf(buf, size, "%s before running %s: %s",
                 spawn_step_name(w->exec_step), cmd, strerror(w->exec_err));
}

/*
 * A worker leads its process group (spawn.c), so -pid reaches the worker
 * and whatever it started that stayed in the group: a pre-forking server's
 * children, which must not go on accepting with the old code once it is
 * drained. A worker that left its group (setsid keeps the number; setpgid
 * to another does not) is reached by its pid alone.
 */
static int
kill_group(pid_t pgid, int sig)
{
    if (kill(-pgid, sig) == 0)
        return 0;
    if (errno != ESRCH)
        return -errno;
    return kill(pgid, sig) < 0 ? -errno : 0;
}

int
worker_kill(struct worker *w, int sig)
{
    int rc;

    if (w->state == W_EXITED || w->child.pid <= 0)
        return -ESRCH;
    rc = kill_group(w->child.pid, sig);
    if (rc < 0)
        return rc;
    if (sig == SIGKILL) {
        w->killed = 1;
        return 0;
    }
    if (w->drain_ns == 0)
        w->drain_ns = uv_hrtime();
    /* A stopped process acts on no signal but SIGKILL until it continues
     * (a worker that read the terminal from the background, say). */
    if (sig != SIGCONT)
        kill_group(w->child.pid, SIGCONT);
    return 0;
}

int
worker_signal(struct worker *w, int sig)
{
    if (w->state == W_EXITED || w->child.pid <= 0)
        return -ESRCH;
    return kill(w->child.pid, sig) < 0 ? -errno : 0;
}

/*
 * What is left of a worker's process group once its main process exited.
 * The generation counts as gone then, but those processes are the
 * worker's: they get drain_signal, if the worker was not drained, and
 * SIGKILL at the deadline the worker had (drain_timeout, or stop_timeout
 * when stopping, from its drain), so that none serves on with old code.
 */
struct remnant {
    pid_t pgid;
    unsigned gen_id;
    uint64_t deadline_ns; /* uv_hrtime()'s clock: CLOCK_MONOTONIC */
    uv_timer_t *timer;
    struct worker_ctx *wc;
    struct remnant *next;
};

static void
remnant_free(struct remnant *r)
{
    for (struct remnant **p = &r->wc->remnants; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    handle_close(r->timer);
    free(r);
}

static void
on_remnant_deadline(uv_timer_t *t)
{
    struct remnant *r = t->data;
    uint64_t stop_ms, now = uv_hrtime();

    if (r == NULL)
        return;
    /* The loop's clock is a coarse one, a few ms behind: never early. */
    if (now < r->deadline_ns) {
        uv_timer_start(t, on_remnant_deadline,
                       (r->deadline_ns - now + 999999) / 1000000, 0);
        return;
    }
    if (kill(-r->pgid, SIGKILL) == 0)
        log_event(LOG_WARN, "kill", "gen=%u pgid=%d reason=%s", r->gen_id,
                  (int)r->pgid,
                  r->wc->stopping(r->wc->ctx, &stop_ms) ? "stop_timeout"
                                                        : "drain_timeout");
    remnant_free(r);
}

static void
remnant_watch(struct worker *w)
{
    struct gen *g = w->gen;
    struct worker_ctx *wc = w->ctx;
    const struct config *c = g->plan->cfg;
    uint64_t stop_ms, timeout, deadline, delay;
    uint64_t now = uv_hrtime(), from = w->drain_ns ? w->drain_ns : now;
    struct remnant *r;

    /* Nobody left. While anyone is, the kernel keeps the number for the
     * group: no new process can take it. */
    if (kill(-w->child.pid, 0) < 0)
        return;
    timeout = wc->stopping(wc->ctx, &stop_ms) ? stop_ms : c->drain_timeout;
    deadline = from + timeout * 1000000;
    if (w->drain_ns == 0 && !w->killed)
        kill(-w->child.pid, c->drain_signal);
    delay = w->killed || deadline <= now ? 0 : (deadline - now) / 1000000;
    r = calloc(1, sizeof(*r));
    if (r != NULL)
        r->timer = handle_timer(wc->loop, r);
    if (r == NULL || r->timer == NULL) {
        /* No way to wait: the deadline is now. */
        free(r);
        kill(-w->child.pid, SIGKILL);
        return;
    }
    r->pgid = w->child.pid;
    r->gen_id = g->id;
    r->deadline_ns = now + delay * 1000000;
    r->wc = wc;
    r->next = wc->remnants;
    wc->remnants = r;
    log_event(LOG_INFO, "remnant", "gen=%u pgid=%d kill_in_ms=%llu", g->id,
              (int)r->pgid, (unsigned long long)delay);
    uv_timer_start(r->timer, on_remnant_deadline, delay, 0);
}

/* A remnant of pgid, to be killed at deadline_ns; -ENOMEM. */
static int
remnant_add(struct worker_ctx *wc, pid_t pgid, unsigned gen_id,
            uint64_t deadline_ns)
{
    struct remnant *r = calloc(1, sizeof(*r));
    uint64_t now = uv_hrtime();

    if (r == NULL || (r->timer = handle_timer(wc->loop, r)) == NULL) {
        free(r);
        return -ENOMEM;
    }
    r->pgid = pgid;
    r->gen_id = gen_id;
    r->deadline_ns = deadline_ns;
    r->wc = wc;
    r->next = wc->remnants;
    wc->remnants = r;
    uv_update_time(wc->loop); /* the timer counts from the loop's time */
    uv_timer_start(r->timer, on_remnant_deadline,
                   deadline_ns > now ? (deadline_ns - now) / 1000000 : 0, 0);
    return 0;
}

json_t *
worker_remnants_write(const struct worker_ctx *wc)
{
    json_t *a = json_array();

    for (const struct remnant *r = wc->remnants; a != NULL && r; r = r->next)
        if (json_array_append_new(
                a, json_pack("{s:i,s:I,s:I}", "pgid", (int)r->pgid, "gen",
                             (json_int_t)r->gen_id, "deadline_ns",
                             (json_int_t)r->deadline_ns)) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

int
worker_remnants_adopt(struct worker_ctx *wc, const json_t *a, char *err,
                      size_t len)
{
    struct state_rd r = {.prefix = "remnants: ", .err = err, .errlen = len};
    size_t n;
    const json_t *arr = a;

    if (!json_is_array(arr) || json_array_size(arr) > 65536) {
        snprintf(err, len, "remnants: not an array");
        return -EINVAL;
    }
    n = json_array_size(arr);
    for (size_t i = 0; i < n && !r.failed; i++) {
        const json_t *e = json_array_get(arr, i);

        snprintf(r.path, sizeof(r.path), "[%zu]", i);
        state_get(&r, e, "pgid", 2, 0x7fffffff);
        state_get(&r, e, "gen", 1, 0xffffffffLL);
        state_get(&r, e, "deadline_ns", 0, INT64_MAX);
    }
    if (r.failed)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        pid_t pgid = (pid_t)json_integer_value(json_object_get(e, "pgid"));

        /* A group whose last process went meanwhile: nothing to end. */
        if (kill(-pgid, 0) < 0)
            continue;
        if (remnant_add(wc, pgid,
                        (unsigned)json_integer_value(json_object_get(e, "gen")),
                        (uint64_t)json_integer_value(
                            json_object_get(e, "deadline_ns"))) < 0)
            kill(-pgid, SIGKILL); /* no way to wait: the deadline is now */
    }
    return 0;
}

void
worker_remnants_close(struct worker_ctx *wc)
{
    while (wc->remnants != NULL)
        remnant_free(wc->remnants);
}

void
worker_free(struct worker *w)
{
    if (w == NULL)
        return;
    if (w->state == W_EXITED && w->child.pid > 0)
        remnant_watch(w);
    readiness_stop(w);
    for (size_t i = 0; i < w->nextras; i++) {
        listener_leave_one(w->extras[i].l, w->ctx->sp, w->gen->id,
                           w->extras[i].fd);
        listener_unref(w->extras[i].l);
    }
    w->nextras = 0;
    channel_close(w->chan);
    handle_close(w->exec_poll);
    if (w->exec_report >= 0)
        close(w->exec_report);
    free(w);
}

static struct worker *
find_worker(struct gen *gens, pid_t pid)
{
    for (struct gen *g = gens; g; g = g->next)
        for (size_t i = 0; i < g->nslots; i++)
            if (g->slots[i].w && g->slots[i].w->child.pid == pid)
                return g->slots[i].w;
    return NULL;
}

struct worker *
worker_of_pid(struct gen *gens, pid_t pid)
{
    pid_t self = getpid();

    for (int depth = 0; pid > 1 && pid != self && depth < 16; depth++) {
        struct worker *w = find_worker(gens, pid);
        if (w != NULL)
            return w;
        pid = proc_parent_of(pid);
    }
    return NULL;
}

void
worker_kill_all(struct gen *g, const char *why)
{
    for (size_t i = 0; i < g->nslots; i++) {
        struct worker *w = g->slots[i].w;
        if (w != NULL && worker_kill(w, SIGKILL) == 0)
            log_event(LOG_WARN, "kill", "gen=%u pid=%d reason=%s", g->id,
                      (int)w->child.pid, why);
    }
    g->killed = 1;
}

void
worker_drain(struct worker *w, int sig)
{
    unsigned long long t;

    readiness_stop(w);
    w->state = W_STOPPING;
    /* Taken before kill(): the signal may wake the worker, which can run
     * before the master does again on a busy machine. */
    t = (unsigned long long)(uv_hrtime() / 1000); /* mono_us */
    if (worker_kill(w, sig) == 0)
        log_event(LOG_INFO, "drain", "gen=%u pid=%d signal=%s mono_us=%llu",
                  w->gen->id, (int)w->child.pid, parse_signal_name(sig), t);
}

/* A new version that exits 0 beside a running one: Apache with one PidFile
 * for every generation ("httpd (pid N) already running"). */
#define BESIDE_HINT                                                          \
    "; a new version that exits 0 before it is ready is probably refusing " \
    "to run beside the old one: a pid file or a lock; give each generation " \
    "its own, e.g. with HANDOFF_GENERATION"

int
worker_never_asked(const struct worker *w)
{
    return w->gen->plan->cfg->pass == PASS_SHIM &&
           (w->chan == NULL || w->chan->requests == 0);
}

void
worker_exit_hint(const struct worker *w, int status, int beside, char *buf,
                 size_t size)
{
    char execerr[400];

    worker_exec_error(w, execerr, sizeof(execerr));
    /* Exiting before asking is normal for a bad configuration: the hint
     * is for a program that shim_bypassed already flagged. */
    snprintf(buf, size, "%s%s%s%s", execerr[0] ? ": " : "", execerr,
             w->gen->bypassed && worker_never_asked(w) ? DEPLOY_BYPASS_HINT
                                                       : "",
             beside && WIFEXITED(status) && WEXITSTATUS(status) == 0
                 ? BESIDE_HINT
                 : "");
}

void
worker_check_reach(struct gen *g)
{
    const struct config *c = g->plan->cfg;
    char why[512];

    if (c->pass == PASS_SHIM &&
        reach_bypasses(c->argv[0], getenv("PATH"),
                       c->uid != (uid_t)-1 ? c->uid : geteuid(),
                       c->gid != (gid_t)-1 ? c->gid : getegid(), why,
                       sizeof(why)) > 0) {
        g->bypassed = 1;
        log_event(LOG_WARN, "shim_bypassed", "gen=%u reason=%s hint=%s", g->id,
                  log_q(why),
                  log_q("LD_PRELOAD cannot reach it: use pass = systemd or "
                        "inherit"));
    }
}
