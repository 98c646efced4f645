/* channel.h: the master's end of each worker's control channel. */
#ifndef HANDOFF_CHANNEL_H
#define HANDOFF_CHANNEL_H

#include <uv.h>

#include "config.h"
#include "plan.h"
#include "../shim/protocol.h"

struct worker;

/* What the channels are given by their owner (master.c), and tell it. */
struct channel_ctx {
    uv_loop_t *loop;
    /* w sent READY (via READY_LISTEN). */
    void (*ready)(void *ctx, struct worker *w, enum ready_kind via);
    void *ctx;
};

struct channel {
    int fd;
    uv_poll_t *poll;
    struct channel_ctx cc;
    struct worker *w;
    unsigned long requests;
};

/*
 * Make the socketpair for w: the master keeps one end (polled on
 * cc->loop), the other, returned in *child_end (close-on-exec), goes to
 * the worker at spawn.
 */
int channel_open(const struct channel_ctx *cc, struct worker *w,
                 int *child_end);
void channel_close(struct channel *c);

/* After handoff upgrade: watch fd, the master's end of w's channel that the
 * earlier image named, with its count of requests. -EBADF: fd is not such
 * an end; -ENOMEM. */
int channel_adopt(const struct channel_ctx *cc, struct worker *w, int fd,
                  unsigned long requests);

/*
 * Answer one decoded request from w: fill reply (and *fd to lend, or -1).
 * Returns the reply's length, 0 for no reply. Pure but for the lookups, so
 * the tests drive it without a socket.
 */
int channel_answer(const struct plan *p, unsigned gen_id,
                   const struct proto_msg *req, void *reply, size_t cap,
                   int *fd);

#endif
