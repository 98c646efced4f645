/* worker_state.h: a worker written by one image of handoff and adopted by the next (handoff upgrade): its process runs on, the new image takes it over. */
#ifndef HANDOFF_WORKER_STATE_H
#define HANDOFF_WORKER_STATE_H

#include <jansson.h>
#include <stddef.h>

#include "worker.h"

/*
 * What cannot be carried while it is under way, said in why: the report
 * of the worker's exec (a pipe the new image could not tie to its spawn)
 * and a readiness check in progress (a probe child or a connection of the
 * old image's). 1 if busy, 0 if w can be carried now.
 */
int worker_state_busy(const struct worker *w, char *why, size_t len);

/*
 * Everything struct worker holds but what the adopting image rebuilds (its
 * generation, context, reaper link): pid, slot, state, start and ready
 * times, the drain's time, kill and STOPPING=1 flags, STATUS= text, the
 * master's end of its channel and its count of requests. NULL: no memory.
 */
json_t *worker_state_write(const struct worker *w);

/* Clear (on) or set again (!on) close-on-exec on the fds w holds. */
int worker_state_inherit(const struct worker *w, int on);

/*
 * Adopt the worker o describes into g: its pid must be a child of this
 * process (as it is after an exec: the same process), its slot free, its
 * channel fd the master's end of a channel. 0, or -EINVAL / -EBADF /
 * -ENOMEM with the field named in err (prefixed by where, e.g.
 * "gens[1].workers[0]"); nothing is adopted on error.
 */
int worker_state_adopt(struct worker_ctx *wc, struct gen *g, const json_t *o,
                       const char *where, char *err, size_t errlen);

#endif
