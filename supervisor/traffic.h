/* traffic.h: which generation gets new connections: the master's side of
 * steering. */
#ifndef HANDOFF_TRAFFIC_H
#define HANDOFF_TRAFFIC_H

#include "steer.h"

struct plan;
struct gen;

/*
 * The master's steering plan (struct steer_plan) says which
 * generation gets what; these keep every steered listener's group in step
 * with it. Shared listeners need nothing: every generation holds the one
 * socket.
 */

#define TRAFFIC_MAX_PLANS 66

/* What traffic works on: the master's steering plan, and every plan still
 * in use (active, reloaded, each generation's; NULLs skipped), whose
 * steered listeners follow it. */
struct traffic {
    struct steer_plan *sp;
    size_t (*plans)(void *arg, struct plan **out, size_t cap);
    void *arg;
};

/* A starting generation: its own socket on each steered listener of its
 * plan, reached by nothing but its probes. Returns 0 or -errno. */
int traffic_join(struct traffic *t, struct gen *g);

/* Every new connection to g: one program swap per group. A group that
 * refuses its program (-errno) leaves every group and the plan as before. */
int traffic_promote(struct traffic *t, struct gen *g);

/* A canary step: g gets bps of client addresses, old the rest, both
 * serving: one program swap per group; on a refusal, as traffic_promote. */
int traffic_share(struct traffic *t, struct gen *g, struct gen *old,
                  unsigned bps);

/* g is told to drain, and stops accepting (unless handoff is stopping): no
 * group sends it a client any more, not even one that no other generation of
 * the active plan serves (a listener a reload removed, where g was the
 * default). */
void traffic_drained(struct traffic *t, struct gen *g, int stopping);

/* g's processes are gone: its sockets leave their groups. */
void traffic_leave(struct traffic *t, struct gen *g, int stopping);

/* Whether g's plan has a steered listener: g has sockets of its own. */
int traffic_steered(const struct gen *g);

/* Connections waiting in g's own accept queues. */
int traffic_queued(const struct gen *g);

/* g's QUIC cookie (HANDOFF_QUIC_COOKIE), or -1: its plan has no listener
 * with flows = quic, or sp no route of it. */
int traffic_cookie(const struct steer_plan *sp, const struct gen *g);

/* The source port for g's next probe, 0 for any. */
unsigned traffic_probe_port(struct traffic *t, struct gen *g);

#endif
