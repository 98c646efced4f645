/* log.c: the event log, one logfmt (or JSON) line per event on stderr. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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
