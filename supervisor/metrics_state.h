/* metrics_state.h: the metrics endpoint and what it counts as an upgrade
 * carries them: its listening socket written by one image of handoff and
 * adopted by the next. */
#ifndef HANDOFF_METRICS_STATE_H
#define HANDOFF_METRICS_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "metrics.h"

struct mconn;

/* Here rather than in metrics.c, for metrics_state.c and its test. */
struct metrics {
    view_fn *view;
    void *arg;
    struct metrics_data *data;
    uv_tcp_t *server;
    struct mconn *conns;
    size_t nconns;
};

/* Serve mt's scrapers from the listening TCP socket fd (mt->server
 * allocated, not yet initialised). 0 or a libuv error. */
int metrics_serve(struct metrics *mt, uv_loop_t *loop, int fd);

/*
 * The object (part of the master's state document, whose version covers
 * it), or null when there is no endpoint:
 *
 *   {"fd": 10, "cookie": "4102", "address": "127.0.0.1:9100"}
 *
 * address is the socket's as bound (the real port for port 0). Not
 * carried: view, arg and data (the adopting image gives its own, as to
 * metrics_open) and the scrapers' connections: they are close-on-exec, so
 * the exec closes them, and a scrape under way then fails; a scraper
 * tries again at its next interval, on the same listening socket.
 */
json_t *metrics_state_write(const struct metrics *mt);

/* Let the listening socket survive an execve (on = 1) or close on it again
 * (on = 0). 0 or -errno; mt NULL: 0. */
int metrics_state_inherit(const struct metrics *mt, int on);

/*
 * mt rebuilt from o (null: *out NULL, 0) and the descriptor it names,
 * checked first: open, a TCP socket of the address's family, listening,
 * bound to the recorded address, the socket recorded; then it serves on
 * loop from view(arg), counting in data, FD_CLOEXEC set again. Returns 0;
 * -EINVAL with the fault in err ("metrics: fd 10 is not listening"),
 * nothing adopted, nothing closed or changed; or -ENOMEM.
 */
int metrics_state_adopt(uv_loop_t *loop, const json_t *o, view_fn *view,
                        void *arg, struct metrics_data *data,
                        struct metrics **out, char *err, size_t errlen);

/*
 * The counters and histograms (struct metrics_data), every field:
 *
 *   {"ready": H, "roll": H, "drain": H, "refused": 3, "upgrades_ok": 2,
 *    "upgrades_refused": 1}
 *   H = {"bucket": ["0", "2", ... 15 counts], "count": "7", "sum": 1.25}
 *
 * counts as decimal text (64-bit unsigned), sum a JSON real (written with
 * 17 digits: read back exactly).
 */
json_t *metrics_state_write_data(const struct metrics_data *d);
/* d from o: 0, or -EINVAL with the field at fault in err ("metrics data:
 * roll.bucket: ..."), d unchanged. */
int metrics_state_read_data(const json_t *o, struct metrics_data *d, char *err,
                            size_t errlen);

#endif
