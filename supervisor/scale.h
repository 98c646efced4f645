/* scale.h: what SIGTTIN and SIGTTOU change: which generations, which slot. */
#ifndef HANDOFF_SCALE_H
#define HANDOFF_SCALE_H

#include <stddef.h>

#include "generation.h"

/*
 * The generations a scale applies to, in the order to apply it: the
 * active one, then the starting one, which is to be active. The starting
 * one was sized when its roll began: left out, it would drop the scale
 * when promoted. Fills out[0..2) and returns how many.
 */
size_t scale_targets(struct gen *active, struct gen *starting,
                     struct gen *out[2]);

/* The slots of g that count: those SIGTTOU has not retired. */
size_t scale_count(const struct gen *g);

/*
 * The slot SIGTTOU retires in g: the newest that counts, or -ENOENT when
 * it is the last one (the last process of a generation is never taken).
 */
long scale_victim(const struct gen *g);

/* Add an empty slot at the end of g: its index, or -ENOMEM. */
long scale_grow(struct gen *g);

#endif
