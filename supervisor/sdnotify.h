/* sdnotify.h: handoff tells its own service manager (sd_notify) how it is. */
#ifndef HANDOFF_SDNOTIFY_H
#define HANDOFF_SDNOTIFY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sdnotify;

/*
 * Read NOTIFY_SOCKET from handoff's environment and remove it, so that
 * nothing handoff starts (workers get their own, probes none) inherits it.
 * *out is NULL when it is unset or unusable (logged). Returns 0 or -errno.
 */
int sdnotify_open(struct sdnotify **out);
void sdnotify_close(struct sdnotify *n);

/* The address of a NOTIFY_SOCKET value: "/path" or "@abstract". Returns 0
 * or -EINVAL (-ENAMETOOLONG). */
int sdnotify_address(const char *value, struct sockaddr_un *sun,
                     socklen_t *len);

/*
 * From the roll (master.c), all no-ops with n NULL (no NOTIFY_SOCKET):
 * a roll of generation gen started: RELOADING=1 and MONOTONIC_USEC (not
 * for generation 1); it ended: READY=1 (unless generation 1 failed), with
 * STATUS= saying which generation is active; the master stops:
 * STOPPING=1. active is the active generation's number, 0 for none, and
 * live its processes.
 */
void sdnotify_roll_started(struct sdnotify *n, unsigned active, size_t live,
                           unsigned gen);
void sdnotify_roll_ended(struct sdnotify *n, unsigned active, size_t live,
                         unsigned gen, const char *why);
void sdnotify_stopping(struct sdnotify *n);
/* STATUS= only: a canary's step, a rollback. */
void sdnotify_status(struct sdnotify *n, const char *status);

#endif
