/* log.c: the event log, one logfmt (or JSON) line per event on stderr. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "handle.h"

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

json_t *
log_json_string(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    /* Not UTF-8 (a worker's STATUS=, a path): jansson refuses it, and a
     * line of the log or an answer must not be lost for it. */
    char *fixed = j == NULL ? malloc(3 * n + 1) : NULL;
    size_t o = 0;

    if (fixed == NULL)
        return j;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x80) {
            fixed[o++] = s[i];
        } else {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
        }
    }
    j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

/*
 * A logfmt value, NUL-terminated, as JSON: a number if it was not quoted
 * and reads as JSON writes one (-12, 0.25; not 007, 1., .5 nor 1e5, which
 * may be a version or a name), else a string.
 */
static json_t *
json_value(const char *v, size_t n, int quoted)
{
    const char *d = v + (v[0] == '-');
    size_t nd = n - (size_t)(d - v);
    long long i;
    double x;
    char *end;

    if (quoted || nd == 0 || strspn(d, "0123456789.") != nd ||
        !isdigit((unsigned char)d[0]) || !isdigit((unsigned char)d[nd - 1]) ||
        (d[0] == '0' && isdigit((unsigned char)d[1])))
        return log_json_string(v, n);
    x = strtod(v, &end);
    if (*end != '\0')
        return log_json_string(v, n); /* 1.2.3 */
    errno = 0;
    i = strtoll(v, &end, 10);
    return *end == '\0' && errno == 0 ? json_integer(i) : json_real(x);
}

int
log_logfmt_to_json(const char *in, char *out, size_t size)
{
    json_t *obj = json_object();
    char *line = strdup(in), *p = line; /* cut and unescaped in place */
    size_t n;
    int rc = obj != NULL && line != NULL ? 0 : -ENOMEM;

    while (rc == 0 && *p != '\0') {
        char *k = p, *v, *w, end;
        size_t kl = strcspn(p, "= ");
        int quoted;

        if (kl == 0 && *p == ' ') {
            p++;
            continue;
        }
        p += kl;
        p += *p == '=';
        quoted = *p == '"';
        v = w = p + quoted;
        for (p = v; *p != '\0' && *p != (quoted ? '"' : ' '); p++) {
            /* Undo log_q's \" \\ \n; another backslash stays as it is. */
            if (quoted && p[0] == '\\' && p[1] != '\0' &&
                strchr("\"\\n", p[1])) {
                p++;
                *w++ = *p == 'n' ? '\n' : *p;
            } else {
                *w++ = *p;
            }
        }
        end = *p; /* the closing quote or the blank, which w may overwrite */
        *w = '\0';
        p += end != '\0';
        /* NULL (no memory) or a key that is not UTF-8: the line fails. */
        if (json_object_setn_new(obj, k, kl,
                                 json_value(v, (size_t)(w - v), quoted)) < 0)
            rc = -ENOMEM;
    }
    /* 15 digits: what a decimal of the log reads back as, not 0.1's
     * 0.10000000000000001. */
    if (rc == 0) {
        n = json_dumpb(obj, out, size, JSON_COMPACT | JSON_REAL_PRECISION(15));
        rc = n == 0 ? -ENOMEM : n >= size ? -ENOSPC : 0;
        if (rc == 0)
            out[n] = '\0';
    }
    json_decref(obj);
    free(line);
    return rc;
}

/*
 * Format one event as a whole line with its newline; returns its length.
 */
static size_t
format_event(char *out, size_t size, enum log_level level, const char *event,
             const char *fmt, va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    int n;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000,
                 level_names[level], event);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    n = (int)strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    /* A line the JSON encoder cannot make (no memory, too long) goes out
     * as logfmt: the event is never lost for its format. */
    if (log_fmt != LOG_JSON || log_logfmt_to_json(line, out, size - 1) < 0)
        snprintf(out, size - 1, "%s", line);
    n = (int)strlen(out);
    out[n++] = '\n';
    out[n] = '\0';
    return (size_t)n;
}

