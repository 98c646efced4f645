/* worker.h: start one worker process with its sockets, channel and env. */
#ifndef HANDOFF_WORKER_H
#define HANDOFF_WORKER_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "channel.h"
#include "generation.h"
#include "plan.h"
#include "readiness.h"
#include "reap.h"

struct remnant;
struct steer_plan;

/*
 * What workers start with and report to, filled once by their owner: the
 * loop, what watches them, and a callback for their exits. Their module
 * reaches nothing else of the owner's.
 */
struct worker_ctx {
    uv_loop_t *loop;
    struct reaper *reaper;                 /* reports their exits */
    const struct channel_ctx *channels;    /* for their control channels */
    const struct readiness_ctx *readiness; /* for their readiness checks */
    const char *notify_path;               /* their NOTIFY_SOCKET */
    const char *shim_path;                 /* LD_PRELOAD for pass = shim */
    /* w's main process exited with status: logged (desc says how, as
     * reap_describe does), w is W_EXITED and out of its slot; the callee
     * frees it (worker_free). */
    void (*exited)(void *ctx, struct worker *w, int status, const char *desc);
    /* Whether handoff is stopping; if so, its stop_timeout in *stop_ms (by
     * which what is left of an exited worker's group is killed). */
    int (*stopping)(void *ctx, uint64_t *stop_ms);
    void *ctx;
    struct remnant *remnants; /* exited workers' groups left (worker.c) */
    const struct steer_plan *sp; /* the steering plan: QUIC cookies */
};

/*
 * Start a worker in slot of g: fds and variables for g's pass mode, a
 * control channel, NOTIFY_SOCKET, then its readiness check. Returns 0, or
 * -errno when fork or exec failed (the worker, if forked, is still
 * registered and its exit is reported as usual, through wc->exited).
 */
int worker_start(struct worker_ctx *wc, struct gen *g, size_t slot);

/*
 * After handoff upgrade: w, a process of the earlier image (its pid, slot,
 * times and channel filled in: worker_state.c), is g's again and its exit
 * reported as any worker's; one still starting is checked for readiness
 * again (readiness_resume). -EEXIST: its slot is taken or out of g.
 */
int worker_adopt(struct worker_ctx *wc, struct gen *g, struct worker *w);

/*
 * Send sig to a running worker's process group: its drain (then SIGCONT,
 * so that a stopped process acts on it) or SIGKILL. Returns 0 or -errno.
 */
int worker_kill(struct worker *w, int sig);

/* Send sig to the worker's main process alone (a forwarded signal). */
int worker_signal(struct worker *w, int sig);

/* Forget what is left of exited workers' groups (at the owner's end). */
void worker_remnants_close(struct worker_ctx *wc);
/*
 * The process groups of exited workers still being ended, as an upgrade
 * carries them: [{"pgid": 812, "gen": 3, "deadline_ns": 81234567890}]
 * (CLOCK_MONOTONIC, which the exec does not reset), and taken back in the
 * image it starts, each killed at the same deadline (a group already gone
 * is passed over). adopt: 0, or -EINVAL with the entry at fault in err.
 */
json_t *worker_remnants_write(const struct worker_ctx *wc);
int worker_remnants_adopt(struct worker_ctx *wc, const json_t *a, char *err,
                          size_t len);

/*
 * Read what the worker's exec came to, if not known yet: log spawn (and,
 * unless it has exited, start watching its readiness) or exec_failed.
 */
void worker_exec_report(struct worker *w, int exited);

/* Why the worker's command could not be run, for roll_failed ("the shim
 * PATH is not readable by user U (Permission denied)"); "" if it ran. */
void worker_exec_error(const struct worker *w, char *buf, size_t size);

/*
 * Release what a worker holds once it has exited. What is left of its
 * process group (its own children) is drained if it was not, and killed
 * at the deadline the worker had.
 */
void worker_free(struct worker *w);

/* Build the environment for a worker (exposed for the tests). The entries
 * "LISTEN_PID=" and "WATCHDOG_PID=" that spawn completes with the child's
 * pid are at *listen_pid_index and *watchdog_pid_index (-1: none). */
char **worker_env(char **base, const struct plan *p, unsigned gen_id,
                  int quic_cookie, const char *notify_path, int chan_fd,
                  const char *preload, int *listen_pid_index,
                  int *watchdog_pid_index);

/* The shim library: next to a build-tree handoff, else in pkglibdir. */
int worker_find_shim(char *path, size_t size);
void worker_env_free(char **env);

/* The worker pid is, or descends from (a pre-forking server's child), among
 * the generations gens; NULL if none. */
struct worker *worker_of_pid(struct gen *gens, pid_t pid);

/* Ask one worker to finish its requests and exit (sig: drain_signal),
 * logged with the time it was sent. */
void worker_drain(struct worker *w, int sig);

/* SIGKILL to every process of g, logged with why. */
void worker_kill_all(struct gen *g, const char *why);

/* Whether w, of a shim generation, never asked for a socket. */
int worker_never_asked(const struct worker *w);

/* What a roll's reason adds to "worker exited before it was ready": why
 * its command could not be run, that it bypasses the shim, or (beside: a
 * generation serves) that it refuses to run beside the old one. */
void worker_exit_hint(const struct worker *w, int status, int beside, char *buf,
                      size_t size);

/* Say at once when the shim cannot reach g's command (reach.h). */
void worker_check_reach(struct gen *g);

#endif
