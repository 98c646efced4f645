/* parse.c: strict parsers for durations, signals, numbers, modes, words. */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
fail(char *err, size_t errlen, const char *fmt, const char *s)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, fmt, s);
    return -EINVAL;
}

int
parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000}};
    const char *p = s;
    uint64_t v = 0;

    if (!isdigit((unsigned char)*p))
        return fail(err, errlen,
                    "bad duration \"%s\" (expected e.g. 500ms, 30s, 2m)", s);
    for (; isdigit((unsigned char)*p); p++) {
        if (v > UINT64_MAX / 10 / 3600000)
            return fail(err, errlen, "duration \"%s\" is too long", s);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return fail(err, errlen, "duration \"%s\" is too long", s);
            *ms = v * units[i].mult;
            return 0;
        }
    }
    return fail(err, errlen,
                "bad duration \"%s\" (expected e.g. 500ms, 30s, 2m)", s);
}

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},
    {"ILL", SIGILL},       {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"BUS", SIGBUS},       {"FPE", SIGFPE},       {"KILL", SIGKILL},
    {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},       {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},         {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int
parse_signal(const char *s, int *sig, char *err, size_t errlen)
{
    const char *name = s;
    long n;

    if (isdigit((unsigned char)*s)) {
        if (parse_int(s, 1, 31, &n, NULL, 0) < 0)
            return fail(err, errlen, "bad signal \"%s\" (1-31)", s);
        *sig = (int)n;
        return 0;
    }
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        if (strcasecmp(name, signals[i].name) == 0) {
            *sig = signals[i].sig;
            return 0;
        }
    }
    return fail(err, errlen,
                "unknown signal \"%s\" (expected e.g. SIGTERM, QUIT, 3)", s);
}

const char *
parse_signal_name(int sig)
{
    static char buf[16];

    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        if (signals[i].sig == sig) {
            snprintf(buf, sizeof(buf), "SIG%s", signals[i].name);
            return buf;
        }
    snprintf(buf, sizeof(buf), "%d", sig);
    return buf;
}

int
parse_int(const char *s, long min, long max, long *v, char *err, size_t errlen)
{
    char *end;
    long x;

    if (!isdigit((unsigned char)*s) && !(*s == '-' && isdigit((unsigned char)s[1])))
        goto bad;
    errno = 0;
    x = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        goto bad;
    *v = x;
    return 0;
bad:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "bad number \"%s\" (expected %ld to %ld)", s,
                 min, max);
    return -EINVAL;
}

void
parse_print_duration(FILE *f, const char *key, uint64_t ms)
{
    if (ms % 1000 == 0)
        fprintf(f, "%s = %llus\n", key, (unsigned long long)(ms / 1000));
    else
        fprintf(f, "%s = %llums\n", key, (unsigned long long)ms);
}

int
parse_port_range(const char *s, unsigned min, unsigned *lo, unsigned *hi,
                 char *err, size_t errlen)
{
    char *end;
    unsigned long a, b;

    if (!isdigit((unsigned char)*s))
        goto bad;
    a = strtoul(s, &end, 10);
    if (*end != '-' || !isdigit((unsigned char)end[1]))
        goto bad;
    b = strtoul(end + 1, &end, 10);
    if (*end != '\0' || a < 1 || b > 65535 || b < a || b - a + 1 < min)
        goto bad;
    *lo = (unsigned)a;
    *hi = (unsigned)b;
    return 0;
bad:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "bad port range \"%s\" (expected LO-HI within "
                 "1-65535, at least %u ports)", s, min);
    return -EINVAL;
}

int
parse_bool(const char *s, int *v, char *err, size_t errlen)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *v = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *v = 0;
            return 0;
        }
    }
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "\"%s\": expected yes or no", s);
    return -EINVAL;
}

int
parse_mode(const char *s, unsigned *mode, char *err, size_t errlen)
{
    char *end;
    unsigned long x;

    if (*s < '0' || *s > '7')
        return fail(err, errlen, "bad mode \"%s\" (expected octal, e.g. 0660)", s);
    errno = 0;
    x = strtoul(s, &end, 8);
    if (errno != 0 || *end != '\0' || x > 07777)
        return fail(err, errlen, "bad mode \"%s\" (expected octal, e.g. 0660)", s);
    *mode = (unsigned)x;
    return 0;
}

void
parse_words_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

int
parse_words(const char *s, char ***out, char *err, size_t errlen)
{
    size_t cap = 8, n = 0, len = strlen(s);
    char **argv = calloc(cap, sizeof(*argv));
    char *word = malloc(len + 1);
    const char *p = s;
    int rc = -EINVAL;

    if (argv == NULL || word == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    for (;;) {
        size_t w = 0;
        int have = 0;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            have = 1;
            if (*p == '\'') {
                const char *q = strchr(p + 1, '\'');
                if (q == NULL) {
                    fail(err, errlen, "unterminated ' in \"%s\"", s);
                    goto fail;
                }
                memcpy(word + w, p + 1, (size_t)(q - p - 1));
                w += (size_t)(q - p - 1);
                p = q + 1;
            } else if (*p == '"') {
                for (p++; *p != '"'; p++) {
                    if (*p == '\0') {
                        fail(err, errlen, "unterminated \" in \"%s\"", s);
                        goto fail;
                    }
                    if (*p == '\\' && strchr("\"\\$`", p[1]) != NULL && p[1])
                        p++;
                    word[w++] = *p;
                }
                p++;
            } else if (*p == '\\') {
                if (p[1] == '\0') {
                    fail(err, errlen, "trailing backslash in \"%s\"", s);
                    goto fail;
                }
                word[w++] = p[1];
                p += 2;
            } else {
                word[w++] = *p++;
            }
        }
        if (!have)
            continue;
        if (n + 2 > cap) {
            char **nv = realloc(argv, cap * 2 * sizeof(*argv));
            if (nv == NULL) {
                rc = -ENOMEM;
                goto fail;
            }
            argv = nv;
            cap *= 2;
        }
        argv[n] = malloc(w + 1);
        if (argv[n] == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        memcpy(argv[n], word, w);
        argv[n][w] = '\0';
        argv[++n] = NULL;
    }
    if (n == 0) {
        fail(err, errlen, "empty command%s", "");
        goto fail;
    }
    free(word);
    *out = argv;
    return 0;
fail:
    free(word);
    parse_words_free(argv);
    return rc;
}

int
parse_env(const char *s, char *err, size_t errlen)
{
    const char *eq = strchr(s, '=');

    if (eq == NULL || eq == s ||
        !(isalpha((unsigned char)*s) || *s == '_'))
        return fail(err, errlen, "bad environment entry \"%s\" (expected KEY=value)", s);
    for (const char *p = s; p < eq; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return fail(err, errlen, "bad variable name in \"%s\"", s);
    return 0;
}

char *
parse_probe_spec(const char *s)
{
    char *out;

    /* "http:" then "//": no other kind's argument starts so, and http:'s
     * own argument must start with "http://", so nothing else is taken. */
    if (strncmp(s, "http://", 7) != 0)
        return strdup(s);
    if (asprintf(&out, "http:%s", s) < 0)
        return NULL;
    return out;
}

int
parse_http_url(const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0 || url[7] == '\0' || url[7] == '/')
        return fail(err, errlen, "\"%s\": expected http://HOST:PORT/PATH "
                    "(or http:http://HOST:PORT/PATH)", url);
    return 0;
}