static size_t
format_eventf(char *out, size_t size, enum log_level level, const char *event,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static size_t
format_eventf(char *out, size_t size, enum log_level level, const char *event,
              const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = format_event(out, size, level, event, fmt, ap);
    va_end(ap);
    return n;
}

/*
 * Where the lines go. stderr is shared with the workers, and a reader that
 * stops reading (a stalled log shipper) must not freeze the master: its
 * rolls, its reaping, its stop. So the master writes without ever waiting,
 * keeps what cannot be written yet in a bounded buffer, drops whole lines
 * beyond it and says how many once writing resumes. The write may not
 * wait, but O_NONBLOCK on fd 2 would change the open file the workers
 * share (they would get EAGAIN on their own stderr): see log_open.
 */
#define LOG_BUFSIZE (64 * 1024)
#define LOG_RETRY_MS 50
#define LOG_EXIT_WAIT_MS 500

static struct {
    int fd;                 /* a private non-blocking open of stderr, or 2 */
    int own;                /* fd is ours to close */
    int sock;               /* stderr is a socket: send(MSG_DONTWAIT) */
    char buf[LOG_BUFSIZE];  /* whole lines (the first maybe begun) waiting */
    size_t len;
    unsigned long dropped;  /* lines lost since the last log_dropped */
    uv_timer_t *retry;      /* runs while something waits */
} out = {.fd = 2};

int
log_open(void)
{
    struct stat st;
    int fd;

    if (fstat(2, &st) < 0)
        return -errno;
    if (S_ISSOCK(st.st_mode)) {
        /* journald's stream, say: MSG_DONTWAIT does not wait, for this
         * call only, and changes nothing for the workers. A socket cannot
         * be opened again through /proc. */
        out.sock = 1;
        return 0;
    }
    /* A file or a block device: a write never waits for a reader. */
    if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
        return 0;
    /* A pipe, a fifo or a terminal opened again is a new open file of the
     * same pipe or terminal, whose O_NONBLOCK is the master's alone.
     * O_NOCTTY: PID 1 must not take the terminal as its controlling one. */
    fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    out.fd = fd;
    out.own = 1;
    return 0;
}

static ssize_t
out_write(const char *s, size_t n)
{
    ssize_t w;

    do
        w = out.sock ? send(out.fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL)
                     : write(out.fd, s, n);
    while (w < 0 && errno == EINTR);
    return w;
}

static unsigned long
count_lines(const char *s, size_t n)
{
    unsigned long k = 0;

    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

/* Write what waits; 0 once all is out, -EAGAIN while the reader is slow. */
static int
out_flush(void)
{
    while (out.len > 0) {
        ssize_t w = out_write(out.buf, out.len);

        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -EAGAIN;
        if (w <= 0) {
            /* No reader left (EPIPE) or a failing file: what waits is lost,
             * and counted as the rest is. */
            out.dropped += count_lines(out.buf, out.len);
            out.len = 0;
            return 0;
        }
        memmove(out.buf, out.buf + w, out.len - (size_t)w);
        out.len -= (size_t)w;
    }
    return 0;
}

static void on_retry(uv_timer_t *t);

/* Write line s now, or keep it for later, or drop it. */
static void
out_queue(const char *s, size_t n)
{
    if (out.len == 0) {
        ssize_t w = out_write(s, n);

        if (w == (ssize_t)n)
            return;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            out.dropped++;
            return;
        }
        /* The rest of a line begun must follow it, whatever the room:
         * there is room, the buffer being empty and a line short. */
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        }
    } else if (out.dropped > 0 || out.len + n > sizeof(out.buf)) {
        /* Once dropping, drop until all is out, so that log_dropped comes
         * where the lines are missing. */
        out.dropped++;
        return;
    }
    memcpy(out.buf + out.len, s, n);
    out.len += n;
    if (out.retry != NULL && !uv_is_active((uv_handle_t *)out.retry))
        uv_timer_start(out.retry, on_retry, LOG_RETRY_MS, LOG_RETRY_MS);
}

/* Once nothing waits: how many lines were lost, if any, first. */
static void
out_note_dropped(void)
{
    char note[256];
    size_t n;

    if (out.len > 0 || out.dropped == 0)
        return;
    n = format_eventf(note, sizeof(note), LOG_WARN, "log_dropped",
                      "lines=%lu", out.dropped);
    out.dropped = 0;
    out_queue(note, n);
}

static void
on_retry(uv_timer_t *t)
{
    out_flush();
    out_note_dropped();
    if (out.len == 0)
        uv_timer_stop(t);
}

int
log_attach(uv_loop_t *loop)
{
    out.retry = handle_timer(loop, NULL);
    if (out.retry == NULL)
        return -ENOMEM;
    /* The log alone must not keep the loop running. */
    uv_unref((uv_handle_t *)out.retry);
    if (out.len > 0)
        uv_timer_start(out.retry, on_retry, LOG_RETRY_MS, LOG_RETRY_MS);
    return 0;
}

void
log_detach(void)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)LOG_EXIT_WAIT_MS * 1000000;

    handle_close(out.retry);
    out.retry = NULL;
    /* The last lines say how handoff ended: give a slow reader a moment,
     * never more. */
    for (;;) {
        struct pollfd pfd = {.fd = out.fd, .events = POLLOUT};
        uint64_t now = uv_hrtime();

        out_flush();
        out_note_dropped();
        if (out.len == 0 || now >= deadline)
            break;
        (void)poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1);
    }
    if (out.own) {
        close(out.fd);
        out.fd = 2;
        out.own = 0;
    }
}

size_t
log_held(const char **text, unsigned long *dropped)
{
    *text = out.buf;
    *dropped = out.dropped;
    return out.len;
}

void
log_hold(const char *text, size_t n, unsigned long dropped)
{
    if (n > sizeof(out.buf) - out.len)
        n = sizeof(out.buf) - out.len;
    memmove(out.buf + n, out.buf, out.len);
    memcpy(out.buf, text, n);
    out.len += n;
    out.dropped += dropped;
    if (out.retry != NULL && out.len > 0)
        uv_timer_start(out.retry, on_retry, LOG_RETRY_MS, LOG_RETRY_MS);
}

void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    size_t n;
    int errsave = errno;

    if (!log_enabled(level))
        return;
    va_start(ap, fmt);
    n = format_event(line, sizeof(line), level, event, fmt, ap);
    va_end(ap);
    /* What waits goes first, then the news of what was lost. */
    out_flush();
    out_note_dropped();
    out_queue(line, n);
    errno = errsave;
}
