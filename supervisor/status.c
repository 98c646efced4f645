/* status.c: what handoff status prints: text for people, one JSON object for programs. */
#include "status.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "view.h"
#include "version.h"

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

/* "share=5.00% step=1/2" or "share=0% kept" or "" for g. */
static void
share_text(const struct view_gen *g, char *buf, size_t size)
{
    unsigned share = g->share_bps;

    if (g->state == GEN_CANARY)
        snprintf(buf, size, "share=%u.%02u%% step=%zu/%zu", share / 100,
                 share % 100, g->step + 1, g->nsteps);
    else if (g->state == GEN_KEPT)
        snprintf(buf, size, "share=0%% kept");
    else if (g->routed)
        snprintf(buf, size, "share=%u.%02u%%", share / 100, share % 100);
    else
        buf[0] = '\0';
}

void
status_text(const struct view *v, struct control_buf *b)
{
    char t[32];

    control_buf_printf(b, "handoff %s, pid %d, up %s%s\n", handoff_version,
                       (int)v->pid, human_ms(v->uptime_ms, t, sizeof(t)),
                       v->stopping ? ", stopping" : "");
    control_buf_printf(b, "pass %s, ready %s\n", v->pass, v->ready);
    control_buf_printf(b, "rolls: %u promoted, %u failed; restarts: %u\n",
                       v->rolls_ok, v->rolls_failed, v->restarts);
    if (v->last_outcome == 0) {
        control_buf_printf(b, "last roll: none\n");
    } else {
        control_buf_printf(b, "last roll: %s gen=%u roll_ms=%llu",
                           v->last_outcome > 0 ? "promoted" : "failed",
                           v->last_gen, v->last_ms);
        if (v->last_outcome < 0) {
            control_buf_printf(b, " reason=");
            control_buf_quote(b, v->last_reason);
        }
        control_buf_printf(b, "\n");
    }
    if (v->guard[0] != '\0')
        control_buf_printf(b, "%s\n", v->guard);
    if (v->liveness[0] != '\0')
        control_buf_printf(b, "liveness: %s\n", v->liveness);
    for (size_t k = 0; k < v->ngens; k++) {
        const struct view_gen *g = &v->gens[k];
        char share[64];

        share_text(g, share, sizeof(share));
        control_buf_printf(b, "gen %u: %s, %zu process%s, up %s%s%s\n", g->id,
                           gen_state_name(g->state), g->live,
                           g->live == 1 ? "" : "es",
                           human_ms(g->uptime_ms, t, sizeof(t)),
                           share[0] ? ", " : "", share);
        for (size_t i = 0; i < g->nprocs; i++) {
            const struct view_proc *p = &g->procs[i];

            if (p->pid == 0) {
                control_buf_printf(b, "  slot %zu: %s, restarts %u\n",
                                   p->slot, view_proc_state(p), p->restarts);
                continue;
            }
            control_buf_printf(b, "  pid %d: %s, up %s, restarts %u",
                               (int)p->pid, view_proc_state(p),
                               human_ms(p->uptime_ms, t, sizeof(t)),
                               p->restarts);
            if (p->status[0] != '\0') {
                control_buf_printf(b, ", status ");
                control_buf_quote(b, p->status);
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
processes_json(const struct view_gen *g)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < g->nprocs; i++) {
        const struct view_proc *p = &g->procs[i];

        if (json_array_append_new(a, json_pack("{s:o,s:I,s:s,s:b,s:o,s:I,s:o}",
                "pid", int_or_null(p->pid != 0, p->pid),
                "slot", (json_int_t)p->slot,
                "state", view_proc_state(p),
                "ready", p->ready,
                "uptime_ms", int_or_null(p->pid != 0, (json_int_t)p->uptime_ms),
                "restarts", (json_int_t)p->restarts,
                "status", p->pid != 0 ? text_or_null(p->status) : json_null())) < 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

void
status_json(const struct view *v, struct control_buf *b)
{
    json_t *gens = json_array(), *top;
    char *dump;
    json_int_t rollbacks = 0, replacements = 0;

    for (size_t k = 0; gens != NULL && k < v->ngens; k++) {
        const struct view_gen *g = &v->gens[k];
        if (json_array_append_new(gens, json_pack("{s:I,s:s,s:I,s:o,s:b,s:o,s:I,s:o}",
                "id", (json_int_t)g->id,
                "state", gen_state_name(g->state),
                "uptime_ms", (json_int_t)g->uptime_ms,
                "share_bps", int_or_null(g->routed, g->share_bps),
                "kept", g->state == GEN_KEPT,
                "canary_step", int_or_null(g->state == GEN_CANARY, (json_int_t)g->step + 1),
                "canary_steps", (json_int_t)g->nsteps,
                "processes", processes_json(g))) < 0) {
            json_decref(gens);
            gens = NULL;
        }
    }
    for (size_t i = 0; i < DEPLOY_NCAUSES; i++)
        rollbacks += v->rollbacks[i];
    for (size_t i = 0; i < LIVENESS_NREASONS; i++)
        replacements += (json_int_t)v->replacements[i];
    /* json_pack takes each o's reference, also when it fails (a NULL o
     * fails it): no memory anywhere is one failed answer. */
    top = json_pack("{s:i,s:s,s:I,s:b,s:s,s:o,s:I,s:I,s:I,s:I,s:o,s:{s:s,s:o,s:o,s:o},s:I,s:o,s:o,s:I,s:o}",
        "pid", (int)v->pid, "version", handoff_version,
        "uptime_ms", (json_int_t)v->uptime_ms, "stopping", v->stopping != 0,
        "pass", v->pass, "ready", text_or_null(v->ready ? v->ready : ""),
        "processes", (json_int_t)v->processes,
        "rolls_ok", (json_int_t)v->rolls_ok, "rolls_failed", (json_int_t)v->rolls_failed,
        "restarts", (json_int_t)v->restarts,
        "active", int_or_null(v->active != 0, v->active),
        "last_roll",
            "outcome", v->last_outcome == 0 ? "none" : v->last_outcome > 0 ? "promoted" : "failed",
            "gen", int_or_null(v->last_outcome != 0, v->last_gen),
            "reason", v->last_outcome < 0 ? text_or_null(v->last_reason) : json_null(),
            "roll_ms", int_or_null(v->last_outcome != 0, (json_int_t)v->last_ms),
        "rollbacks", rollbacks, "guard", text_or_null(v->guard),
        "liveness", text_or_null(v->liveness),
        "replacements", replacements,
        "generations", gens);
    dump = top != NULL ? json_dumps(top, JSON_COMPACT) : NULL;
    json_decref(top);
    if (dump != NULL)
        control_buf_printf(b, "%s\n", dump);
    b->failed |= dump == NULL;
    free(dump);
}
/* clang-format on */
