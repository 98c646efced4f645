/* epollset.c: which epoll sets a managed socket was added to, by fd number. */
#include <errno.h>
#include <stddef.h>

#include "epollset.h"

/* The set id the number ep names, or 0 when it names none known. */
static unsigned
set_of(const struct epollset *t, int ep)
{
    for (int i = 0; ep >= 0 && i < t->n; i++)
        if (t->e[i].ep == ep && t->e[i].fd < 0)
            return t->e[i].set;
    return 0;
}

/* A number naming set, or -1. */
static int
name_of(const struct epollset *t, unsigned set)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].fd < 0 && t->e[i].set == set)
            return t->e[i].ep;
    return -1;
}

/* The registration of fd in set, or -1. */
static int
reg_of(const struct epollset *t, unsigned set, int fd)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].ep < 0 && t->e[i].set == set && t->e[i].fd == fd)
            return i;
    return -1;
}

static int
put(struct epollset *t, int ep, int fd, unsigned set, pid_t pid)
{
    if (t->n >= t->cap)
        return -ENOSPC;
    t->e[t->n++] = (struct epollset_entry){ep, fd, set, pid};
    return 0;
}

/* Entry i goes: the last one takes its place. */
static void
drop(struct epollset *t, int i)
{
    t->e[i] = t->e[--t->n];
}

/* A name for ep, of a set never seen before. */
static int
name_new(struct epollset *t, int ep)
{
    unsigned set = ++t->next_set;

    if (set == 0) /* wrapped: 0 means none */
        set = ++t->next_set;
    return put(t, ep, -1, set, 0);
}

int
epollset_open(struct epollset *t, int ep)
{
    if (ep < 0)
        return 0;
    /* The number was closed behind the shim's back: it names this now. */
    epollset_drop_set(t, ep);
    return name_new(t, ep);
}

int
epollset_add(struct epollset *t, int ep, int fd, pid_t pid)
{
    unsigned set;
    int rc;

    if (ep < 0 || fd < 0)
        return 0;
    if ((set = set_of(t, ep)) == 0) {
        if ((rc = name_new(t, ep)) < 0)
            return rc;
        set = t->e[t->n - 1].set;
    }
    if (reg_of(t, set, fd) >= 0)
        return 0;
    return put(t, -1, fd, set, pid);
}

void
epollset_del(struct epollset *t, int ep, int fd)
{
    unsigned set = set_of(t, ep);
    int i;

    if (set != 0 && (i = reg_of(t, set, fd)) >= 0)
        drop(t, i);
}

int
epollset_holds(const struct epollset *t, int ep)
{
    unsigned set = set_of(t, ep);

    for (int i = 0; set != 0 && i < t->n; i++)
        if (t->e[i].ep < 0 && t->e[i].set == set)
            return 1;
    return 0;
}

void
epollset_drop_fd(struct epollset *t, int fd, pid_t pid,
                 void (*del)(int ep, int fd))
{
    for (int i = 0; fd >= 0 && i < t->n;) {
        struct epollset_entry e = t->e[i];
        int ep;

        if (e.ep >= 0 || e.fd != fd) {
            i++;
            continue;
        }
        drop(t, i); /* the last entry, now at i, is looked at next */
        if (e.pid == pid && del != NULL && (ep = name_of(t, e.set)) >= 0)
            del(ep, fd);
    }
}

void
epollset_drop_set(struct epollset *t, int ep)
{
    unsigned set = set_of(t, ep);

    if (set == 0)
        return;
    for (int i = 0; i < t->n; i++)
        if (t->e[i].ep == ep && t->e[i].fd < 0) {
            drop(t, i);
            break;
        }
    if (name_of(t, set) >= 0)
        return; /* the set lives on under another number */
    for (int i = 0; i < t->n;)
        if (t->e[i].set == set)
            drop(t, i);
        else
            i++;
}

void
epollset_drop_range(struct epollset *t, unsigned lo, unsigned hi)
{
    for (int i = 0; i < t->n;) {
        struct epollset_entry e = t->e[i];

        /* drop_set moves entries about: look again from the start. */
        if (e.ep >= 0 && e.fd < 0 && (unsigned)e.ep >= lo &&
            (unsigned)e.ep <= hi) {
            epollset_drop_set(t, e.ep);
            i = 0;
        } else {
            i++;
        }
    }
}

int
epollset_copy(struct epollset *t, int from, int to)
{
    unsigned set;

    if (from == to || to < 0)
        return 0;
    set = set_of(t, from);
    epollset_drop_set(t, to);
    return set != 0 ? put(t, to, -1, set, 0) : 0;
}
