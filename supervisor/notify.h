/* notify.h: the NOTIFY_SOCKET every worker gets (the sd_notify protocol). */
#ifndef HANDOFF_NOTIFY_H
#define HANDOFF_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

struct notify;

/* What one datagram said. */
struct notify_msg {
    int ready;    /* READY=1 */
    int stopping; /* STOPPING=1 */
    int watchdog; /* WATCHDOG=1 */
    int trigger;  /* WATCHDOG=trigger */
    int has_status;
    char status[128]; /* STATUS= */
};

/* Parse a datagram of "KEY=value\n" lines; unknown keys are ignored. */
void notify_parse(const char *buf, size_t len, struct notify_msg *out);

/* Told each message, with the pid the kernel says sent it. */
typedef void notify_cb(void *ctx, pid_t pid, const struct notify_msg *msg);

/*
 * Bind a datagram socket at path (in handoff's private directory) with
 * SO_PASSCRED, so the kernel tells which process sent each message, and
 * poll it on loop: cb gets each message, with ctx.
 */
int notify_open(uv_loop_t *loop, const char *path, notify_cb *cb, void *ctx,
                struct notify **out);
void notify_close(struct notify *n);

#endif
