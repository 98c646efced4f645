/* probe.h: one check of a server: a TCP connect, an HTTP GET, a DNS query or
 * a command, its verdict and time. */
#ifndef HANDOFF_PROBE_H
#define HANDOFF_PROBE_H

#include <stdint.h>
#include <uv.h>

struct reaper;

/* Where attempts run: the loop, and the reaper that waits for commands. */
struct probe_host {
    uv_loop_t *loop;
    struct reaper *reaper;
};

enum probe_kind { PROBE_TCP, PROBE_HTTP, PROBE_EXEC, PROBE_DNS };

/* The verdict: ok (connected; 2xx or 3xx; a reply; exit 0), how long it
 * took in µs, and what was seen ("http=503", "err=ECONNREFUSED", "rcode=2",
 * "exit=1"). */
typedef void probe_cb(void *arg, int ok, uint64_t us, const char *what);

struct probe_attempt;

/*
 * One attempt at target (HOST:PORT, http://URL, HOST:PORT[/NAME] of a
 * DNS server (dnsq.h) or a shell command) on host's loop, from source port
 * sport (0: any; a steered listener sends a probe port's connection, or
 * datagram, to that port's generation). A DNS query passes on the first
 * reply from HOST:PORT carrying its id; others are ignored. env is the
 * command's environment (NULL: the master's). A command runs in a process
 * group of its own; one still running after timeout_ms fails ("err=timeout
 * after Nms") and its group is killed, as it is when the command exits or the
 * attempt is cancelled: nothing it started outlives it. A connection's or
 * a query's timeout is its caller's (the next try). cb runs once, at the
 * verdict, unless the attempt is cancelled first. NULL: nothing could be
 * started, cb never runs.
 */
struct probe_attempt *probe_start(const struct probe_host *host,
                                  enum probe_kind kind, const char *target,
                                  unsigned sport, char **env,
                                  uint64_t timeout_ms, probe_cb *cb, void *arg);

/* A command's timeout for checks tried every interval_ms: the interval, but
 * at least PROBE_EXEC_MIN_TIMEOUT_MS, as a shell and its command take
 * milliseconds to start where a connection on loopback takes microseconds. */
#define PROBE_EXEC_MIN_TIMEOUT_MS 1000
uint64_t probe_exec_timeout(uint64_t interval_ms);

/* No verdict wanted any more: a connection is reset, a command and its
 * process group killed. */
void probe_cancel(struct probe_attempt *a);

#endif
