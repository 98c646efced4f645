/* sdnotify.h: handoff tells its own service manager (sd_notify) how it is. */
#ifndef HANDOFF_SDNOTIFY_H
#define HANDOFF_SDNOTIFY_H

#include <sys/socket.h>
#include <sys/un.h>

struct master;
struct gen;
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
 * From the roll (master.c), all no-ops without NOTIFY_SOCKET:
 * a roll started: RELOADING=1 and MONOTONIC_USEC (not for generation 1);
 * it ended: READY=1 (unless generation 1 failed), with STATUS= saying
 * which generation is active; the master stops: STOPPING=1.
 */
void sdnotify_roll_started(struct master *m, const struct gen *g);
void sdnotify_roll_ended(struct master *m, const struct gen *g,
                         const char *why);
void sdnotify_stopping(struct master *m);
/* STATUS= only: a canary's step, a rollback. */
void sdnotify_status(struct master *m, const char *status);

#endif
