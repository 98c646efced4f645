/* liveness.c: the liveness keys, the verdicts on the active generation and the backoff of its replacements. */
#include "liveness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "canary.h"
#include "parse.h"

const char *const liveness_action_names[] = {"roll", "restart", NULL};

static const char *const reason_names[LIVENESS_NREASONS] = {
    "liveness", "watchdog", "max_rss"};

const char *
liveness_reason_name(enum liveness_reason r)
{
    return r < LIVENESS_NREASONS ? reason_names[r] : "?";
}

/* --- the keys --------------------------------------------------------------
 */

void
liveness_conf_init(struct liveness_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->interval = 10000;
    c->failures = 3;
    c->timeout = 2000;
}

void
liveness_conf_free(struct liveness_conf *c)
{
    free(c->probe);
    free(c->max_rss_spec);
}

int
liveness_parse_size(const char *s, uint64_t *bytes, char *msg, size_t len)
{
    unsigned long long v;
    unsigned shift = 0;
    char *end;

    errno = 0;
    if (*s < '0' || *s > '9')
        goto bad;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        goto bad;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift != 0)
        end++;
    if (*end != '\0' || v > (UINT64_MAX >> shift))
        goto bad;
    *bytes = (uint64_t)v << shift;
    return 0;
bad:
    snprintf(msg, len, "\"%s\": expected a size in bytes, or with K, M or G",
             s);
    return -EINVAL;
}

int
liveness_conf_set(struct liveness_conf *c, const char *key, const char *v,
                  char *msg, size_t len)
{
    char *spec;

    if (strcmp(key, "liveness") == 0)
        return canary_parse_probe(v, "liveness", &c->probe, msg, len);
    if (strcmp(key, "max_rss") == 0) {
        if (liveness_parse_size(v, &c->max_rss, msg, len) < 0)
            return -EINVAL;
        if ((spec = strdup(v)) == NULL)
            return -ENOMEM;
        free(c->max_rss_spec);
        c->max_rss_spec = spec;
        return 1;
    }
    return 0;
}

void
liveness_conf_print(const struct liveness_conf *c, FILE *f)
{
    if (c->probe)
        fprintf(f, "liveness = %s\n", c->probe);
    parse_print_duration(f, "liveness_interval", c->interval);
    fprintf(f, "liveness_failures = %ld\n", c->failures);
    parse_print_duration(f, "liveness_timeout", c->timeout);
    parse_print_duration(f, "watchdog", c->watchdog);
    if (c->max_rss_spec)
        fprintf(f, "max_rss = %s\n", c->max_rss_spec);
    fprintf(f, "liveness_action = %s\n", liveness_action_names[c->action]);
}

const char *
liveness_conf_check(const struct liveness_conf *c, int never, char *msg,
                    size_t len)
{
    if (c->interval < 10) {
        snprintf(msg, len, "must be at least 10ms");
        return "liveness_interval";
    }
    if (c->timeout == 0) {
        snprintf(msg, len, "must be more than 0");
        return "liveness_timeout";
    }
    if (c->watchdog != 0 && c->watchdog < 10) {
        snprintf(msg, len, "must be at least 10ms (or 0: off)");
        return "watchdog";
    }
    if (c->action == LIVENESS_RESTART && never && liveness_conf_active(c)) {
        snprintf(msg, len,
                 "restart kills the failed process for restart = "
                 "to start it again, and restart = never would not");
        return "liveness_action";
    }
    return NULL;
}

int
liveness_conf_active(const struct liveness_conf *c)
{
    return c->probe != NULL || c->watchdog != 0 || c->max_rss != 0;
}

/* --- the verdicts ------------------------------------------------------------
 */

void
liveness_init(struct liveness *l)
{
    memset(l, 0, sizeof(*l));
    l->backoff_ms = LIVENESS_BACKOFF_FIRST_MS;
}

void
liveness_judge(struct liveness *l, unsigned gen)
{
    if (l->gen == gen)
        return;
    l->gen = gen;
    l->fails = 0;
}

int
liveness_probe(struct liveness *l, unsigned gen, int ok, long failures_max)
{
    if (gen == 0 || gen != l->gen)
        return 0;
    if (ok) {
        l->fails = 0;
        if (l->replacing == 0) {
            l->backoff_ms = LIVENESS_BACKOFF_FIRST_MS;
            l->retry_at = 0;
        }
        return 0;
    }
    if (failures_max < 1)
        failures_max = 1;
    return ++l->fails % (unsigned long)failures_max == 0;
}

enum liveness_do
liveness_failed(struct liveness *l, unsigned gen, enum liveness_reason why,
                int busy, uint64_t now)
{
    if (gen == 0 || gen != l->gen || why >= LIVENESS_NREASONS)
        return LIVENESS_STALE;
    l->failures[why]++;
    if (l->replacing != 0 || busy)
        return LIVENESS_BUSY;
    if (l->retry_at != 0 && now < l->retry_at)
        return LIVENESS_BACKOFF;
    l->why = why;
    return LIVENESS_REPLACE;
}

static void
back_off(struct liveness *l, uint64_t now)
{
    l->retry_at = now + l->backoff_ms;
    l->backoff_ms *= 2;
    if (l->backoff_ms > LIVENESS_BACKOFF_MAX_MS)
        l->backoff_ms = LIVENESS_BACKOFF_MAX_MS;
}

void
liveness_replacing(struct liveness *l, unsigned new_gen, uint64_t now)
{
    l->replacements[l->why]++;
    l->fails = 0;
    l->replaced = l->gen;
    l->replacing = new_gen;
    if (new_gen == 0)
        back_off(l, now); /* a restart: judged again as it runs */
}

uint64_t
liveness_roll_ended(struct liveness *l, unsigned gen, int ok, uint64_t now)
{
    uint64_t wait;

    if (gen == 0 || gen != l->replacing)
        return 0;
    l->replacing = 0;
    if (ok) {
        l->backoff_ms = LIVENESS_BACKOFF_FIRST_MS;
        l->retry_at = 0;
        return 0;
    }
    wait = l->backoff_ms;
    back_off(l, now);
    return wait;
}
