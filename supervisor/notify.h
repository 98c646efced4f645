/* notify.h: the NOTIFY_SOCKET every worker gets (the sd_notify protocol). */
#ifndef HANDOFF_NOTIFY_H
#define HANDOFF_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>

struct master;
struct notify;

/* What one datagram said. */
struct notify_msg {
    int ready;    /* READY=1 */
    int stopping; /* STOPPING=1 */
    int has_status;
    char status[128]; /* STATUS= */
};

/* Parse a datagram of "KEY=value\n" lines; unknown keys are ignored. */
void notify_parse(const char *buf, size_t len, struct notify_msg *out);

/*
 * Bind a datagram socket at path (in handoff's private directory) with
 * SO_PASSCRED, so the kernel tells which process sent each message.
 */
int notify_open(struct master *m, const char *path, struct notify **out);
void notify_close(struct notify *n);

#endif
