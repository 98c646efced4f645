/* status.c: what handoff status prints: text for people, one JSON object for programs. */
#include "status.h"

#include <stdio.h>
#include <unistd.h>

#include "guard.h"
#include "master.h"
#include "rollout.h"

static unsigned long long
ms_since(uint64_t ns)
{
    return (unsigned long long)((master_now() - ns) / 1000000);
}

/* "850ms", "12.3s", "4m05s", "2h07m": an uptime for people. */
static const char *
human_ms(unsigned long long ms, char *buf, size_t size)
{
    if (ms < 1000)
        snprintf(buf, size, "%llums", ms);
    else if (ms < 60000)
        snprintf(buf, size, "%llu.%llus", ms / 1000, ms % 1000 / 100);
    else if (ms < 3600000)
        snprintf(buf, size, "%llum%02llus", ms / 60000, ms % 60000 / 1000);
    else
        snprintf(buf, size, "%lluh%02llum", ms / 3600000, ms % 3600000 / 60000);
    return buf;
}

static const char *
worker_state_name(enum worker_state s)
{
    static const char *const names[] = {"starting", "ready", "stopping",
                                        "exited"};

    return (unsigned)s <= W_EXITED ? names[s] : "?";
}

static const char *
ready_text(const struct config *c)
{
    return c->ready_set && c->ready_spec ? c->ready_spec
                                         : config_ready_name(c->ready);
}

void
status_text(const struct master *m, const struct status_last *last,
            struct control_buf *b)
{
    const struct config *c = m->plan->cfg;
    char t[32];

    control_buf_printf(b, "handoff %s, pid %d, up %s%s\n", PACKAGE_VERSION,
                       (int)getpid(),
                       human_ms(ms_since(m->started_ns), t, sizeof(t)),
                       m->stopping ? ", stopping" : "");
    control_buf_printf(b, "pass %s, ready %s\n", config_pass_name(c->pass),
                       ready_text(c));
    control_buf_printf(b, "rolls: %u promoted, %u failed; restarts: %u\n",
                       m->rolls_ok, m->rolls_failed, m->restarts);
    if (last->outcome == 0) {
        control_buf_printf(b, "last roll: none\n");
    } else {
        control_buf_printf(b, "last roll: %s gen=%u roll_ms=%llu",
                           last->outcome > 0 ? "promoted" : "failed",
                           last->gen, last->ms);
        if (last->outcome < 0) {
            control_buf_printf(b, " reason=");
            control_buf_quote(b, last->reason);
        }
        control_buf_printf(b, "\n");
    }
    guard_describe(m->guard, t, sizeof(t));
    if (t[0] != '\0')
        control_buf_printf(b, "%s\n", t);
    for (const struct gen *g = m->gens; g; g = g->next) {
        char share[64];
        rollout_describe(m, g, share, sizeof(share));
        control_buf_printf(b, "gen %u: %s, %zu process%s, up %s%s%s\n", g->id,
                           gen_state_name(g->state), g->live,
                           g->live == 1 ? "" : "es",
                           human_ms(ms_since(g->started_ns), t, sizeof(t)),
                           share[0] ? ", " : "", share);
        for (size_t i = 0; i < g->nslots; i++) {
            const struct slot *s = &g->slots[i];
            const struct worker *w = s->w;
            if (w == NULL) {
                if (s->restart_timer != NULL)
                    control_buf_printf(b, "  slot %zu: restarting, "
                                       "restarts %u\n", i, s->restarts);
                continue;
            }
            control_buf_printf(b, "  pid %d: %s, up %s, restarts %u",
                               (int)w->child.pid, worker_state_name(w->state),
                               human_ms(ms_since(w->started_ns), t, sizeof(t)),
                               s->restarts);
            if (w->status[0] != '\0') {
                control_buf_printf(b, ", status ");
                control_buf_quote(b, w->status);
            }
            control_buf_printf(b, "\n");
        }
    }
}

void
status_json(const struct master *m, const struct status_last *last,
            struct control_buf *b)
{
    const struct config *c = m->plan->cfg;
    const char *sep = "";

