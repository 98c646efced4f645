/* probe.h: one check of a server: a TCP connect, an HTTP GET or a command, its verdict and time. */
#ifndef HANDOFF_PROBE_H
#define HANDOFF_PROBE_H

#include <stdint.h>

struct master;

enum probe_kind { PROBE_TCP, PROBE_HTTP, PROBE_EXEC };

/* The verdict: ok (connected; 2xx or 3xx; exit 0), how long it took in µs,
 * and what was seen ("http=503", "err=ECONNREFUSED", "exit=1"). */
typedef void probe_cb(void *arg, int ok, uint64_t us, const char *what);

struct probe_attempt;

/*
 * One attempt at target (HOST:PORT, http://URL or a shell command), from
 * source port sport (0: any; a steered listener sends a probe port's
 * connection to that port's generation). env is the command's environment
 * (NULL: the master's). cb runs once, at the verdict, unless the attempt
 * is cancelled first. NULL: nothing could be started, cb never runs.
 */
struct probe_attempt *probe_start(struct master *m, enum probe_kind kind,
                                  const char *target, unsigned sport,
                                  char **env, probe_cb *cb, void *arg);

/* No verdict wanted any more: a connection is reset, a command killed. */
void probe_cancel(struct probe_attempt *a);

#endif
