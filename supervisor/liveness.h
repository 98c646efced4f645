/* liveness.h: when a serving generation has failed (its probes, the watchdog, its memory) and what is done about it: the keys, the verdicts and the backoff, with no clock and no system call. */
#ifndef HANDOFF_LIVENESS_H
#define HANDOFF_LIVENESS_H

#include <stdint.h>
#include <stdio.h>

enum liveness_action { LIVENESS_ROLL, LIVENESS_RESTART };

/* The reason label of handoff_liveness_failures_total and
 * handoff_replacements_total: a small fixed set, one series each. */
enum liveness_reason {
    LIVENESS_PROBE,    /* liveness = failed liveness_failures times in a row */
    LIVENESS_WATCHDOG, /* silent past watchdog, or WATCHDOG=trigger */
    LIVENESS_MAX_RSS,  /* a process above max_rss */
    LIVENESS_NREASONS
};

#define LIVENESS_BACKOFF_FIRST_MS 1000
#define LIVENESS_BACKOFF_MAX_MS 300000

extern const char *const liveness_action_names[];

struct liveness_conf {
    char *probe;       /* http:URL, tcp:, dns:, exec: with its kind; NULL */
    uint64_t interval; /* liveness_interval, ms */
    long failures;     /* liveness_failures */
    uint64_t timeout;  /* liveness_timeout, ms */
    uint64_t watchdog; /* ms, 0: off */
    uint64_t max_rss;  /* bytes, 0: off */
    char *max_rss_spec;
    int action; /* enum liveness_action */
};

void liveness_conf_init(struct liveness_conf *c);
void liveness_conf_free(struct liveness_conf *c);
/* liveness = and max_rss =: 1 set, 0 not such a key, -EINVAL with msg,
 * -ENOMEM. The other keys are plain durations, numbers and names. */
int liveness_conf_set(struct liveness_conf *c, const char *key, const char *v,
                      char *msg, size_t len);
void liveness_conf_print(const struct liveness_conf *c, FILE *f);
/* The checks of the whole: NULL, or the key to blame with msg. never: the
 * worker's restart = never (a restart would not start it again). */
const char *liveness_conf_check(const struct liveness_conf *c, int never,
                                char *msg, size_t len);
/* Whether anything judges a serving generation. */
int liveness_conf_active(const struct liveness_conf *c);
/* "100M", "512K", "2G", "4096": bytes (K, M, G are 1024-based). 0, or
 * -EINVAL with msg. */
int liveness_parse_size(const char *s, uint64_t *bytes, char *msg, size_t len);

const char *liveness_reason_name(enum liveness_reason r);

/*
 * The verdicts on the active generation and the replacements they start.
 * One replacement at a time; one that did not get promoted makes the next
 * wait a backoff (LIVENESS_BACKOFF_FIRST_MS, doubled each time, at most
 * LIVENESS_BACKOFF_MAX_MS), which a promoted replacement resets.
 */
struct liveness {
    unsigned gen;       /* judged: the active generation, 0: none */
    unsigned fails;     /* its probe failures in a row */
    unsigned replacing; /* a replacement's new generation, 0: none */
    unsigned replaced;  /* the generation that one replaces */
    enum liveness_reason why;
    uint64_t backoff_ms; /* what the next failed replacement waits */
    uint64_t retry_at;   /* no replacement before then, 0: now */
    unsigned long failures[LIVENESS_NREASONS];     /* verdicts */
    unsigned long replacements[LIVENESS_NREASONS]; /* started */
};

/* What to do about a failed generation. */
enum liveness_do {
    LIVENESS_REPLACE, /* start the replacement now (liveness_replacing) */
    LIVENESS_BUSY,    /* a roll or a canary is under way: it replaces gen */
    LIVENESS_BACKOFF, /* the last replacement failed: wait until retry_at */
    LIVENESS_STALE,   /* gen is no longer the one judged, or is replaced */
};

void liveness_init(struct liveness *l);
/* gen is the active generation from now: judged afresh. */
void liveness_judge(struct liveness *l, unsigned gen);
/* One probe's verdict on gen: 1 when it fails gen (then liveness_failed):
 * the failures_max-th failure in a row, and each failures_max-th after
 * while it goes on failing; 0 otherwise. A pass resets the count and, no
 * replacement under way, the backoff. */
int liveness_probe(struct liveness *l, unsigned gen, int ok, long failures_max);
/* gen failed for why at now; busy: a roll or a canary is under way. The
 * verdict is counted whatever is done about it. */
enum liveness_do liveness_failed(struct liveness *l, unsigned gen,
                                 enum liveness_reason why, int busy,
                                 uint64_t now);
/* The replacement liveness_failed asked for started at now: a roll's new
 * generation, or 0 for a restart (done once the process is killed: the
 * next one waits the backoff, which a passing probe resets). */
void liveness_replacing(struct liveness *l, unsigned new_gen, uint64_t now);
/* A roll of gen ended, promoted (ok) or not: the replacement's end when it
 * is one. Returns the backoff the next one waits when it failed, else 0. */
uint64_t liveness_roll_ended(struct liveness *l, unsigned gen, int ok,
                             uint64_t now);

#endif
