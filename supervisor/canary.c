/* canary.c: read canary steps, canary client networks and guard ratios. */
#include "canary.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../shim/addr.h"
#include "dnsq.h"
#include "parse.h"
#include "readiness.h"

/*
 * "5", "2.5", "0.01" percent in basis points; -1 if it is no such number
 * (the range is checked by the caller: a large one comes back as 100,000).
 */
static long
percent_bps(const char *s, const char *end)
{
    long whole = 0, frac = 0;
    int digits = 0, fdigits = 0;

    for (; s < end && isdigit((unsigned char)*s); s++, digits++)
        if ((whole = whole * 10 + (*s - '0')) > 1000)
            whole = 1000;
    if (s < end && *s == '.') {
        for (s++; s < end && isdigit((unsigned char)*s); s++, fdigits++) {
            if (fdigits == 2)
                return -1; /* finer than a basis point */
            frac = frac * 10 + (*s - '0');
        }
        if (fdigits == 0)
            return -1;
        if (fdigits == 1)
            frac *= 10;
    }
    if (digits == 0 || s != end)
        return -1;
    return whole * 100 + frac;
}

int
canary_parse_steps(const char *s, struct canary_step *out, size_t cap,
                   size_t *n, char *err, size_t errlen)
{
    char word[64], msg[256];
    unsigned last = 0;

    *n = 0;
    while (*s) {
        const char *w = s + strspn(s, " \t"), *pct, *slash;
        size_t len = strcspn(w, " \t");
        long bps;

        if (len == 0)
            break;
        s = w + len;
        if (len >= sizeof(word)) {
            snprintf(err, errlen, "canary step too long");
            return -EINVAL;
        }
        memcpy(word, w, len);
        word[len] = '\0';
        pct = strchr(word, '%');
        slash = strchr(word, '/');
        if (pct == NULL || slash != pct + 1) {
            snprintf(err, errlen, "\"%s\": expected WEIGHT%%/DURATION, e.g. "
                     "5%%/30s", word);
            return -EINVAL;
        }
        bps = percent_bps(word, pct);
        if (bps < 0) {
            snprintf(err, errlen,
                     "\"%s\": bad weight \"%.*s\" (expected a "
                     "percentage: digits with at most two decimals, e.g. "
                     "5%%/30s or 2.5%%/1m)",
                     word, (int)(pct - word), word);
            return -EINVAL;
        }
        if (bps == 0 || bps >= 10000) {
            snprintf(err, errlen, "\"%s\": the weight must be above 0%% and "
                     "below 100%% (after the last step the new generation "
                     "gets everything)", word);
            return -EINVAL;
        }
        if ((unsigned)bps <= last) {
            snprintf(err, errlen, "\"%s\": steps must increase (%u.%02u%% "
                     "came before)", word, last / 100, last % 100);
            return -EINVAL;
        }
        if (*n == cap) {
            snprintf(err, errlen, "more than %zu canary steps", cap);
            return -EINVAL;
        }
        if (parse_duration(slash + 1, &out[*n].ms, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "\"%s\": %s", word, msg);
            return -EINVAL;
        }
        if (out[*n].ms == 0) {
            snprintf(err, errlen, "\"%s\": a step lasts more than 0", word);
            return -EINVAL;
        }
        out[*n].bps = (unsigned)bps;
        last = (unsigned)bps;
        (*n)++;
    }
    if (*n == 0) {
        snprintf(err, errlen, "no canary step (expected WEIGHT%%/DURATION ...)");
        return -EINVAL;
    }
    return 0;
}

uint32_t
canary_cidr_mask(unsigned prefix, unsigned w)
{
    unsigned bits = prefix > 32 * w ? prefix - 32 * w : 0;

    if (bits >= 32)
        return 0xffffffffu;
    return bits == 0 ? 0 : ~0u << (32 - bits);
}

