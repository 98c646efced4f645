/* watch.h: handoff status --watch: the status kept up to date, live. */
#ifndef HANDOFF_WATCH_H
#define HANDOFF_WATCH_H

#include <stdint.h>

#define WATCH_INTERVAL_MS 1000 /* --interval's default */

/*
 * Ask the master at path for its status until SIGINT or SIGTERM (then 0),
 * or until it no longer answers (a message on stderr, then 1). On a
 * terminal, without json: the text, redrawn every interval_ms and as soon
 * as it changed. Otherwise: the JSON object on one line each time it
 * changed. timeout_ms bounds each request. Leaves SIGINT and SIGTERM
 * blocked (one may be pending): the caller exits.
 */
int watch_run(const char *path, int json, uint64_t interval_ms,
              uint64_t timeout_ms);

#endif
