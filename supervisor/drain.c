/* drain.c: a worker's drain signal and a generation's SIGKILL, logged. */
#include "drain.h"

#include <signal.h>

#include "log.h"
#include "master.h"
#include "parse.h"
#include "readiness.h"
#include "worker.h"

void
drain_kill(struct gen *g, const char *why)
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
drain_worker(struct worker *w, int sig)
{
    unsigned long long t;

    readiness_stop(w);
    w->state = W_STOPPING;
    /* Taken before kill(): the signal may wake the worker, which can run
     * before the master does again on a busy machine. */
    t = (unsigned long long)(master_now() / 1000); /* mono_us */
    if (worker_kill(w, sig) == 0)
        log_event(LOG_INFO, "drain", "gen=%u pid=%d signal=%s mono_us=%llu",
                  w->gen->id, (int)w->child.pid, parse_signal_name(sig), t);
}
