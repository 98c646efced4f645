/* drain.h: asking a worker to finish (its drain signal), and a generation's SIGKILL. */
#ifndef HANDOFF_DRAIN_H
#define HANDOFF_DRAIN_H

#include <stdint.h>

struct gen;
struct worker;

/* Ask one worker to finish its requests and exit (sig: drain_signal). */
void drain_worker(struct worker *w, int sig);

/* SIGKILL to every process of g, logged with why. */
void drain_kill(struct gen *g, const char *why);

#endif
