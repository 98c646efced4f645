/* epollset.c: which epoll sets a managed socket was added to, by fd number. */
#include <errno.h>
#include <stddef.h>

#include "epollset.h"

static struct epollset_entry *
find(const struct epollset *t, int ep, int fd)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].ep == ep && t->e[i].fd == fd)
            return &t->e[i];
    return NULL;
}

/* The set id of epoll fd ep, or 0 when the table has no entry for it. */
static unsigned
set_of(const struct epollset *t, int ep)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].ep == ep)
            return t->e[i].set;
    return 0;
}

static int
put(struct epollset *t, int ep, int fd, unsigned set, pid_t pid)
{
    if (t->n >= t->cap)
        return -ENOSPC;
    t->e[t->n++] = (struct epollset_entry){ep, fd, set, pid};
    return 0;
}

int
epollset_add(struct epollset *t, int ep, int fd, pid_t pid)
{
    unsigned set = set_of(t, ep);

    if (find(t, ep, fd) != NULL)
        return 0;
    if (set == 0) {
        set = ++t->next_set;
        if (set == 0) /* wrapped: 0 means none */
            set = ++t->next_set;
        return put(t, ep, fd, set, pid);
    }
    /* Every number naming the set holds it now. */
    for (int i = 0, n = t->n; i < n; i++) {
        int other = t->e[i].ep, rc;

        if (t->e[i].set == set && find(t, other, fd) == NULL &&
            (rc = put(t, other, fd, set, pid)) < 0)
            return rc;
    }
    return 0;
}

void
epollset_del(struct epollset *t, int ep, int fd)
{
    unsigned set = set_of(t, ep);

    for (int i = 0; set != 0 && i < t->n;)
        if (t->e[i].set == set && t->e[i].fd == fd)
            t->e[i] = t->e[--t->n];
        else
            i++;
}

int
epollset_holds(const struct epollset *t, int ep)
{
    return set_of(t, ep) != 0;
}

void
epollset_drop_fd(struct epollset *t, int fd, pid_t pid,
                 void (*del)(int ep, int fd))
{
    for (int i = 0; i < t->n;) {
        struct epollset_entry e = t->e[i];

        if (e.fd != fd) {
            i++;
            continue;
        }
        /* The other numbers of the set go with it: one removal is enough. */
        epollset_del(t, e.ep, fd);
        if (e.pid == pid && del != NULL)
            del(e.ep, fd);
        i = 0;
    }
}

void
epollset_drop_set(struct epollset *t, int ep)
{
    for (int i = 0; i < t->n;)
        if (t->e[i].ep == ep)
            t->e[i] = t->e[--t->n];
        else
            i++;
}

int
epollset_copy(struct epollset *t, int from, int to)
{
    if (from == to)
        return 0;
    epollset_drop_set(t, to);
    /* Entries put here land at the end: n as it was bounds the walk. */
    for (int i = 0, n = t->n; i < n; i++) {
        struct epollset_entry e = t->e[i];
        int rc;

        if (e.ep == from && (rc = put(t, to, e.fd, e.set, e.pid)) < 0)
            return rc;
    }
    return 0;
}
