/* drain.h: asking a generation to finish: its drain signal, a deadline, SIGKILL; a steered one's retirement. */
#ifndef HANDOFF_DRAIN_H
#define HANDOFF_DRAIN_H

#include <stdint.h>

struct master;
struct gen;
struct worker;

/* Ask one worker to finish its requests and exit (sig: drain_signal). */
void drain_worker(struct worker *w, int sig);

/* Every process of g: its drain signal, SIGKILL after timeout_ms. A
 * generation with no process left is done at once (and freed). */
void drain_gen(struct master *m, struct gen *g, uint64_t timeout_ms);

/* SIGKILL to every process of g, logged with why. */
void drain_kill(struct gen *g, const char *why);

/* A roll of g starts: no older failed generation goes on draining. */
void drain_cap_failed(struct master *m, const struct gen *g);

/*
 * g gets no new connection any more. Steered, it may hold some in its own
 * queue, and handshakes begun before the swap end there: it keeps
 * accepting until that queue is empty and drain_delay has passed
 * (drain_timeout at most), then drains. Shared, it drains at once.
 */
void drain_retire(struct master *m, struct gen *g);

#endif
