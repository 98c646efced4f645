/* state.h: the master's state as one versioned JSON document, which handoff writes before it executes a new image of itself and the new image reads (handoff upgrade). */
#ifndef HANDOFF_STATE_H
#define HANDOFF_STATE_H

#include <jansson.h>
#include <stddef.h>

#include "deploy.h"

/*
 * The document:
 *
 *   {"format": "handoff-state", "version": 1, "written_by": "0.1.0",
 *    "deploy": {...}}
 *
 * "deploy" is the deployment core (struct deploy) field by field, under
 * the fields' own names; arrays of generations, slots, queued rolls and
 * waiting clients hold only the entries in use. Times are the core's
 * milliseconds on CLOCK_MONOTONIC, which an exec does not reset: deadlines
 * carry over as they are.
 *
 * A reader takes its own version and the one before it (none yet before
 * 1); a document of a later version is refused, naming both, so that a
 * downgrade across a format change is refused rather than half read.
 * Everything read is checked (ranges, ids, counts) before it is used: a
 * document is input like any other.
 */
#define STATE_FORMAT "handoff-state"
#define STATE_VERSION 1
#define STATE_MAX_SLOTS 4096 /* processes of one generation, read back */

/* The whole document for d: a new reference, or NULL when out of memory. */
json_t *state_write(const struct deploy *d);

/* The core's part alone (for state_write and the tests). */
json_t *state_write_deploy(const struct deploy *d);

/*
 * d (any content: it is reset with deploy_init) from doc. Returns 0, or
 * -EINVAL with the field at fault named in err ("deploy.gens[1].slots[0].w:
 * 9 is not one of 0..3"), -EPROTONOSUPPORT for a version this binary does
 * not read, -ENOMEM; on error d is left empty (deploy_free is safe).
 */
int state_read(struct deploy *d, const json_t *doc, char *err, size_t errlen);
int state_read_deploy(struct deploy *d, const json_t *o, char *err,
                      size_t errlen);

/* For the modules that read their own part of a document (worker_state.c):
 * where the reader is ("deploy.gens[1].slots[0]") and its first fault,
 * which later faults do not overwrite. */
struct state_rd {
    char prefix[96]; /* before the path: "listener web: " */
    char path[96];
    char *err;
    size_t errlen;
    int failed;
    int nomem;
};
void state_fault(struct state_rd *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* len bytes of b as lowercase hex text (bytes that are not UTF-8 in a JSON
 * string): a new reference, or NULL when out of memory. */
json_t *state_hex(const void *b, size_t len);
/* n bytes from the 2n hex digits at hex into out: 0, or -1 if one is not
 * a lowercase hex digit (out partly written). */
int state_unhex(const char *hex, size_t n, void *out);
/* o[key], an integer in lo..hi (0, and a fault, when it is not). */
long long state_get(struct state_rd *r, const json_t *o, const char *key,
                    long long lo, long long hi);
/* For the modules that write their own part: o[key] = v (taken), the
 * first failure kept in *failed; an integer. */
void state_put(json_t *o, const char *key, json_t *v, int *failed);
json_t *state_num(long long v);
/* An array of the n integers v[0..n); NULL: no memory. */
json_t *state_numbers(const unsigned *v, size_t n);
/* o[key], an array of at most max entries, their count in *n (0, and a
 * fault, when it is not). */
const json_t *state_array(struct state_rd *r, const json_t *o, const char *key,
                          size_t max, size_t *n);
/* o[key], a string shorter than size, into buf. */
void state_text(struct state_rd *r, const json_t *o, const char *key,
                char *buf, size_t size);

#endif
