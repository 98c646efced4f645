/* canary.h: a canary's steps, the clients always in it, and how to read them. */
#ifndef HANDOFF_CANARY_H
#define HANDOFF_CANARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CANARY_MAX_STEPS 16
#define CANARY_MAX_CIDRS 16

/* One step: the new generation gets bps basis points of client addresses
 * for ms, then the next step, then everything. */
struct canary_step {
    unsigned bps;
    uint64_t ms;
};

/* A network whose clients always reach the newest ready generation. */
struct canary_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint32_t addr[4]; /* in host order, word by word; IPv4 in addr[0] */
    unsigned prefix;
};

/* What [worker] says of progressive delivery. */
struct canary_conf {
    struct canary_step steps[CANARY_MAX_STEPS]; /* canary = */
    size_t nsteps;
    char *steps_spec;
    struct canary_cidr clients[CANARY_MAX_CIDRS]; /* canary_clients = */
    size_t nclients;
    char *clients_spec;
    char *guard; /* http:URL, tcp:HOST:PORT or exec:COMMAND; NULL: none */
    uint64_t guard_interval;
    long guard_failures;
    double guard_latency; /* 0: off */
    char *latency_spec;
    uint64_t keep_previous;
};

void canary_conf_init(struct canary_conf *c);
void canary_conf_free(struct canary_conf *c);

/* Set one of the keys above that is not a plain duration or number: 1
 * set, 0 not such a key, -EINVAL with msg saying what was expected. */
int canary_conf_set(struct canary_conf *c, const char *key, const char *v,
                    char *msg, size_t len);
void canary_conf_print(const struct canary_conf *c, FILE *f);

/* A probe as guard = and liveness = take it (what names the key in msg):
 * http:URL, tcp:HOST:PORT, dns:HOST:PORT[/NAME], exec:COMMAND; a bare
 * http:// URL is http:URL. 1 with *out replaced by the spec with its kind,
 * -EINVAL with msg, -ENOMEM. */
int canary_parse_probe(const char *typed, const char *what, char **out,
                       char *msg, size_t len);

/* The checks of the whole: NULL, or the key to blame with msg.
 * shared: a TCP listener has traffic = shared; steered: one is steered. */
const char *canary_conf_check(const struct canary_conf *c, int shared,
                              int steered, char *msg, size_t len);

/* Whether a roll with c steps through a canary or keeps the previous. */
int canary_conf_active(const struct canary_conf *c);

/*
 * Each returns 0, or -EINVAL with err saying what was expected.
 *
 * "5%/30s 25%/2m": weights from 0.01% to below 100%, increasing, each
 * with a duration above 0. *n steps in out (at most cap).
 */
int canary_parse_steps(const char *s, struct canary_step *out, size_t cap,
                       size_t *n, char *err, size_t errlen);

/* "10.0.0.0/8 192.168.1.7 2001:db8::/32": a bare address is /32 or /128. */
int canary_parse_cidrs(const char *s, struct canary_cidr *out, size_t cap,
                       size_t *n, char *err, size_t errlen);

/* A ratio above 1, e.g. "1.5". */
int canary_parse_ratio(const char *s, double *r, char *err, size_t errlen);

/* Whether address a (family, words as in canary_cidr) is in c. */
int canary_cidr_match(const struct canary_cidr *c, int family,
                      const uint32_t a[4]);

/* The mask of word w (0-3) of a prefix of that many bits. */
uint32_t canary_cidr_mask(unsigned prefix, unsigned w);

#endif
