/* handle.c: allocate uv handles and free them in their close callback. */
#include "handle.h"

#include <stdlib.h>

static void
on_closed(uv_handle_t *h)
{
    free(h);
}

uv_timer_t *
handle_timer(uv_loop_t *loop, void *data)
{
    uv_timer_t *t = malloc(sizeof(*t));

    if (t == NULL)
        return NULL;
    uv_timer_init(loop, t);
    t->data = data;
    return t;
}

uv_poll_t *
handle_poll(uv_loop_t *loop, int fd, void *data)
{
    uv_poll_t *p = malloc(sizeof(*p));

    if (p == NULL)
        return NULL;
    if (uv_poll_init(loop, p, fd) < 0) {
        free(p);
        return NULL;
    }
    p->data = data;
    return p;
}

void
handle_close(void *h)
{
    uv_handle_t *handle = h;

    if (handle == NULL || uv_is_closing(handle))
        return;
    handle->data = NULL;
    uv_close(handle, on_closed);
}
