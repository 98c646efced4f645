/* rollout.c: how status names a generation's share of traffic and the causes of rollbacks. */
#include "rollout.h"

#include <stdio.h>

#include "master.h"
#include "steer.h"

const char *
rollout_cause_name(enum rollout_cause cause)
{
    static const char *const names[ROLLOUT_NCAUSES] = {
        [ROLLOUT_CRASH] = "crash", [ROLLOUT_PROBE] = "probe",
        [ROLLOUT_LATENCY] = "latency", [ROLLOUT_OPERATOR] = "operator",
    };

    return (unsigned)cause < ROLLOUT_NCAUSES ? names[cause] : "unknown";
}

void
rollout_describe(const struct master *m, const struct gen *g, char *buf,
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
