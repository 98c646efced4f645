/* signals.h: what each signal to handoff does, and which are forwarded. */
#ifndef HANDOFF_SIGNALS_H
#define HANDOFF_SIGNALS_H

struct master;

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

/* Install a uv_signal handler for every signal with an action. */
int signals_start(struct master *m);
void signals_stop(struct master *m);

#endif
