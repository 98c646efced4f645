/* latency.c: windows of paired probe times (new and previous generation) and when one counts as slower. */
#include "latency.h"

#include <string.h>

uint64_t
latency_p95(const uint64_t *us, size_t n)
{
    uint64_t v[LATENCY_WINDOW], t;

    if (n == 0)
        return 0;
    if (n > LATENCY_WINDOW)
        n = LATENCY_WINDOW;
    memcpy(v, us, n * sizeof(v[0]));
    for (size_t i = 1; i < n; i++) /* insertion sort: at most 20 */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[(n * 95 + 99) / 100 - 1]; /* nearest rank: ceil(0.95 n) */
}

int
latency_add(struct latency *l, uint64_t cur_us, uint64_t prev_us, double ratio)
{
    unsigned slower = 0;

    l->cur[l->n] = cur_us;
    l->prev[l->n] = prev_us;
    if (++l->n < LATENCY_WINDOW)
        return 0;
    for (size_t i = 0; i < LATENCY_WINDOW; i++)
        slower += l->cur[i] > l->prev[i];
    l->cur_slower = slower;
    l->p95_cur = latency_p95(l->cur, LATENCY_WINDOW);
    l->p95_prev = latency_p95(l->prev, LATENCY_WINDOW);
    l->slower = (double)l->p95_cur > ratio * (double)l->p95_prev &&
                l->p95_cur > l->p95_prev + LATENCY_FLOOR_US &&
                2 * slower > LATENCY_WINDOW;
    l->n = 0; /* the next verdict shares no sample with this one */
    return 1;
}