int
canary_parse_cidrs(const char *s, struct canary_cidr *out, size_t cap,
                   size_t *n, char *err, size_t errlen)
{
    char word[80];

    *n = 0;
    while (*s) {
        const char *w = s + strspn(s, " \t");
        size_t len = strcspn(w, " \t");
        struct canary_cidr c;
        unsigned char bin[16];
        char *slash, *end;
        unsigned max;

        if (len == 0)
            break;
        s = w + len;
        if (len >= sizeof(word))
            goto bad_len;
        memcpy(word, w, len);
        word[len] = '\0';
        memset(&c, 0, sizeof(c));
        slash = strchr(word, '/');
        if (slash != NULL)
            *slash = '\0';
        if (inet_pton(AF_INET, word, bin) == 1) {
            c.family = AF_INET;
            max = 32;
        } else if (inet_pton(AF_INET6, word, bin) == 1) {
            c.family = AF_INET6;
            max = 128;
        } else {
            if (slash != NULL)
                *slash = '/';
            snprintf(err, errlen, "\"%s\": not an IPv4 or IPv6 address or "
                     "network (expected ADDRESS[/PREFIX])", word);
            return -EINVAL;
        }
        c.prefix = max;
        if (slash != NULL) {
            unsigned long p;
            if (!isdigit((unsigned char)slash[1]) ||
                (p = strtoul(slash + 1, &end, 10), *end != '\0') || p > max) {
                *slash = '/';
                snprintf(err, errlen, "\"%s\": bad prefix length (0 to %u)",
                         word, max);
                return -EINVAL;
            }
            c.prefix = (unsigned)p;
        }
        for (unsigned i = 0; i < max / 32; i++)
            c.addr[i] = (uint32_t)bin[4 * i] << 24 | (uint32_t)bin[4 * i + 1] << 16 |
                        (uint32_t)bin[4 * i + 2] << 8 | bin[4 * i + 3];
        for (unsigned i = 0; i < 4; i++)
            c.addr[i] &= canary_cidr_mask(c.prefix, i);
        if (*n == cap) {
            snprintf(err, errlen, "more than %zu canary client networks", cap);
            return -EINVAL;
        }
        out[(*n)++] = c;
    }
    if (*n == 0) {
        snprintf(err, errlen, "no network (expected ADDRESS[/PREFIX] ...)");
        return -EINVAL;
    }
    return 0;
bad_len:
    snprintf(err, errlen, "network too long");
    return -EINVAL;
}

int
canary_parse_ratio(const char *s, double *r, char *err, size_t errlen)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0 ||
        !(v > 1.0) || v > 1000.0) {
        snprintf(err, errlen, "bad ratio \"%s\" (expected a number above 1, "
                 "e.g. 1.5)", s);
        return -EINVAL;
    }
    *r = v;
    return 0;
}

int
canary_cidr_match(const struct canary_cidr *c, int family, const uint32_t a[4])
{
    if (c->family != family)
        return 0;
    for (unsigned i = 0; i < (family == AF_INET ? 1u : 4u); i++)
        if ((a[i] & canary_cidr_mask(c->prefix, i)) != c->addr[i])
            return 0;
    return 1;
}

/* --- the keys -------------------------------------------------------------- */

void
canary_conf_init(struct canary_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->guard_interval = 1000;
    c->guard_failures = 3;
}

void
canary_conf_free(struct canary_conf *c)
{
    free(c->steps_spec);
    free(c->clients_spec);
    free(c->guard);
    free(c->latency_spec);
}

static int
keep(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 1 : -ENOMEM;
}

