/* status.c: what handoff status prints: text for people, one JSON object for programs. */
#include "status.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "log.h"
#include "master.h"

static unsigned long long
ms_since(uint64_t ns)
{
    return (unsigned long long)((uv_hrtime() - ns) / 1000000);
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

/* "share=5.00% step=1/2" or "share=0% kept" or "" for g. */
static void
share_text(const struct master *m, const struct gen *g, char *buf,
                 size_t size)
{
    const struct steer_route *r = steer_plan_find(&m->steering, g->id);
    unsigned share = r ? r->share : 0;

    if (g->state == GEN_CANARY)
        snprintf(buf, size, "share=%u.%02u%% step=%zu/%zu", share / 100,
                 share % 100, g->step + 1, g->nsteps);
    else if (g->state == GEN_KEPT)
        snprintf(buf, size, "share=0%% kept");
    else if (r != NULL)
        snprintf(buf, size, "share=%u.%02u%%", share / 100, share % 100);
    else
        buf[0] = '\0';
}

void
status_text(const struct master *m, const struct status_last *last,
            struct control_buf *b)
{
    const struct config *c = m->plan->cfg;
    char t[32], guard[400]; /* as long as status_json's */

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
    guard_describe(m->guard, guard, sizeof(guard));
    if (guard[0] != '\0')
        control_buf_printf(b, "%s\n", guard);
    for (const struct gen *g = m->gens; g; g = g->next) {
        char share[64];
        share_text(m, g, share, sizeof(share));
        control_buf_printf(b, "gen %u: %s, %zu process%s, up %s%s%s\n", g->id,
                           gen_state_name(g->state), g->live,
                           g->live == 1 ? "" : "es",
                           human_ms(ms_since(g->started_ns), t, sizeof(t)),
                           share[0] ? ", " : "", share);
        for (size_t i = 0; i < g->nslots; i++) {
            const struct slot *s = &g->slots[i];
            const struct worker *w = s->w;
            if (w == NULL) {
                if (s->restarting)
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

/* A JSON string, or null when empty: no guard, no status (never a ready
 * spec nor a failure's reason). */
static json_t *
text_or_null(const char *s)
{
    return s[0] != '\0' ? log_json_string(s, strlen(s)) : json_null();
}

static json_t *
int_or_null(int known, json_int_t v)
{
    return known ? json_integer(v) : json_null();
}

/* A key and its value on one line: each object at a glance. */
/* clang-format off */
static json_t *
processes_json(const struct gen *g)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < g->nslots; i++) {
        const struct slot *s = &g->slots[i];
        const struct worker *w = s->w;

        if (w == NULL && !s->restarting)
            continue; /* retired */
        if (json_array_append_new(a, json_pack("{s:o,s:I,s:s,s:b,s:o,s:I,s:o}",
                "pid", int_or_null(w != NULL, w ? w->child.pid : 0),
                "slot", (json_int_t)i,
                "state", w ? worker_state_name(w->state) : "restarting",
                "ready", w != NULL && w->ready_ns != 0,
                "uptime_ms", int_or_null(w != NULL, w ? ms_since(w->started_ns) : 0),
                "restarts", (json_int_t)s->restarts,
                "status", w ? text_or_null(w->status) : json_null())) < 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

void
status_json(const struct master *m, const struct status_last *last,
            struct control_buf *b)
{
    const struct config *c = m->plan->cfg;
    json_t *gens = json_array(), *top;
    char gtext[400], *dump;
    json_int_t rollbacks = 0;

    for (const struct gen *g = m->gens; gens != NULL && g; g = g->next) {
        const struct steer_route *r = steer_plan_find(&m->steering, g->id);
        if (json_array_append_new(gens, json_pack("{s:I,s:s,s:I,s:o,s:b,s:o,s:I,s:o}",
                "id", (json_int_t)g->id,
                "state", gen_state_name(g->state),
                "uptime_ms", (json_int_t)ms_since(g->started_ns),
                "share_bps", int_or_null(r != NULL, r ? r->share : 0),
                "kept", g->state == GEN_KEPT,
                "canary_step", int_or_null(g->state == GEN_CANARY, (json_int_t)g->step + 1),
                "canary_steps", (json_int_t)g->nsteps,
                "processes", processes_json(g))) < 0) {
            json_decref(gens);
            gens = NULL;
        }
    }
    for (size_t i = 0; i < DEPLOY_NCAUSES; i++)
        rollbacks += m->rollbacks[i];
    guard_describe(m->guard, gtext, sizeof(gtext));
    /* json_pack takes each o's reference, also when it fails (a NULL o
     * fails it): no memory anywhere is one failed answer. */
    top = json_pack("{s:i,s:s,s:I,s:b,s:s,s:o,s:I,s:I,s:I,s:I,s:o,s:{s:s,s:o,s:o,s:o},s:I,s:o,s:o}",
        "pid", (int)getpid(), "version", PACKAGE_VERSION,
        "uptime_ms", (json_int_t)ms_since(m->started_ns), "stopping", m->stopping != 0,
        "pass", config_pass_name(c->pass), "ready", text_or_null(ready_text(c)),
        "processes", (json_int_t)c->processes,
        "rolls_ok", (json_int_t)m->rolls_ok, "rolls_failed", (json_int_t)m->rolls_failed,
        "restarts", (json_int_t)m->restarts,
        "active", int_or_null(m->active != NULL, m->active ? m->active->id : 0),
        "last_roll",
            "outcome", last->outcome == 0 ? "none" : last->outcome > 0 ? "promoted" : "failed",
            "gen", int_or_null(last->outcome != 0, last->gen),
            "reason", last->outcome < 0 ? text_or_null(last->reason) : json_null(),
            "roll_ms", int_or_null(last->outcome != 0, (json_int_t)last->ms),
        "rollbacks", rollbacks, "guard", text_or_null(gtext),
        "generations", gens);
    dump = top != NULL ? json_dumps(top, JSON_COMPACT) : NULL;
    json_decref(top);
    if (dump != NULL)
        control_buf_printf(b, "%s\n", dump);
    b->failed |= dump == NULL;
    free(dump);
}
/* clang-format on */
