/* steer_state.h: the steering plan as JSON, written before an upgrade's exec
 * and read back by the new image, which compiles the same programs from it. */
#ifndef HANDOFF_STEER_STATE_H
#define HANDOFF_STEER_STATE_H

#include <jansson.h>
#include <stddef.h>

#include "steer.h"

/*
 * The object (part of the master's state document, whose version covers
 * it), struct steer_plan field by field:
 *
 *   {"r": [{"gen": 3, "share": 500, "serving": 1, "block": 2}, ...],
 *    "probe_lo": 23000, "probe_size": 125,
 *    "rot": [130, 3, 7, 0, 0, 0, 0, 0], "next_block": 3,
 *    "cidrs": [{"family": 2, "addr": [167837696, 0, 0, 0], "prefix": 16},
 *              ...]}
 *
 * r holds the routes in use, newest first (n is its length), cidrs the
 * networks in use (ncidrs); entries past them are not carried and read
 * back as zero. rot has one counter per probe block, all of them: a block
 * handed out again goes on from where it was. family is AF_INET or
 * AF_INET6 as numbers, addr the network's words in host order as
 * canary_cidr keeps them.
 *
 * The program attached to every steered group was compiled from this plan
 * and its members' order (listener_state.h carries the order): from both,
 * steer_compile gives the new image the same instructions, and
 * steer_plan_probe_port the same next ports.
 */

/* The object for p: a new reference, or NULL when out of memory. */
json_t *steer_state_write(const struct steer_plan *p);

/*
 * *p from o, every field checked first: gens nonzero and unique, shares
 * in 0..STEER_SHARE_ALL and together at most that, blocks in
 * 0..STEER_PROBE_BLOCKS-1 or -1 and unique (and -1 when there are no
 * probe ports), the probe blocks within ports 1..65535, networks of either
 * family with a prefix within its bits and no address bit past it.
 * Returns 0, or -EINVAL with the field at fault named in err
 * ("steering.r[1].share: 10001 is not one of 0..10000"); *p is then the
 * empty plan steer_plan_init(p, 0, 0) gives, nothing of o in it.
 */
int steer_state_read(const json_t *o, struct steer_plan *p, char *err,
                     size_t errlen);

#endif
