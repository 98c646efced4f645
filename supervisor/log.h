/* log.h: one line per event on stderr, logfmt or JSON. */
#ifndef HANDOFF_LOG_H
#define HANDOFF_LOG_H

#include <stddef.h>
#include <uv.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_LOGFMT, LOG_JSON };

void log_setup(enum log_level level, enum log_format format);

/*
 * Write the log without ever waiting for its reader: stderr is opened again
 * (a pipe or a terminal) or sent to with MSG_DONTWAIT (a socket), never set
 * O_NONBLOCK, which the workers sharing it would see. Lines that cannot go
 * yet wait in a bounded buffer; beyond it they are dropped and counted,
 * and "event=log_dropped lines=N" follows once writing resumes. Returns 0,
 * or -errno when stderr stays as it is (a write may then wait).
 */
int log_open(void);

/* Retry what waits from the loop; log_detach gives it a last moment. */
int log_attach(uv_loop_t *loop);
void log_detach(void);
int log_enabled(enum log_level level);

/*
 * Emit "ts=... level=... event=EVENT " followed by fmt, which is itself
 * logfmt: key=value pairs separated by spaces. Values that may hold spaces
 * or quotes go through log_q().
 */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Quote s for logfmt if needed; the result lives until 8 more calls. */
const char *log_q(const char *s);

/*
 * Turn one logfmt line into a JSON object (jansson), numbers unquoted;
 * returns 0, -ENOSPC when out is too small or -ENOMEM. The caller writes
 * the logfmt line instead when it fails.
 */
int log_logfmt_to_json(const char *in, char *out, size_t size);

/*
 * s[0..n) as a new JSON string. jansson takes UTF-8 only: text that is not
 * has each byte above 0x7f replaced by U+FFFD, so that a worker's bytes
 * never make invalid JSON nor cost a line. NULL when memory ran out.
 */
struct json_t *log_json_string(const char *s, size_t n);

const char *log_level_name(enum log_level level);

/* Lines waiting for a slow reader, and how many were dropped: an upgrade
 * carries them (log_held) and the image it starts writes them first
 * (log_hold). */
size_t log_held(const char **text, unsigned long *dropped);
void log_hold(const char *text, size_t n, unsigned long dropped);

#endif
