/* latency.c: a window of recent probe times, its 95th percentile, and when one window counts as slower than another. */
#include "latency.h"

#include <string.h>

void
latency_add(struct latency *l, uint64_t us)
{
    l->us[l->next] = us;
    l->next = (l->next + 1) % LATENCY_WINDOW;
    if (l->n < LATENCY_WINDOW)
        l->n++;
}

uint64_t
latency_p95(const struct latency *l)
{
    uint64_t v[LATENCY_WINDOW], t;

    if (l->n == 0)
        return 0;
    memcpy(v, l->us, l->n * sizeof(v[0]));
    for (size_t i = 1; i < l->n; i++) /* insertion sort: at most 20 */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[(l->n * 95 + 99) / 100 - 1]; /* nearest rank: ceil(0.95 n) */
}

int
latency_slower(const struct latency *a, const struct latency *b, double ratio)
{
    uint64_t pa, pb;

    if (a->n < LATENCY_WINDOW || b->n < LATENCY_WINDOW)
        return 0;
    pa = latency_p95(a);
    pb = latency_p95(b);
    return (double)pa > ratio * (double)pb && pa > pb + LATENCY_FLOOR_US;
}
