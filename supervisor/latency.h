/* latency.h: windows of paired probe times (new and previous generation) and when one counts as slower. */
#ifndef HANDOFF_LATENCY_H
#define HANDOFF_LATENCY_H

#include <stddef.h>
#include <stdint.h>

/*
 * A verdict comes from a window of 20 pairs: each pair the new and the
 * previous generation's times of one guard tick, probed back to back, so
 * under the same load. The 95th percentile (nearest rank) of 20 is the
 * 19th: one outlier (a scheduler's hiccup, a cold first request) never
 * decides. After each verdict the window starts afresh: verdicts share no
 * sample, so guard_failures of them in a row are that many pieces of
 * evidence (sliding windows shared 19 of 20, and a busy moment of noise
 * made 3 verdicts in a row: 5 of 20 equal versions rolled back).
 */
#define LATENCY_WINDOW 20
/* Only a difference above this counts. A probe to a small server on
 * loopback takes 1-3 ms, and on a busy host 4-8 ms now and then, more
 * often for a process just started: measured here, windows of two
 * equally fast versions differ at the p95 by up to 3.4 ms, which at a
 * ratio of 1.2 would roll a good version back. */
#define LATENCY_FLOOR_US 5000

struct latency {
    uint64_t cur[LATENCY_WINDOW], prev[LATENCY_WINDOW]; /* pair i: one tick */
    size_t n;
    /* The last verdict's figures, for the log and the rollback reason. */
    uint64_t p95_cur, p95_prev;
    unsigned cur_slower; /* pairs of the window where the new one was slower */
    int slower;
};

/* The 95th percentile (nearest rank) of n times; 0 when n is 0. */
uint64_t latency_p95(const uint64_t *us, size_t n);
/*
 * One tick's pair: cur_us of the new generation, prev_us of the previous.
 * Returns 1 when this pair filled the window: a verdict, in l->slower
 * (1: the new one is slower), with its figures; the next pair starts a
 * new window. Returns 0 while the window fills. The new one is slower
 * when its p95 is above ratio times the previous one's and above it by
 * more than LATENCY_FLOOR_US, and it was the slower of the two in more
 * than half of the pairs: a p95 alone of two equally fast versions on a
 * busy host is above 1.2 times the other's in 2 of 20 windows measured,
 * and one slower in most pairs as well in none.
 */
int latency_add(struct latency *l, uint64_t cur_us, uint64_t prev_us,
                double ratio);

#endif