int
canary_parse_probe(const char *typed, const char *what, char **out, char *msg,
                   size_t len)
{
    char *v = parse_probe_spec(typed), **argv;
    char name[DNSQ_NAME_MAX + 2], sample[600], why[200];
    struct addr a;
    int rc = -EINVAL;

    if (v == NULL)
        return -ENOMEM;
    if (strncmp(v, "http:", 5) == 0) {
        if (parse_http_url(v + 5, msg, len) == 0)
            rc = 0;
    } else if (strncmp(v, "tcp:", 4) == 0) {
        if (addr_parse(v + 4, &a, NULL, 0) == 0 && addr_family(&a) != AF_UNIX &&
            !a.dgram && addr_port(&a) != 0)
            rc = 0;
        else
            snprintf(msg, len, "\"%s\": expected tcp:HOST:PORT", typed);
    } else if (strncmp(v, "dns:", 4) == 0) {
        /* Checked as a probe of gen 1 would send it: 127.0.0.%g is
         * 127.0.0.1. */
        snprintf(why, sizeof(why), "too long");
        rc = readiness_expand(v + 4, 1, 1, sample, sizeof(sample));
        if (rc == 0)
            rc = dnsq_parse(sample, &a, name, sizeof(name), why, sizeof(why));
        if (rc < 0)
            snprintf(msg, len, "\"%s\": %s", typed, why);
    } else if (strncmp(v, "exec:", 5) == 0) {
        if (parse_words(v + 5, &argv, msg, len) == 0) {
            parse_words_free(argv);
            rc = argv != NULL && v[5] != '\0' ? 0 : -EINVAL;
            if (rc < 0)
                snprintf(msg, len, "\"%s\": exec: needs a command", typed);
        }
    } else {
        snprintf(msg, len, "unknown %s \"%s\" (expected http:URL, "
                 "tcp:HOST:PORT, dns:HOST:PORT[/NAME] or exec:COMMAND)",
                 what, typed);
    }
    if (rc == 0) {
        free(*out);
        *out = v;
        return 1;
    }
    free(v);
    return rc;
}

int
canary_conf_set(struct canary_conf *c, const char *key, const char *v,
                char *msg, size_t len)
{
    int rc;

    if (strcmp(key, "canary") == 0) {
        rc = canary_parse_steps(v, c->steps, CANARY_MAX_STEPS, &c->nsteps, msg, len);
        return rc < 0 ? rc : keep(&c->steps_spec, v);
    }
    if (strcmp(key, "canary_clients") == 0) {
        rc = canary_parse_cidrs(v, c->clients, CANARY_MAX_CIDRS, &c->nclients,
                                msg, len);
        return rc < 0 ? rc : keep(&c->clients_spec, v);
    }
    if (strcmp(key, "guard") == 0)
        return canary_parse_probe(v, "guard", &c->guard, msg, len);
    if (strcmp(key, "guard_latency") == 0) {
        rc = canary_parse_ratio(v, &c->guard_latency, msg, len);
        return rc < 0 ? rc : keep(&c->latency_spec, v);
    }
    return 0;
}

void
canary_conf_print(const struct canary_conf *c, FILE *f)
{
    if (c->steps_spec)
        fprintf(f, "canary = %s\n", c->steps_spec);
    if (c->clients_spec)
        fprintf(f, "canary_clients = %s\n", c->clients_spec);
    if (c->guard)
        fprintf(f, "guard = %s\n", c->guard);
    parse_print_duration(f, "guard_interval", c->guard_interval);
    fprintf(f, "guard_failures = %ld\n", c->guard_failures);
    if (c->latency_spec)
        fprintf(f, "guard_latency = %s\n", c->latency_spec);
    parse_print_duration(f, "keep_previous", c->keep_previous);
}

const char *
canary_conf_check(const struct canary_conf *c, int shared, int steered,
                  char *msg, size_t len)
{
    if ((c->nsteps > 0 || c->nclients > 0) && (shared || !steered)) {
        snprintf(msg, len, "a canary needs steered traffic: %s",
                 shared ? "a TCP or UDP listener has traffic = shared"
                        : "no TCP or UDP listener (unix listeners are "
                          "shared)");
        return c->nsteps > 0 ? "canary" : "canary_clients";
    }
    if (c->keep_previous > 0 && !steered) {
        snprintf(msg, len, "keep_previous needs steered traffic (no steered "
                 "TCP or UDP listener)");
        return "keep_previous";
    }
    if (c->guard_latency > 0 &&
        (c->guard == NULL || strncmp(c->guard, "exec:", 5) == 0)) {
        snprintf(msg, len,
                 "guard_latency needs an http:, tcp: or dns: guard to time");
        return "guard_latency";
    }
    if (c->guard_interval < 10) {
        snprintf(msg, len, "must be at least 10ms");
        return "guard_interval";
    }
    return NULL;
}

int
canary_conf_active(const struct canary_conf *c)
{
    return c->nsteps > 0 || c->keep_previous > 0;
}
