/* signals.h: what each signal to handoff does, and which are forwarded. */
#ifndef HANDOFF_SIGNALS_H
#define HANDOFF_SIGNALS_H

#include <uv.h>

enum signal_action {
    SIGACT_NONE,    /* not handled: default or ignored */
    SIGACT_ROLL,    /* SIGUSR2 */
    SIGACT_RELOAD,  /* SIGHUP */
    SIGACT_STOP,    /* SIGTERM, SIGINT */
    SIGACT_MORE,    /* SIGTTIN */
    SIGACT_FEWER,   /* SIGTTOU */
    SIGACT_REAP,    /* SIGCHLD */
    SIGACT_FORWARD, /* to the active generation */
};

/* The action for sig (1-31). */
enum signal_action signals_action(int sig);

/* Told each signal handoff gets, with its action; ctx is the caller's. */
typedef void signals_cb(void *ctx, enum signal_action act, int sig);

struct signals;

/* Install a uv_signal handler on loop for every signal with an action.
 * Returns 0 or -ENOMEM (*out then NULL, nothing left installed). */
int signals_start(uv_loop_t *loop, signals_cb *cb, void *ctx,
                  struct signals **out);
void signals_stop(struct signals *s); /* NULL is fine */

#endif
