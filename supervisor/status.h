/* status.h: what handoff status prints: text for people, one JSON object for programs. */
#ifndef HANDOFF_STATUS_H
#define HANDOFF_STATUS_H

#include "control.h"

struct view;

/* The deployment: generations, processes, shares, guards, rolls. */
void status_text(const struct view *v, struct control_buf *b);
/* The same as one JSON object on one line (handoff(8), Protocol). */
void status_json(const struct view *v, struct control_buf *b);

#endif
