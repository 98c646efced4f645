/* parse.h: strict parsers for configuration values. */
#ifndef HANDOFF_PARSE_H
#define HANDOFF_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Each returns 0 on success, or -EINVAL (-ERANGE) with a message in err
 * that says what was expected.
 */

/* "250ms", "30s", "2m", "1h", "0"; a bare number is seconds. */
int parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen);

/* Print "key = 30s" (or "= 250ms") as parse_duration reads it back. */
void parse_print_duration(FILE *f, const char *key, uint64_t ms);

/* "SIGTERM", "TERM", "term", "15". */
int parse_signal(const char *s, int *sig, char *err, size_t errlen);
const char *parse_signal_name(int sig);

/* yes/no, true/false, on/off, 1/0, as systemd reads them: *v = 1 or 0. */
int parse_bool(const char *s, int *v, char *err, size_t errlen);

/* A decimal integer in [min, max]. */
int parse_int(const char *s, long min, long max, long *v, char *err,
              size_t errlen);

/* "LO-HI", ports with at least min of them: *lo and *hi. */
int parse_port_range(const char *s, unsigned min, unsigned *lo, unsigned *hi,
                     char *err, size_t errlen);

/* An octal file mode, "0660". */
int parse_mode(const char *s, unsigned *mode, char *err, size_t errlen);

/*
 * Split a command line into words the way a shell would for a simple
 * command: blanks separate words, '...' is literal, "..." allows \" \\ \$ \`,
 * a backslash outside quotes escapes the next character. No expansion.
 * On success *argv is a NULL-terminated array (free with parse_words_free).
 */
int parse_words(const char *s, char ***argv, char *err, size_t errlen);
void parse_words_free(char **argv);

/*
 * A probe (ready now, guard later) as people type it: a bare URL
 * "http://HOST:PORT/PATH" stands for the documented "http:http://...".
 * Returns the spec in KIND:ARG form, allocated (free() it), or NULL when
 * out of memory; any other spec is copied as it is.
 */
char *parse_probe_spec(const char *s);

/* The URL of an http: probe: "http://HOST[:PORT][/PATH]", a host named. */
int parse_http_url(const char *url, char *err, size_t errlen);

/* One word of KEY=value form with a valid variable name. */
int parse_env(const char *s, char *err, size_t errlen);

#endif
