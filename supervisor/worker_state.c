/* worker_state.c: a worker written by one image of handoff and adopted by the next (handoff upgrade). */
#include "worker_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "plan.h"
#include "probe.h"
#include "readiness.h"
#include "state.h"
#include "steer.h"

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

/* The sockets lent to w beyond its generation's first: by listener name
 * and descriptor, the group's member of the same number (listener_state). */
static json_t *
extras_write(const struct worker *w)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < w->nextras; i++)
        if (json_array_append_new(a, json_pack("{s:s,s:i}", "listener",
                                               w->extras[i].l->name, "fd",
                                               w->extras[i].fd)) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* The extras of an earlier image's worker, each still a member of its
 * generation's in the adopted group of that name. Absent (an image
 * without them): none. */
static void
extras_adopt(struct state_rd *r, struct gen *g, const json_t *o,
             struct worker *w)
{
    const json_t *a = json_object_get(o, "extras");
    char name[CONFIG_NAME_MAX];

    if (a == NULL)
        return;
    if (!json_is_array(a) || json_array_size(a) > WORKER_MAX_EXTRAS) {
        state_fault(r, "extras", "not an array of %d at most",
                    WORKER_MAX_EXTRAS);
        return;
    }
    for (size_t i = 0; i < json_array_size(a) && !r->failed; i++) {
        const json_t *e = json_array_get(a, i);
        int fd, fds[STEER_MAX_MEMBERS], found = 0;
        struct listener *l = NULL;
        size_t n;

        if (!json_is_object(e)) {
            state_fault(r, "extras", "[%zu] not an object", i);
            return;
        }
        state_text(r, e, "listener", name, sizeof(name));
        fd = (int)state_get(r, e, "fd", 0, 0x7fffffff);
        for (size_t j = 0; !r->failed && j < g->plan->nls; j++)
            if (strcmp(g->plan->ls[j]->name, name) == 0)
                l = g->plan->ls[j];
        n = l != NULL && l->steer != NULL
                ? steer_fds(l->steer, g->id, fds, STEER_MAX_MEMBERS)
                : 0;
        for (size_t j = 1; j < n; j++)
            found |= fds[j] == fd;
        if (!r->failed && !found)
            state_fault(r, "extras", "[%zu] fd %d: not gen %u's on %s", i, fd,
                        g->id, name);
        if (r->failed)
            return;
        w->extras[w->nextras].l = listener_ref(l);
        w->extras[w->nextras].fd = fd;
        w->nextras++;
    }
}

json_t *
worker_state_write(const struct worker *w)
{
    json_t *status = json_string(w->status), *o;

    /* A worker's STATUS= is its own bytes: as the log writes them if they
     * are not UTF-8. */
    if (status == NULL)
        status = log_json_string(w->status, strlen(w->status));
    o = json_pack("{s:i,s:I,s:i,s:I,s:I,s:i,s:I,s:i,s:o,s:i,s:I}", "pid",
                  (int)w->child.pid, "slot", (json_int_t)w->slot, "state",
                  (int)w->state, "started_ns", (json_int_t)w->started_ns,
                  "ready_ns", (json_int_t)w->ready_ns, "stopping_notified",
                  w->stopping_notified, "drain_ns", (json_int_t)w->drain_ns,
                  "killed", w->killed, "status", status, "chan",
                  w->chan ? w->chan->fd : -1, "requests",
                  (json_int_t)(w->chan ? w->chan->requests : 0));
    if (o != NULL && w->nextras > 0 &&
        json_object_set_new(o, "extras", extras_write(w)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
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
    if (!r.failed)
        extras_adopt(&r, g, o, w);
    if (r.failed) {
        for (size_t i = 0; i < w->nextras; i++)
            listener_unref(w->extras[i].l);
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
