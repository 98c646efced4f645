/* traffic.h: which generation gets new connections: the master's side of steering. */
#ifndef HANDOFF_TRAFFIC_H
#define HANDOFF_TRAFFIC_H

#include "steer.h"

struct master;
struct gen;

/*
 * The master's plan (struct steer_plan in struct master) says which
 * generation gets what; these keep every steered listener's group in step
 * with it. Shared listeners need nothing: every generation holds the one
 * socket.
 */

/* A starting generation: its own socket on each steered listener of its
 * plan, reached by nothing but its probes. Returns 0 or -errno. */
int traffic_join(struct master *m, struct gen *g);

/* Every new connection to g: one program swap per group. A group that
 * refuses its program (-errno) leaves every group and the plan as before. */
int traffic_promote(struct master *m, struct gen *g);

/* A canary step: g gets bps of client addresses, old the rest, both
 * serving: one program swap per group; on a refusal, as traffic_promote. */
int traffic_share(struct master *m, struct gen *g, struct gen *old,
                  unsigned bps);

/* g is told to drain, and stops accepting: no group sends it a client any
 * more, not even one that no other generation of the active plan serves
 * (a listener a reload removed, where g was the default). */
void traffic_drained(struct master *m, struct gen *g);

/* g's processes are gone: its sockets leave their groups. */
void traffic_leave(struct master *m, struct gen *g);

/* Whether g's plan has a steered listener: g has sockets of its own. */
int traffic_steered(const struct gen *g);

/* Connections waiting in g's own accept queues. */
int traffic_queued(const struct gen *g);

/* The source port for g's next probe, 0 for any. */
unsigned traffic_probe_port(struct master *m, struct gen *g);

#endif
