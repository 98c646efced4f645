/* shim.c: the LD_PRELOAD library: managed binds get the master's socket. */

/*
 * Preloaded into every worker with pass = shim. A bind() on an address the
 * master manages is answered by a GET over HANDOFF_FD: the master's socket
 * takes the place of the server's own (same fd number, same close-on-exec
 * flag), listen() on it succeeds without touching the shared queue, and
 * the first accept/poll/epoll_wait/select after every managed socket was
 * listened on reports READY. Any other bind() passes through untouched.
 *
 * libc only: this runs inside other programs. State lives in one static
 * struct; what forked children must not repeat (the readiness report)
 * lives in one shared anonymous page.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "protocol.h"

#define SHIM_MAX_FDS 1024
#define SHIM_MAX_WATCH 64

static struct {
    int chan; /* HANDOFF_FD, or -1 */
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*shutdown)(int, int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *,
                 const sigset_t *);
    int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
    int (*epoll_wait)(int, struct epoll_event *, int, int);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*close)(int);
    /* epoll sets a managed fd was added to: closing the fd removes it, or
     * the set would keep reporting a socket the master still holds open. */
    struct {
        int ep, fd;
    } watch[SHIM_MAX_WATCH];
    int nwatch;
    unsigned char managed[SHIM_MAX_FDS]; /* 1 bound, 2 listened */
    int nbound, nlistened;
    uint32_t next_id;
    volatile int *reported; /* shared with forked children */
} shim = {.chan = -1};

static int
managed(int fd)
{
    return fd >= 0 && fd < SHIM_MAX_FDS && shim.managed[fd];
}

static void
say(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

__attribute__((constructor)) static void
shim_init(void)
{
    const char *fd = getenv("HANDOFF_FD");
    int save = errno;

    shim.bind = dlsym(RTLD_NEXT, "bind");
    shim.listen = dlsym(RTLD_NEXT, "listen");
    shim.shutdown = dlsym(RTLD_NEXT, "shutdown");
    shim.accept = dlsym(RTLD_NEXT, "accept");
    shim.accept4 = dlsym(RTLD_NEXT, "accept4");
    shim.poll = dlsym(RTLD_NEXT, "poll");
    shim.ppoll = dlsym(RTLD_NEXT, "ppoll");
    shim.epoll_pwait = dlsym(RTLD_NEXT, "epoll_pwait");
    shim.epoll_wait = dlsym(RTLD_NEXT, "epoll_wait");
    shim.select = dlsym(RTLD_NEXT, "select");
    shim.epoll_ctl = dlsym(RTLD_NEXT, "epoll_ctl");
    shim.close = dlsym(RTLD_NEXT, "close");
    if (fd != NULL && *fd != '\0') {
        int n = atoi(fd);
        /* Only a socket of ours: an inherited number may mean nothing here. */
        int type = 0;
        socklen_t tl = sizeof(type);
        if (n > 2 && getsockopt(n, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
            type == SOCK_SEQPACKET)
            shim.chan = n;
    }
    shim.reported = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shim.reported == MAP_FAILED)
        shim.reported = NULL;
    errno = save;
}

/* One request, one reply, on the blocking control channel. */
static int
ask(int type, const struct proto_kv *kv, size_t nkv, struct proto_msg *reply,
    int *fd)
{
    char buf[PROTO_MAX_MSG];
    /* Forked siblings share the channel: the pid keeps their ids apart. */
    uint32_t id = ((uint32_t)getpid() << 10) ^ (++shim.next_id & 0x3ff);
    int n = proto_encode(buf, sizeof(buf), (uint16_t)type, id, kv, nkv);

    *fd = -1;
    if (n < 0)
        return n;
    if ((n = proto_send(shim.chan, buf, (size_t)n, -1)) < 0)
        return n;
    for (;;) {
        struct pollfd p = {.fd = shim.chan, .events = POLLIN};
        if (shim.poll(&p, 1, 10000) <= 0)
            return -ETIMEDOUT;
        n = proto_recv(shim.chan, buf, sizeof(buf), fd);
        if (n == -EAGAIN || n == -EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? -ECONNRESET : n;
        if (proto_decode(buf, (size_t)n, reply) < 0 || reply->hdr.id != id) {
            if (*fd >= 0)
                close(*fd);
            *fd = -1;
            continue; /* a reply meant for a sibling process */
        }
        return 0;
    }
}

static void
report_ready(void)
{
    char buf[PROTO_HDR_LEN + 16];
    int n, save = errno;

    /* On every accept/poll/epoll_wait of the server: cheap when done. */
    if (shim.chan < 0 || shim.nbound == 0 || shim.nlistened < shim.nbound ||
        (shim.reported != NULL && *shim.reported))
        return;
    if (shim.reported != NULL &&
        __sync_lock_test_and_set(shim.reported, 1) != 0)
        return;
    n = proto_encode(buf, sizeof(buf), PROTO_READY, 0, NULL, 0);
    if (n > 0)
        proto_send(shim.chan, buf, (size_t)n, -1);
    errno = save;
}

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    char text[ADDR_STRLEN];
    struct proto_kv kv[1];
    struct proto_msg reply;
    int type = 0, got, rc, flags, save = errno;
    socklen_t tl = sizeof(type);
    const char *e;

    if (shim.chan < 0 || fd < 0 || fd >= SHIM_MAX_FDS || sa == NULL ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 &&
         sa->sa_family != AF_UNIX) ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        type != SOCK_STREAM ||
        addr_format(sa, len, text, sizeof(text)) < 0)
        return shim.bind(fd, sa, len);
    kv[0] = (struct proto_kv){"address", text};
    rc = ask(PROTO_GET, kv, 1, &reply, &got);
    if (rc < 0) {
        say("handoff-shim: bind %s: the master did not answer (%s); "
            "refusing to bind a private socket\n", text, strerror(-rc));
        errno = ECONNREFUSED;
        return -1;
    }
    if (reply.hdr.type == PROTO_ERROR) {
        e = proto_get(&reply, "errno");
        if (e != NULL && atoi(e) == ENOENT) {
            errno = save;
            return shim.bind(fd, sa, len); /* not managed: the server's own */
        }
        say("handoff-shim: bind %s: refused: %s\n", text,
            proto_get(&reply, "message") ? proto_get(&reply, "message") : "?");
        errno = e ? atoi(e) : EPROTO;
        return -1;
    }
    if (reply.hdr.type != PROTO_SOCKET || got < 0) {
        if (got >= 0)
            close(got);
        errno = EPROTO;
        return -1;
    }
    /* The master's socket takes the server's fd number and cloexec flag. */
    flags = fcntl(fd, F_GETFD);
    rc = dup3(got, fd, flags >= 0 && (flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
    close(got);
    if (rc < 0)
        return -1;
    if (!shim.managed[fd])
        shim.nbound++;
    shim.managed[fd] = 1;
    errno = save;
    return 0;
}

int
listen(int fd, int backlog)
{
    if (managed(fd)) {
        /* Listening already, for every generation: a second listen() would
         * only change the shared backlog. */
        if (shim.managed[fd] == 1) {
            shim.managed[fd] = 2;
            shim.nlistened++;
        }
        return 0;
    }
    return shim.listen(fd, backlog);
}

static void unmanage(int fd);

int
shutdown(int fd, int how)
{
    if (managed(fd)) {
        /* shutdown() of a listening socket resets the queue of every
         * process sharing it: drop only this process's copy instead, and
         * keep the number valid with a fresh socket that listens nowhere. */
        int blank = socket(AF_INET, SOCK_STREAM, 0);
        unmanage(fd);
        if (blank >= 0) {
            dup2(blank, fd);
            shim.close(blank);
        }
        return 0;
    }
    return shim.shutdown(fd, how);
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    report_ready();
    return shim.accept(fd, sa, len);
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    report_ready();
    return shim.accept4(fd, sa, len, flags);
}

int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
    report_ready();
    return shim.poll(fds, n, timeout);
}

int
epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
    report_ready();
    return shim.epoll_wait(ep, ev, max, timeout);
}