    control_buf_printf(b, "{\"pid\":%d,\"version\":", (int)getpid());
    control_buf_json(b, PACKAGE_VERSION);
    control_buf_printf(b, ",\"uptime_ms\":%llu,\"stopping\":%s,\"pass\":",
                       ms_since(m->started_ns),
                       m->stopping ? "true" : "false");
    control_buf_json(b, config_pass_name(c->pass));
    control_buf_printf(b, ",\"ready\":");
    control_buf_json(b, ready_text(c));
    control_buf_printf(b, ",\"processes\":%ld,\"rolls_ok\":%u,"
                       "\"rolls_failed\":%u,\"restarts\":%u,",
                       c->processes, m->rolls_ok, m->rolls_failed,
                       m->restarts);
    if (m->active != NULL)
        control_buf_printf(b, "\"active\":%u,", m->active->id);
    else
        control_buf_printf(b, "\"active\":null,");
    if (last->outcome == 0) {
        control_buf_printf(b, "\"last_roll\":{\"outcome\":\"none\",\"gen\":"
                           "null,\"reason\":null,\"roll_ms\":null}");
    } else {
        control_buf_printf(b, "\"last_roll\":{\"outcome\":\"%s\",\"gen\":%u,"
                           "\"reason\":",
                           last->outcome > 0 ? "promoted" : "failed",
                           last->gen);
        if (last->outcome > 0)
            control_buf_printf(b, "null");
        else
            control_buf_json(b, last->reason);
        control_buf_printf(b, ",\"roll_ms\":%llu}", last->ms);
    }
    {
        char gtext[400];
        unsigned rollbacks = 0;
        for (size_t i = 0; i < ROLLOUT_NCAUSES; i++)
            rollbacks += m->rollbacks[i];
        guard_describe(m->guard, gtext, sizeof(gtext));
        control_buf_printf(b, ",\"rollbacks\":%u,\"guard\":", rollbacks);
        if (gtext[0] != '\0')
            control_buf_json(b, gtext);
        else
            control_buf_printf(b, "null");
    }
    control_buf_printf(b, ",\"generations\":[");
    for (const struct gen *g = m->gens; g; g = g->next) {
        const char *psep = "";
        const struct steer_route *r =
            steer_plan_find(&m->steering, g->id);
        control_buf_printf(b, "%s{\"id\":%u,\"state\":\"%s\",\"uptime_ms\":"
                           "%llu,", sep, g->id, gen_state_name(g->state),
                           ms_since(g->started_ns));
        if (r != NULL)
            control_buf_printf(b, "\"share_bps\":%u,", r->share);
        else
            control_buf_printf(b, "\"share_bps\":null,");
        control_buf_printf(b, "\"kept\":%s,\"canary_step\":",
                           g->state == GEN_KEPT ? "true" : "false");
        if (g->state == GEN_CANARY)
            control_buf_printf(b, "%zu,\"canary_steps\":%zu,", g->step + 1, g->nsteps);
        else
            control_buf_printf(b, "null,\"canary_steps\":%zu,", g->nsteps);
        control_buf_printf(b, "\"processes\":[");
        sep = ",";
        for (size_t i = 0; i < g->nslots; i++) {
            const struct slot *s = &g->slots[i];
            const struct worker *w = s->w;
            if (w == NULL) {
                if (s->restart_timer == NULL)
                    continue; /* retired */
                control_buf_printf(b, "%s{\"pid\":null,\"slot\":%zu,"
                                   "\"state\":\"restarting\",\"ready\":"
                                   "false,\"uptime_ms\":null,"
                                   "\"restarts\":%u,\"status\":null}",
                                   psep, i, s->restarts);
                psep = ",";
                continue;
            }
            control_buf_printf(b, "%s{\"pid\":%d,\"slot\":%zu,\"state\":\"%s\","
                               "\"ready\":%s,\"uptime_ms\":%llu,\"restarts\":"
                               "%u,\"status\":",
                               psep, (int)w->child.pid, i,
                               worker_state_name(w->state),
                               w->ready_ns != 0 ? "true" : "false",
                               ms_since(w->started_ns), s->restarts);
            if (w->status[0] != '\0')
                control_buf_json(b, w->status);
            else
                control_buf_printf(b, "null");
            control_buf_printf(b, "}");
            psep = ",";
        }
        control_buf_printf(b, "]}");
    }
    control_buf_printf(b, "]}\n");
}
