/* latency.h: a window of recent probe times, its 95th percentile, and when one window counts as slower than another. */
#ifndef HANDOFF_LATENCY_H
#define HANDOFF_LATENCY_H

#include <stddef.h>
#include <stdint.h>

/*
 * A window is judged only once full: its 95th percentile (nearest rank)
 * is then the 19th of 20 times, so one outlier (a scheduler's hiccup, a
 * cold first request) never decides; with fewer samples it would be the
 * slowest of them.
 */
#define LATENCY_WINDOW 20
/* Only a difference above this counts. A probe to a small server on
 * loopback takes 1-3 ms, and on a busy host 4-8 ms now and then, more
 * often for a process just started: measured here, windows of two
 * equally fast versions differ at the p95 by up to 3.4 ms, which at a
 * ratio of 1.2 would roll a good version back. */
#define LATENCY_FLOOR_US 5000

struct latency {
    uint64_t us[LATENCY_WINDOW]; /* a ring, oldest overwritten */
    size_t n, next;
};

void latency_add(struct latency *l, uint64_t us);
/* The 95th percentile of what the window holds; 0 when empty. */
uint64_t latency_p95(const struct latency *l);
/* 1 when both windows are full and a's p95 is above ratio times b's and
 * above b's by more than LATENCY_FLOOR_US; 0 otherwise, and 0 for "not
 * enough samples yet". */
int latency_slower(const struct latency *a, const struct latency *b, double ratio);

#endif
