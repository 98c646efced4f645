/* channel.h: the master's end of each worker's control channel. */
#ifndef HANDOFF_CHANNEL_H
#define HANDOFF_CHANNEL_H

#include "master.h"
#include "../shim/protocol.h"

struct channel {
    int fd;
    uv_poll_t *poll;
    struct master *m;
    struct worker *w;
    unsigned long requests;
};

/*
 * Make the socketpair for w: the master keeps one end (polled), the other,
 * returned in *child_end (close-on-exec), goes to the worker at spawn.
 */
int channel_open(struct master *m, struct worker *w, int *child_end);
void channel_close(struct channel *c);

/*
 * Answer one decoded request from w: fill reply (and *fd to lend, or -1).
 * Returns the reply's length, 0 for no reply. Pure but for the lookups, so
 * the tests drive it without a socket.
 */
int channel_answer(const struct plan *p, unsigned gen_id,
                   const struct proto_msg *req, void *reply, size_t cap,
                   int *fd);

#endif
