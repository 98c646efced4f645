/* worker_state.c: a worker written by one image of handoff and adopted by the next (handoff upgrade). */
#include "worker_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "readiness.h"
#include "state.h"

int
worker_state_busy(const struct worker *w, char *why, size_t len)
{
    const char *what = NULL;

    if (w->exec_report >= 0 || w->exec_poll != NULL)
        what = "its exec is not reported yet";
    else if (readiness_busy(w))
        what = "its readiness check's command is running";
    if (what == NULL)
        return 0;
    snprintf(why, len, "gen %u pid %d: %s", w->gen ? w->gen->id : 0,
             (int)w->child.pid, what);
    return 1;
}

json_t *
worker_state_write(const struct worker *w)
{
    json_t *status = json_string(w->status);

    /* A worker's STATUS= is its own bytes: as the log writes them if they
     * are not UTF-8. */
    if (status == NULL)
        status = log_json_string(w->status, strlen(w->status));
    return json_pack("{s:i,s:I,s:i,s:I,s:I,s:i,s:I,s:i,s:o,s:i,s:I}", "pid",
                     (int)w->child.pid, "slot", (json_int_t)w->slot, "state",
                     (int)w->state, "started_ns", (json_int_t)w->started_ns,
                     "ready_ns", (json_int_t)w->ready_ns, "stopping_notified",
                     w->stopping_notified, "drain_ns", (json_int_t)w->drain_ns,
                     "killed", w->killed, "status", status, "chan",
                     w->chan ? w->chan->fd : -1, "requests",
                     (json_int_t)(w->chan ? w->chan->requests : 0));
}

int
worker_state_inherit(const struct worker *w, int on)
{
    if (w->chan == NULL)
        return 0;
    return fcntl(w->chan->fd, F_SETFD, on ? 0 : FD_CLOEXEC) < 0 ? -errno : 0;
}

/* Whether pid is a child of this process (a zombie one included). */
static int
our_child(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    int ppid = -1;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) != NULL &&
        (p = strrchr(buf, ')')) != NULL) /* the name may hold anything */
        (void)sscanf(p + 1, " %*c %d", &ppid);
    fclose(f);
    return ppid == (int)getpid();
}

int
worker_state_adopt(struct worker_ctx *wc, struct gen *g, const json_t *o,
                   const char *where, char *err, size_t errlen)
{
    struct state_rd r = {.err = err, .errlen = errlen};
    struct worker *w;
    int chan, rc;
    unsigned long requests;

    snprintf(r.path, sizeof(r.path), "%s", where);
    if (!json_is_object(o)) {
        state_fault(&r, "", "not an object");
        return -EINVAL;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return -ENOMEM;
    w->child.pid = (pid_t)state_get(&r, o, "pid", 2, 0x7fffffff);
    w->slot = (size_t)state_get(&r, o, "slot", 0, (long long)g->nslots - 1);
    w->state =
        (enum worker_state)state_get(&r, o, "state", W_STARTING, W_STOPPING);
    w->started_ns = (uint64_t)state_get(&r, o, "started_ns", 0, INT64_MAX);
    w->ready_ns = (uint64_t)state_get(&r, o, "ready_ns", 0, INT64_MAX);
    w->stopping_notified = (int)state_get(&r, o, "stopping_notified", 0, 1);
    w->drain_ns = (uint64_t)state_get(&r, o, "drain_ns", 0, INT64_MAX);
    w->killed = (int)state_get(&r, o, "killed", 0, 1);
    state_text(&r, o, "status", w->status, sizeof(w->status));
    chan = (int)state_get(&r, o, "chan", 3, 0x7fffffff);
    requests = (unsigned long)state_get(&r, o, "requests", 0, INT64_MAX);
    if (!r.failed && !our_child(w->child.pid))
        state_fault(&r, "pid", "%d is not a child of handoff",
                    (int)w->child.pid);
    if (!r.failed && g->slots[w->slot].w != NULL)
        state_fault(&r, "slot", "%zu of gen %u is taken", w->slot, g->id);
    if (r.failed) {
        free(w);
        return -EINVAL;
    }
    if ((rc = channel_adopt(wc->channels, w, chan, requests)) < 0) {
        state_fault(&r, "chan", "fd %d: %s", chan,
                    rc == -EBADF ? "not the master's end of a channel"
                                 : strerror(-rc));
        free(w);
        return rc;
    }
    return worker_adopt(wc, g, w);
}