int
select(int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *t)
{
    report_ready();
    return shim.select(n, r, w, x, t);
}

int
ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t,
      const sigset_t *mask)
{
    report_ready();
    return shim.ppoll(fds, n, t, mask);
}

int
epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout,
            const sigset_t *mask)
{
    report_ready();
    return shim.epoll_pwait(ep, ev, max, timeout, mask);
}

int
epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
    int rc = shim.epoll_ctl(ep, op, fd, ev);

    if (rc == 0 && managed(fd)) {
        int i;
        for (i = 0; i < shim.nwatch; i++)
            if (shim.watch[i].ep == ep && shim.watch[i].fd == fd)
                break;
        if (op == EPOLL_CTL_ADD && i == shim.nwatch &&
            shim.nwatch < SHIM_MAX_WATCH) {
            shim.watch[shim.nwatch].ep = ep;
            shim.watch[shim.nwatch].fd = fd;
            shim.nwatch++;
        } else if (op == EPOLL_CTL_DEL && i < shim.nwatch) {
            shim.watch[i] = shim.watch[--shim.nwatch];
        }
    }
    return rc;
}

/* This process lets go of managed fd: out of its epoll sets, uncounted. */
static void
unmanage(int fd)
{
    int save = errno;

    for (int i = 0; i < shim.nwatch;) {
        if (shim.watch[i].fd == fd) {
            shim.epoll_ctl(shim.watch[i].ep, EPOLL_CTL_DEL, fd, NULL);
            shim.watch[i] = shim.watch[--shim.nwatch];
        } else {
            i++;
        }
    }
    if (shim.managed[fd] == 2)
        shim.nlistened--;
    shim.nbound--;
    shim.managed[fd] = 0;
    errno = save;
}

int
close(int fd)
{
    if (managed(fd)) {
        unmanage(fd);
    } else {
        /* An epoll fd closing takes its registrations with it. */
        for (int i = 0; i < shim.nwatch;)
            if (shim.watch[i].ep == fd)
                shim.watch[i] = shim.watch[--shim.nwatch];
            else
                i++;
    }
    return shim.close(fd);
}
