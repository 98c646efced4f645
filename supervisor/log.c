/* log.c: the event log, one logfmt (or JSON) line per event on stderr. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_max = LOG_INFO;
static enum log_format log_fmt = LOG_LOGFMT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_setup(enum log_level level, enum log_format format)
{
    log_max = level;
    log_fmt = format;
}

int
log_enabled(enum log_level level)
{
    return level <= log_max;
}

const char *
log_level_name(enum log_level level)
{
    return level_names[level];
}

const char *
log_q(const char *s)
{
    static char bufs[8][512];
    static unsigned slot;
    char *out = bufs[slot++ % 8];
    size_t o = 0;
    int plain = *s != '\0';

    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            plain = 0;
    if (plain) {
        snprintf(out, 512, "%s", s);
        return out;
    }
    out[o++] = '"';
    for (const char *p = s; *p && o < 512 - 6; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < ' ' || c == 0x7f) {
            out[o++] = '?';
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static int
append(char *out, size_t size, size_t *o, const char *s, size_t n)
{
    if (*o + n + 1 > size)
        return -ENOSPC;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return 0;
}

/* A value JSON can carry unquoted: an integer or a decimal. */
static int
is_number(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    int dot = 0;

    if (n > 0 && s[0] == '-')
        i++;
    if (i < n && s[i] == '0' && i + 1 < n && s[i + 1] != '.')
        return 0;
    for (; i < n; i++) {
        if (isdigit((unsigned char)s[i]))
            digits++;
        else if (s[i] == '.' && !dot && digits > 0)
            dot = 1;
        else
            return 0;
    }
    return digits > 0 && s[n - 1] != '.';
}

int
log_logfmt_to_json(const char *in, char *out, size_t size)
{
    size_t o = 0;
    int first = 1;
    const char *p = in;

    if (append(out, size, &o, "{", 1) < 0)
        return -ENOSPC;
    while (*p) {
        const char *k, *v;
        size_t kl, vl;
        int quoted = 0;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        k = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        kl = (size_t)(p - k);
        if (*p == '=')
            p++;
        if (*p == '"') {
            quoted = 1;
            v = ++p;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            vl = (size_t)(p - v);
            if (*p == '"')
                p++;
        } else {
            v = p;
            while (*p && *p != ' ')
                p++;
            vl = (size_t)(p - v);
        }
        if ((!first && append(out, size, &o, ",", 1) < 0) ||
            append(out, size, &o, "\"", 1) < 0 ||
            append(out, size, &o, k, kl) < 0 ||
            append(out, size, &o, "\":", 2) < 0)
            return -ENOSPC;
        first = 0;
        if (!quoted && is_number(v, vl)) {
            if (append(out, size, &o, v, vl) < 0)
                return -ENOSPC;
            continue;
        }
        if (append(out, size, &o, "\"", 1) < 0)
            return -ENOSPC;
        for (size_t i = 0; i < vl; i++) {
            char c = v[i];
            /* logfmt escapes \" \\ \n are JSON escapes too. */
            if (c == '\\' && quoted && i + 1 < vl) {
                if (append(out, size, &o, v + i, 2) < 0)
                    return -ENOSPC;
                i++;
            } else if (c == '"' || c == '\\') {
                if (append(out, size, &o, "\\", 1) < 0 ||
                    append(out, size, &o, &c, 1) < 0)
                    return -ENOSPC;
            } else if (append(out, size, &o, &c, 1) < 0) {
                return -ENOSPC;
            }
        }
        if (append(out, size, &o, "\"", 1) < 0)
            return -ENOSPC;
    }
    return append(out, size, &o, "}", 1);
}

void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    char line[2048], json[4096];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n, errsave = errno;

    if (!log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000,
                 level_names[level], event);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    n = (int)strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    if (log_fmt == LOG_JSON && log_logfmt_to_json(line, json, sizeof(json)) == 0)
        fprintf(stderr, "%s\n", json);
    else
        fprintf(stderr, "%s\n", line);
    errno = errsave;
}
