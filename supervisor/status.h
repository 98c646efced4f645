/* status.h: what handoff status prints: text for people, one JSON object for programs. */
#ifndef HANDOFF_STATUS_H
#define HANDOFF_STATUS_H

#include "control.h"

struct master;

/* The last roll's outcome, as the control socket saw it end. */
struct status_last {
    int outcome; /* 0 none yet, 1 promoted, -1 failed */
    unsigned gen;
    unsigned long long ms;
    char reason[256];
};

/* The master's state: generations, processes, shares, guards, rolls. */
void status_text(const struct master *m, const struct status_last *last,
                 struct control_buf *b);
/* The same as one JSON object on one line (handoff(8), Protocol). */
void status_json(const struct master *m, const struct status_last *last,
                 struct control_buf *b);

#endif
