/* scale.c: SIGTTIN and SIGTTOU: the generations they apply to, the slot they add or take. */
#include "scale.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t
scale_targets(struct gen *active, struct gen *starting, struct gen *out[2])
{
    size_t n = 0;

    if (active != NULL)
        out[n++] = active;
    if (starting != NULL && starting != active)
        out[n++] = starting;
    return n;
}

size_t
scale_count(const struct gen *g)
{
    size_t n = 0;

    for (size_t i = 0; i < g->nslots; i++)
        if (!g->slots[i].retired)
            n++;
    return n;
}

long
scale_victim(const struct gen *g)
{
    if (scale_count(g) <= 1)
        return -ENOENT;
    for (size_t i = g->nslots; i-- > 0;)
        if (!g->slots[i].retired)
            return (long)i;
    return -ENOENT;
}

long
scale_grow(struct gen *g)
{
    struct slot *s = realloc(g->slots, (g->nslots + 1) * sizeof(*s));

    if (s == NULL)
        return -ENOMEM;
    g->slots = s;
    memset(&g->slots[g->nslots], 0, sizeof(*s));
    return (long)g->nslots++;
}
