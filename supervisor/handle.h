/* handle.h: uv handles allocated on their own, freed in their close callback. */
#ifndef HANDOFF_HANDLE_H
#define HANDOFF_HANDLE_H

#include <uv.h>

/*
 * handoff allocates each uv handle by itself rather than inside the object
 * that uses it, so that object can be freed at once: libuv may still touch
 * a handle until its close callback, and the handle outlives its owner
 * until then.
 */
uv_timer_t *handle_timer(uv_loop_t *loop, void *data);
uv_poll_t *handle_poll(uv_loop_t *loop, int fd, void *data);

/* Close h (NULL is fine) and free it once libuv is done with it. */
void handle_close(void *h);

#endif
