/* shim.c: the LD_PRELOAD library: managed binds get the master's socket. */

/*
 * Preloaded into every worker with pass = shim. A bind() on an address the
 * master manages is answered by a GET over HANDOFF_FD: the master's socket
 * takes the place of the server's own (same fd number, same close-on-exec
 * flag), listen() on it succeeds without touching the shared queue, and
 * the first accept/poll/epoll_wait/select on a managed socket after every
 * one was listened on reports READY. Any other bind() passes through
 * untouched.
 * The real functions are looked up on the first call of any wrapper, which
 * may come before this library's constructor runs.
 *
 * The shared socket is one open file: what one process does to it, every
 * generation sees. So the shim keeps a process's changes to itself: a
 * second listen(), shutdown(), connect(AF_UNSPEC), setsockopt() and the
 * O_NONBLOCK flag are per process here (the real socket stays
 * non-blocking; a process that wants it blocking gets a blocking
 * accept()), and close() takes the socket out of the process's epoll sets.
 *
 * libc only: this runs inside other programs. State lives in one static
 * struct; what forked children must not repeat (the readiness report)
 * lives in one shared anonymous page.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "client.h"
#include "epollset.h"
#include "protocol.h"
#include "sockopt.h"

#define SHIM_ASK_MS 10000
/* Unix socket files of managed binds this process keeps (see unlink()). */
#define SHIM_PATHS 16
/* How often a blocked accept() looks whether its socket was let go. */
#define SHIM_WAKE_MS 100

/* What this process did with a managed fd. */
enum {
    M_BOUND = 1,
    M_LISTENED = 2,
    M_NONBLOCK = 4, /* the process believes the socket is non-blocking */
    M_COPY = 8,     /* made by dup(): not counted for readiness */
    M_DGRAM = 16,   /* a UDP socket: no accept, its options set for real */
};

/* The managed table: bits per fd number, cap numbers. */
struct fdtab {
    int cap;
    unsigned char bits[];
};

static struct {
    int chan;    /* HANDOFF_FD, or -1 */
    int retired; /* the number chan had before the server closed it, or -1 */
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*shutdown)(int, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
                        socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    int (*recvmmsg)(int, struct mmsghdr *, unsigned, int, struct timespec *);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *,
                 const sigset_t *);
    int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
    int (*epoll_wait)(int, struct epoll_event *, int, int);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*epoll_create)(int);
    int (*epoll_create1)(int);
    int (*close)(int);
    int (*close_range)(unsigned, unsigned, int);
    void (*closefrom)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*dup)(int);
    int (*fcntl)(int, int, ...);
    int (*fcntl64)(int, int, ...);
    int (*ioctl)(int, unsigned long, ...);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*unlink)(const char *);
    int (*unlinkat)(int, const char *, int);
    /* The socket files of this process's managed unix binds, by inode, so
     * that unlink() knows them without asking (with the channel closed,
     * too). Under lock. */
    struct {
        dev_t dev;
        ino_t ino;
    } paths[SHIM_PATHS];
    int npaths;
    /* epoll sets a managed fd was added to: closing the fd removes it, or
     * the set would keep reporting a socket the master still holds open;
     * and a wait on such a set is the serving loop (see epollset.h). */
    struct epollset eps;
    struct fdtab *fds; /* M_* bits by fd; 0 or beyond cap: not managed */
    int nbound, nlistened;
    unsigned letgo; /* how many times let_go() ran: blocked accepts look */
    struct sockopt_table opts;
    uint32_t next_id;
    volatile int *reported; /* shared with forked children */
    int init;               /* 0: not yet, 1: under way, 2: done */
    pid_t owner;  /* whose tables these are: a vfork child shares them */
    int lock;     /* the tables and counters above; see lock_take() */
    int chanlock; /* one request and its reply on chan at a time */
    sigset_t forkmask; /* the forking thread's mask, under lock */
} shim = {.chan = -1, .retired = -1};

/*
 * Threads share everything above. Two spinlocks guard it: lock for the
 * tables and counters (held for a few system calls at most), chanlock for
 * a request on the channel and its reply (held until the master answers:
 * a thread that read another's reply would drop it). Every signal is
 * blocked while either is held, so a signal handler that calls close() or
 * bind() never waits for a lock its own thread holds; on other threads it
 * waits a moment, as for any lock. A pthread mutex could not give that:
 * it may not be taken in a handler. Waiters yield, then sleep: chanlock
 * can be held for as long as the master takes to answer.
 */
static void
lock_take(int *l, sigset_t *old)
{
    sigset_t all;
    int spins = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) != 0) {
        if (++spins < 100) {
            sched_yield();
        } else {
            struct timespec ts = {0, 200 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void
lock_drop(int *l, const sigset_t *old)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * fork() while another thread holds a lock would leave the child's copy
 * held forever. The tables are taken across the fork, so the child gets
 * them whole; the channel lock is simply freed in the child, where the
 * thread that held it does not exist (its reply, if it comes, is the
 * parent's).
 */
static void
fork_prepare(void)
{
    sigset_t old;

    lock_take(&shim.lock, &old);
    shim.forkmask = old;
}

static void
fork_parent(void)
{
    sigset_t old = shim.forkmask;

    lock_drop(&shim.lock, &old);
}

static void
fork_child(void)
{
    sigset_t old = shim.forkmask;

    __atomic_store_n(&shim.chanlock, 0, __ATOMIC_RELEASE);
    shim.owner = getpid();
    lock_drop(&shim.lock, &old);
}

/*
 * The tables grow as the server needs: fd numbers have no fixed bound, nor
 * have epoll sets or options. Growth maps fresh anonymous memory rather
 * than calling malloc: the wrappers run inside the server's own calls,
 * some from signal handlers or while its allocator is locked (a server's
 * malloc may itself close or poll), and mmap is a plain system call.
 * Returns the new memory holding the old contents, or NULL.
 */
static void *
grow(const void *old, size_t oldsize, size_t newsize)
{
    void *p = mmap(NULL, newsize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    if (old != NULL)
        memcpy(p, old, oldsize);
    return p;
}

/*
 * fd's bits in the managed table, grown to hold it; NULL when memory runs
 * out. Called with the lock held. An outgrown table is never unmapped:
 * managed() reads it without the lock and may still hold the old pointer.
 */
static unsigned char *
fdslot(int fd)
{
    struct fdtab *t = shim.fds, *n;
    size_t cap = t != NULL ? (size_t)t->cap : 0, want = 1024;

    if (fd < 0)
        return NULL;
    if ((size_t)fd < cap)
        return &t->bits[fd];
    while (want <= (size_t)fd)
        want *= 2;
    if ((n = grow(t, sizeof(*t) + cap, sizeof(*n) + want)) == NULL)
        return NULL;
    n->cap = (int)want;
    __atomic_store_n(&shim.fds, n, __ATOMIC_RELEASE);
    return &n->bits[fd];
}

/* Without the lock: a byte read is atomic, and a thread racing close()
 * against its own use of the fd has a bug of its own. Changes take it. */
static unsigned char
fdbits(int fd)
{
    struct fdtab *t = __atomic_load_n(&shim.fds, __ATOMIC_ACQUIRE);

    if (t == NULL || fd < 0 || fd >= t->cap)
        return 0;
    return __atomic_load_n(&t->bits[fd], __ATOMIC_RELAXED);
}

static int
managed(int fd)
{
    return fdbits(fd) != 0;
}

/* fd's bits, for a managed fd, with the lock held. */
#define BITS(fd) (shim.fds->bits[fd])

static void unmanage(int fd);
static void copy_fd(int old, int new);
static int tracked(int fd);

/* Twice the room for epoll registrations; -1 when memory runs out. Called
 * with the lock held. */
static int
eps_grow(void)
{
    struct epollset_entry *n;
    int cap = shim.eps.cap > 0 ? shim.eps.cap * 2 : 64;

    n = grow(shim.eps.e, sizeof(*n) * (size_t)shim.eps.cap,
             sizeof(*n) * (size_t)cap);
    if (n == NULL)
        return -1;
    if (shim.eps.e != NULL)
        munmap(shim.eps.e, sizeof(*n) * (size_t)shim.eps.cap);
    shim.eps.e = n;
    shim.eps.cap = cap;
    return 0;
}

/* Twice the room for options; -1 when memory runs out. Lock held. */
static int
opts_grow(void)
{
    struct sockopt_entry *n;
    int cap = shim.opts.cap > 0 ? shim.opts.cap * 2 : 32;

    n = grow(shim.opts.e, sizeof(*n) * (size_t)shim.opts.cap,
             sizeof(*n) * (size_t)cap);
    if (n == NULL)
        return -1;
    if (shim.opts.e != NULL)
        munmap(shim.opts.e, sizeof(*n) * (size_t)shim.opts.cap);
    shim.opts.e = n;
    shim.opts.cap = cap;
    return 0;
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

/* The real functions, the channel and the shared page. */
static void
shim_setup(void)
{
    const char *fd = getenv("HANDOFF_FD");

    shim.bind = dlsym(RTLD_NEXT, "bind");
    shim.listen = dlsym(RTLD_NEXT, "listen");
    shim.shutdown = dlsym(RTLD_NEXT, "shutdown");
    shim.connect = dlsym(RTLD_NEXT, "connect");
    shim.accept4 = dlsym(RTLD_NEXT, "accept4");
    shim.recvfrom = dlsym(RTLD_NEXT, "recvfrom");
    shim.recvmsg = dlsym(RTLD_NEXT, "recvmsg");
    shim.recvmmsg = dlsym(RTLD_NEXT, "recvmmsg");
    shim.poll = dlsym(RTLD_NEXT, "poll");
    shim.ppoll = dlsym(RTLD_NEXT, "ppoll");
    shim.epoll_pwait = dlsym(RTLD_NEXT, "epoll_pwait");
    shim.epoll_wait = dlsym(RTLD_NEXT, "epoll_wait");
    shim.select = dlsym(RTLD_NEXT, "select");
    shim.epoll_ctl = dlsym(RTLD_NEXT, "epoll_ctl");
    shim.epoll_create = dlsym(RTLD_NEXT, "epoll_create");
    shim.epoll_create1 = dlsym(RTLD_NEXT, "epoll_create1");
    shim.close = dlsym(RTLD_NEXT, "close");
    shim.close_range = dlsym(RTLD_NEXT, "close_range");
    shim.closefrom = dlsym(RTLD_NEXT, "closefrom");
    shim.dup2 = dlsym(RTLD_NEXT, "dup2");
    shim.dup3 = dlsym(RTLD_NEXT, "dup3");
    shim.dup = dlsym(RTLD_NEXT, "dup");
    shim.fcntl = dlsym(RTLD_NEXT, "fcntl");
    shim.fcntl64 = dlsym(RTLD_NEXT, "fcntl64");
    if (shim.fcntl64 == NULL)
        shim.fcntl64 = shim.fcntl;
    shim.ioctl = dlsym(RTLD_NEXT, "ioctl");
    shim.setsockopt = dlsym(RTLD_NEXT, "setsockopt");
    shim.getsockopt = dlsym(RTLD_NEXT, "getsockopt");
    shim.unlink = dlsym(RTLD_NEXT, "unlink");
    shim.unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    if (fd != NULL && *fd != '\0') {
        int n = atoi(fd);
        /* Only a socket of ours: an inherited number may mean nothing here. */
        int type = 0;
        socklen_t tl = sizeof(type);
        if (n > 2 && shim.getsockopt(n, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
            type == SOCK_SEQPACKET)
            shim.chan = n;
    }
    shim.reported = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shim.reported == MAP_FAILED)
        shim.reported = NULL;
    shim.owner = getpid();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/*
 * Set up once, on the first call of any wrapper or in the constructor,
 * whichever comes first: the constructor of a library the server depends
 * on runs before this one's and may already call close() or bind(), and a
 * wrapper with no real function to call would crash. Signals stay blocked
 * while it runs, so a handler calling close() cannot wait for a setup that
 * its own thread is in the middle of.
 */
static void
shim_init(void)
{
    int save = errno, expect = 0;
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (__atomic_compare_exchange_n(&shim.init, &expect, 1, 0,
                                    __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
        shim_setup();
        __atomic_store_n(&shim.init, 2, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&shim.init, __ATOMIC_ACQUIRE) != 2)
            sched_yield();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = save;
}

/* At the top of every wrapper: one load once set up. */
#define SHIM_READY()                                                           \
    do {                                                                       \
        if (__atomic_load_n(&shim.init, __ATOMIC_ACQUIRE) != 2)                \
            shim_init();                                                       \
    } while (0)

__attribute__((constructor)) static void
shim_constructor(void)
{
    SHIM_READY();
}

/* Whether READY is still to be sent: every managed socket bound was
 * listened on, and no process of the worker has reported. On every
 * accept/poll/epoll_wait of the server: cheap, and false for good once
 * sent. */
static int
ready_due(void)
{
    return __atomic_load_n(&shim.chan, __ATOMIC_ACQUIRE) >= 0 &&
           __atomic_load_n(&shim.nbound, __ATOMIC_ACQUIRE) > 0 &&
           __atomic_load_n(&shim.nlistened, __ATOMIC_ACQUIRE) >=
               __atomic_load_n(&shim.nbound, __ATOMIC_ACQUIRE) &&
           !(shim.reported != NULL && *shim.reported);
}

/* One packet needs no lock: a SEQPACKET send is whole or nothing. */
static void
report_ready(void)
{
    char buf[PROTO_HDR_LEN + 16];
    int n, save = errno, chan = __atomic_load_n(&shim.chan, __ATOMIC_ACQUIRE);

    if (!ready_due())
        return;
    if (shim.reported != NULL &&
        __sync_lock_test_and_set(shim.reported, 1) != 0)
        return;
    n = proto_encode(buf, sizeof(buf), PROTO_READY, 0, NULL, 0);
    if (n > 0)
        proto_send(chan, buf, (size_t)n, -1);
    errno = save;
}

/*
 * bind() once the server closed the channel: the master cannot be asked,
 * so the C library's bind() decides. A managed address then fails with
 * EADDRINUSE, since the master holds it: say why.
 */
static int
bind_unasked(int fd, const struct sockaddr *sa, socklen_t len)
{
    char text[ADDR_STRLEN];
    int rc = shim.bind(fd, sa, len), err = errno;

    if (rc < 0 && err == EADDRINUSE && sa != NULL &&
        addr_format(sa, len, text, sizeof(text)) == 0)
        say("handoff-shim: bind %s: %s; the control channel (HANDOFF_FD=%d) "
            "was closed, so the master could not lend its socket\n",
            text, strerror(err), shim.retired);
    errno = err;
    return rc;
}

/* The server closed the channel's fd or put another file at its number:
 * whatever has that number now is not the master. */
static void
retire_chan(int fd)
{
    int chan = fd;

    /* Noted first: a bind that sees no channel looks for the reason. */
    shim.retired = fd;
    __atomic_compare_exchange_n(&shim.chan, &chan, -1, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_RELAXED);
}

/*
 * Whether a close of the channel by the server should leave it open: before
 * the first managed bind, the server is closing what it inherited, as
 * daemons do at start (dnsmasq closes every fd it finds in /proc/self/fd),
 * and would then ask for nothing. The channel stays at its number, closed
 * on exec as a closed fd would be; the number stays taken, which a server
 * cannot tell from a number it never had. After a bind, a close retires
 * the channel (retire_chan).
 */
static int
keep_chan(int chan)
{
    int fl;

    if (__atomic_load_n(&shim.nbound, __ATOMIC_ACQUIRE) > 0 ||
        getpid() != shim.owner)
        return 0;
    fl = shim.fcntl(chan, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC))
        shim.fcntl(chan, F_SETFD, fl | FD_CLOEXEC);
    return fl >= 0;
}

/*
 * The server's own socket goes when the master's takes its number: what it
 * set on it before bind() that accepted connections inherit (TCP_NODELAY,
 * SO_KEEPALIVE...) is recorded for fd, so that accept() applies it to them
 * as the kernel would have. Listener-only options are lost (see
 * handoff-shim(7)). Called with the lock held.
 */
static void
carry_options(int fd, int family)
{
    int fresh = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    while ((rc = sockopt_carry(&shim.opts, fd, fd, fresh, shim.getsockopt)) ==
               -ENOSPC &&
           opts_grow() == 0)
        ;
    if (rc < 0)
        say("handoff-shim: no memory for the options set on fd %d before "
            "bind(); accepted connections will not have them\n", fd);
    if (fresh >= 0)
        shim.close(fresh);
}

/*
 * The same for a UDP socket: what the server set on its own goes to the
 * master's (got) for real, since datagrams are read from it directly
 * (see sockopt.h). Called with the lock held.
 */
static void
carry_dgram_options(int fd, int got, int family)
{
    int fresh = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    sockopt_dgram_carry(fd, got, fresh, shim.getsockopt, shim.setsockopt);
    if (fresh >= 0)
        shim.close(fresh);
}

/*
 * This process is the server: it was lent a socket. The programs it runs
 * from now on (CGI scripts, shell-outs) must not reach the master and ask
 * for the listeners, so the channel closes on exec; forked children keep
 * it. Not earlier: a wrapper (sh -c 'exec server') that never binds passes
 * the channel on to the server it execs.
 */
static void
seal_chan(int chan)
{
    int fl = shim.fcntl(chan, F_GETFD);

    if (fl >= 0 && !(fl & FD_CLOEXEC))
        shim.fcntl(chan, F_SETFD, fl | FD_CLOEXEC);
}

/* A managed unix bind: remember its file. Called with the lock held. */
static void
note_path(const struct sockaddr_un *sun, socklen_t len)
{
    char path[sizeof(sun->sun_path) + 1];
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path)
                   : 0;
    struct stat st;

    if (n == 0 || sun->sun_path[0] == '\0' || shim.npaths >= SHIM_PATHS)
        return;
    memcpy(path, sun->sun_path, n < sizeof(sun->sun_path) ? n : sizeof(sun->sun_path));
    path[n < sizeof(sun->sun_path) ? n : sizeof(sun->sun_path)] = '\0';
    if (stat(path, &st) < 0)
        return;
    for (int i = 0; i < shim.npaths; i++)
        if (shim.paths[i].dev == st.st_dev && shim.paths[i].ino == st.st_ino)
            return;
    shim.paths[shim.npaths].dev = st.st_dev;
    shim.paths[shim.npaths].ino = st.st_ino;
    shim.npaths++;
}

/*
 * Whether this process holds a managed UDP socket, other than fd, of the
 * address sa names (as the master matches it): a server that binds once
 * per thread asks for another socket of its generation's (more=1), so
 * that each thread reads its own. Without the lock, as managed() reads.
 */
static int
holds_dgram(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct fdtab *t = __atomic_load_n(&shim.fds, __ATOMIC_ACQUIRE);
    struct addr a;

    for (int i = 0; t != NULL && i < t->cap; i++) {
        if (i == fd ||
            !(__atomic_load_n(&t->bits[i], __ATOMIC_RELAXED) & M_DGRAM))
            continue;
        memset(&a, 0, sizeof(a));
        a.len = sizeof(a.ss);
        if (getsockname(i, (struct sockaddr *)&a.ss, &a.len) == 0 &&
            addr_match(&a, sa, len))
            return 1;
    }
    return 0;
}

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
    char buf[ADDR_STRLEN + 4], *text = buf + 4;
    struct proto_kv kv[2];
    struct proto_msg reply;
    int type = 0, got, rc, err, fdflags, flflags, chan, more, save = errno;
    socklen_t tl = sizeof(type);
    /* Forked siblings share the channel: the pid keeps their ids apart. */
    uint32_t id;
    sigset_t old;

    SHIM_READY();
    chan = __atomic_load_n(&shim.chan, __ATOMIC_ACQUIRE);
    if (chan < 0 && shim.retired >= 0)
        return bind_unasked(fd, sa, len);
    if (chan < 0 || fd < 0 || sa == NULL ||
        (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 &&
         sa->sa_family != AF_UNIX) ||
        shim.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        (type != SOCK_STREAM &&
         (type != SOCK_DGRAM || sa->sa_family == AF_UNIX)) ||
        addr_format(sa, len, text, ADDR_STRLEN) < 0 ||
        addr_port_zero(sa, len)) /* private: no need to ask (a resolver
                                    binds one per upstream query) */
        return shim.bind(fd, sa, len);
    if (type == SOCK_DGRAM)
        memcpy(text -= 4, "udp:", 4); /* the master's name for it */
    kv[0] = (struct proto_kv){"address", text};
    kv[1] = (struct proto_kv){"more", "1"}; /* sent only when it applies */
    more = type == SOCK_DGRAM && holds_dgram(fd, sa, len);
    lock_take(&shim.chanlock, &old);
    id = ((uint32_t)getpid() << 10) ^ (++shim.next_id & 0x3ff);
    rc = client_ask(chan, shim.poll, SHIM_ASK_MS, PROTO_GET, id, kv,
                    more ? 2 : 1, &reply, &got);
    lock_drop(&shim.chanlock, &old);
    switch (client_verdict(rc, &reply, got, &err)) {
    case CLIENT_PASS:
        errno = save;
        return shim.bind(fd, sa, len); /* not managed: the server's own */
    case CLIENT_FAIL:
        if (rc < 0)
            say("handoff-shim: bind %s: the master did not answer (%s); "
                "refusing to bind a private socket\n", text, strerror(-rc));
        else
            say("handoff-shim: bind %s: refused: %s\n", text,
                proto_get(&reply, "message") ? proto_get(&reply, "message")
                                             : strerror(err));
        errno = err;
        return -1;
    case CLIENT_SOCKET:
        break;
    }
    seal_chan(chan);
    /* The master's socket takes the server's fd number and cloexec flag;
     * the server's blocking mode becomes this process's view of it. */
    fdflags = shim.fcntl(fd, F_GETFD);
    flflags = shim.fcntl(fd, F_GETFL);
    lock_take(&shim.lock, &old);
    if (fdslot(fd) == NULL) {
        lock_drop(&shim.lock, &old);
        shim.close(got);
        say("handoff-shim: bind %s: no memory to note fd %d as managed\n",
            text, fd);
        errno = ENOMEM;
        return -1;
    }
    /* A copy no longer, counted from now on: its epoll registrations go
     * while the fd still names the file they were made for. */
    if (BITS(fd) & M_COPY)
        unmanage(fd);
    if (type == SOCK_DGRAM)
        carry_dgram_options(fd, got, sa->sa_family);
    else
        carry_options(fd, sa->sa_family);
    rc = shim.dup3(got, fd, fdflags >= 0 && (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0);
    if (rc >= 0) {
        int fl = shim.fcntl(fd, F_GETFL),
            nb = flflags >= 0 && (flflags & O_NONBLOCK);
        /* A listener is non-blocking for real, so no process can block
         * another's accept. A UDP socket is read as the server set it: a
         * datagram goes to one reader, blocked or not, and the socket is
         * its generation's alone. */
        if (fl >= 0 && type == SOCK_DGRAM && !nb != !(fl & O_NONBLOCK))
            shim.fcntl(fd, F_SETFL, nb ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
        else if (fl >= 0 && type != SOCK_DGRAM && !(fl & O_NONBLOCK))
            shim.fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        if (BITS(fd) == 0)
            __atomic_add_fetch(&shim.nbound, 1, __ATOMIC_RELEASE);
        /* A UDP socket receives once bound: the wait that follows is the
         * serving loop's (ready = listen). */
        if (type == SOCK_DGRAM && !(BITS(fd) & M_LISTENED))
            __atomic_add_fetch(&shim.nlistened, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&BITS(fd),
                         M_BOUND | (nb ? M_NONBLOCK : 0) |
                             (type == SOCK_DGRAM ? M_DGRAM | M_LISTENED : 0),
                         __ATOMIC_RELEASE);
    } else {
        sockopt_forget(&shim.opts, fd); /* still the server's own socket */
    }
    if (rc >= 0 && sa->sa_family == AF_UNIX)
        note_path((const struct sockaddr_un *)sa, len);
    lock_drop(&shim.lock, &old);
    err = errno;
    shim.close(got);
    if (rc < 0) {
        errno = err;
        return -1;
    }
    errno = save;
    return 0;
}

int
listen(int fd, int backlog)
{
    SHIM_READY();
    if (managed(fd) && !(fdbits(fd) & M_DGRAM)) {
        sigset_t old;

        /* Listening already, for every generation: a second listen() would
         * only change the shared backlog. */
        lock_take(&shim.lock, &old);
        if (managed(fd) && !(BITS(fd) & M_LISTENED)) {
            BITS(fd) |= M_LISTENED;
            if (!(BITS(fd) & M_COPY))
                __atomic_add_fetch(&shim.nlistened, 1, __ATOMIC_RELEASE);
        }
        lock_drop(&shim.lock, &old);
        return 0;
    }
    return shim.listen(fd, backlog);
}


/*
 * Drop this process's copy of a managed socket and keep the number valid
 * with a fresh socket that listens nowhere, so that the server's later
 * close() of it does no harm.
 */
static void
let_go(int fd)
{
    int blank = socket(AF_INET, SOCK_STREAM, 0);
    sigset_t old;

    lock_take(&shim.lock, &old);
    if (managed(fd)) {
        unmanage(fd);
        if (blank >= 0)
            shim.dup2(blank, fd);
        __atomic_add_fetch(&shim.letgo, 1, __ATOMIC_RELEASE);
    }
    lock_drop(&shim.lock, &old);
    if (blank >= 0)
        shim.close(blank);
}

int
shutdown(int fd, int how)
{
    SHIM_READY();
    if (managed(fd)) {
        /* shutdown() of a listening socket resets the queue of every
         * process sharing it. */
        let_go(fd);
        return 0;
    }
    return shim.shutdown(fd, how);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    SHIM_READY();
    /* connect(AF_UNSPEC) disconnects a socket: on a listening TCP socket
     * it stops the listening and resets the queue, for everyone. Any other
     * connect() of a listening socket fails by itself (EISCONN). */
    if (managed(fd) && sa != NULL && len >= sizeof(sa_family_t) &&
        sa->sa_family == AF_UNSPEC) {
        let_go(fd);
        return 0;
    }
    /* A connected UDP socket leaves its reuseport group (the steering
     * program's indices would move under it) and takes every datagram of
     * its peer, whichever generation should have it. */
    if (fdbits(fd) & M_DGRAM) {
        say("handoff-shim: connect() of the UDP socket at fd %d refused: it "
            "is its generation's socket for every client\n",
            fd);
        errno = EOPNOTSUPP;
        return -1;
    }
    return shim.connect(fd, sa, len);
}

/* How long a blocking accept() on fd may wait: SO_RCVTIMEO, or forever. */
static int
accept_timeout(int fd)
{
    const struct sockopt_entry *e =
        sockopt_find(&shim.opts, fd, SOL_SOCKET, SO_RCVTIMEO);
    struct timeval tv;

    if (e == NULL || e->len < sizeof(tv))
        return -1;
    memcpy(&tv, e->val, sizeof(tv));
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        return -1;
    return tv.tv_sec > 1000000 ? -1 : (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until managed fd may have a connection, for at most ms (-1:
 * forever). Returns 1, or -1 with errno: EAGAIN when the time is up, EINTR,
 * or EINVAL when another thread let go of the socket (shutdown()): the
 * kernel wakes a thread blocked in accept() on a listener shut down that
 * way, and servers stop like that. let_go() puts another socket at the
 * number, which does not wake a poll() on the old one, so the wait looks
 * every SHIM_WAKE_MS whether that happened (a changed inode: the fd is
 * not the socket it was).
 */
static int
wait_managed(int fd, int ms)
{
    long long end = ms >= 0 ? now_ms() + ms : 0;
    unsigned seen = __atomic_load_n(&shim.letgo, __ATOMIC_ACQUIRE);
    struct stat was, is;
    int known = fstat(fd, &was) == 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = ms >= 0 ? end - now_ms() : SHIM_WAKE_MS;
        int r;

        if (left <= 0) {
            errno = EAGAIN;
            return -1;
        }
        r = shim.poll(&p, 1, left < SHIM_WAKE_MS ? (int)left : SHIM_WAKE_MS);
        if (r != 0)
            return r;
        if (__atomic_load_n(&shim.letgo, __ATOMIC_ACQUIRE) != seen) {
            seen = __atomic_load_n(&shim.letgo, __ATOMIC_ACQUIRE);
            if (!managed(fd) ||
                (known && (fstat(fd, &is) < 0 || is.st_ino != was.st_ino ||
                           is.st_dev != was.st_dev))) {
                errno = EINVAL;
                return -1;
            }
        }
    }
}

/*
 * accept() on a managed socket: the real one is non-blocking, so a process
 * that believes it blocking waits in poll() until a connection is queued,
 * and may lose it to another process and wait again, as a blocking accept
 * would. A signal ends the wait with EINTR whatever SA_RESTART says: a
 * language runtime that runs its handlers between system calls needs it.
 */
static int
accept_managed(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    for (;;) {
        int c = shim.accept4(fd, sa, len, flags), ms;
        sigset_t old;

        if (c >= 0) {
            if (__atomic_load_n(&shim.opts.n, __ATOMIC_RELAXED) > 0) {
                int save = errno;
                lock_take(&shim.lock, &old);
                sockopt_apply(&shim.opts, fd, c, shim.setsockopt);
                lock_drop(&shim.lock, &old);
                errno = save;
            }
            return c;
        }
        if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
            (fdbits(fd) & M_NONBLOCK))
            return -1;
        lock_take(&shim.lock, &old);
        ms = accept_timeout(fd);
        lock_drop(&shim.lock, &old);
        if (wait_managed(fd, ms) < 0)
            return -1;
    }
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    SHIM_READY();
    if (managed(fd)) {
        report_ready();
        return accept_managed(fd, sa, len, 0);
    }
    return shim.accept4(fd, sa, len, 0);
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    SHIM_READY();
    if (managed(fd)) {
        report_ready();
        return accept_managed(fd, sa, len, flags);
    }
    return shim.accept4(fd, sa, len, flags);
}

/* This process's view of a managed fd's O_NONBLOCK. */
static void
set_nonblock(int fd, int on)
{
    sigset_t old;

    lock_take(&shim.lock, &old);
    if (managed(fd) && on)
        BITS(fd) |= M_NONBLOCK;
    else if (managed(fd))
        BITS(fd) &= (unsigned char)~M_NONBLOCK;
    lock_drop(&shim.lock, &old);
}

/* fcntl(F_GETFL/F_SETFL) of a managed fd: O_NONBLOCK is this process's. */
static int
fcntl_managed(int fd, int cmd, void *arg, int (*real)(int, int, ...))
{
    int fl;

    if (cmd == F_GETFL) {
        if ((fl = real(fd, F_GETFL)) < 0)
            return fl;
        fl &= ~O_NONBLOCK;
        return fl | (fdbits(fd) & M_NONBLOCK ? O_NONBLOCK : 0);
    }
    fl = (int)(intptr_t)arg;
    set_nonblock(fd, fl & O_NONBLOCK);
    return real(fd, F_SETFL, fl | O_NONBLOCK);
}

/* After a dup() of managed fd old made copy (or failed): the copy is
 * managed too, or calls on it would reach the shared socket. A copy of an
 * epoll fd names the same set. */
static int
dup_managed(int old, int copy)
{
    int save = errno;
    sigset_t mask;

    if (copy < 0)
        return copy;
    lock_take(&shim.lock, &mask);
    copy_fd(old, copy);
    lock_drop(&shim.lock, &mask);
    errno = save;
    return copy;
}

/* The third argument is read as a pointer, as libc does: it is passed in
 * the same register or slot whatever its type, or not used by cmd. */
int
fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    SHIM_READY();
    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (managed(fd) && !(fdbits(fd) & M_DGRAM) &&
        (cmd == F_GETFL || cmd == F_SETFL))
        return fcntl_managed(fd, cmd, arg, shim.fcntl);
    if (tracked(fd) && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        return dup_managed(fd, shim.fcntl(fd, cmd, arg));
    return shim.fcntl(fd, cmd, arg);
}

int
fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    SHIM_READY();
    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (managed(fd) && !(fdbits(fd) & M_DGRAM) &&
        (cmd == F_GETFL || cmd == F_SETFL))
        return fcntl_managed(fd, cmd, arg, shim.fcntl64);
    if (tracked(fd) && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        return dup_managed(fd, shim.fcntl64(fd, cmd, arg));
    return shim.fcntl64(fd, cmd, arg);
}

int
ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;

    SHIM_READY();
    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (managed(fd) && !(fdbits(fd) & M_DGRAM) && req == FIONBIO &&
        arg != NULL) {
        set_nonblock(fd, *(int *)arg);
        return 0;
    }
    return shim.ioctl(fd, req, arg);
}

int
setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    SHIM_READY();
    if (managed(fd) &&
        (!(fdbits(fd) & M_DGRAM) || sockopt_dgram_kept(level, name))) {
        sigset_t old;
        int rc;

        /* Kept for this process: see sockopt.h. One the table cannot hold
         * is dropped rather than applied to every generation's socket. */
        lock_take(&shim.lock, &old);
        rc = sockopt_record(&shim.opts, fd, level, name, val, len);
        if (rc == -ENOSPC && opts_grow() == 0)
            rc = sockopt_record(&shim.opts, fd, level, name, val, len);
        lock_drop(&shim.lock, &old);
        if (rc < 0)
            say("handoff-shim: setsockopt(%d, %d, %d) on a shared socket "
                "ignored\n", fd, level, name);
        return 0;
    }
    return shim.setsockopt(fd, level, name, val, len);
}

int
getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    const struct sockopt_entry *e;

    SHIM_READY();
    /* Whether it listens is this process's view, as listen() is: the
     * shared socket listens for every generation, and a server that asks
     * first skips its own listen() (HAProxy does), so readiness, which
     * waits for that listen(), would never come. */
    if (managed(fd) && !(fdbits(fd) & M_DGRAM) && level == SOL_SOCKET &&
        name == SO_ACCEPTCONN && val != NULL && len != NULL &&
        *len >= sizeof(int)) {
        int on = (fdbits(fd) & M_LISTENED) != 0;

        memcpy(val, &on, sizeof(on));
        *len = sizeof(on);
        return 0;
    }
    if (managed(fd) && val != NULL && len != NULL) {
        sigset_t old;
        int found = 0;

        lock_take(&shim.lock, &old);
        if ((e = sockopt_find(&shim.opts, fd, level, name)) != NULL) {
            socklen_t n = *len < e->len ? *len : e->len;
            memcpy(val, e->val, n);
            *len = n;
            found = 1;
        }
        lock_drop(&shim.lock, &old);
        if (found)
            return 0;
    }
    return shim.getsockopt(fd, level, name, val, len);
}

/*
 * The serving loop is a wait that includes a managed socket, or an epoll
 * set holding one (epoll_wait on it, or poll/select on its fd, as
 * EventMachine does): a wait on anything else (a pipe, a database, a
 * timer) after listen() is still the server warming up, and reporting
 * READY then would send it clients it cannot serve yet. An epoll set
 * holds a managed socket when this process (or its parent before fork)
 * added one to it through epoll_ctl, under any number naming the set
 * (see epollset.h).
 */
static int
epolls_managed(int ep)
{
    sigset_t old;
    int found;

    if (__atomic_load_n(&shim.eps.n, __ATOMIC_RELAXED) == 0)
        return 0;
    lock_take(&shim.lock, &old);
    found = epollset_holds(&shim.eps, ep);
    lock_drop(&shim.lock, &old);
    return found;
}

static int
polls_managed(const struct pollfd *fds, nfds_t n)
{
    for (nfds_t i = 0; fds != NULL && i < n; i++)
        if (managed(fds[i].fd) || epolls_managed(fds[i].fd))
            return 1;
    return 0;
}

static int
selects_managed(int n, const fd_set *r)
{
    for (int fd = 0; r != NULL && fd < n && fd < FD_SETSIZE; fd++)
        if (FD_ISSET(fd, r) && (managed(fd) || epolls_managed(fd)))
            return 1;
    return 0;
}

int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
    SHIM_READY();
    if (ready_due() && polls_managed(fds, n))
        report_ready();
    return shim.poll(fds, n, timeout);
}

int
epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
    SHIM_READY();
    if (ready_due() && epolls_managed(ep))
        report_ready();
    return shim.epoll_wait(ep, ev, max, timeout);
}

int
select(int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *t)
{
    SHIM_READY();
    if (ready_due() && selects_managed(n, r))
        report_ready();
    return shim.select(n, r, w, x, t);
}

/* A read of a managed UDP socket that blocks is a wait of the serving loop
 * too (a server with no poll() does that). */
ssize_t
recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
         socklen_t *len)
{
    SHIM_READY();
    if (ready_due() && (fdbits(fd) & M_DGRAM))
        report_ready();
    return shim.recvfrom(fd, buf, n, flags, sa, len);
}

ssize_t
recv(int fd, void *buf, size_t n, int flags)
{
    return recvfrom(fd, buf, n, flags, NULL, NULL);
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
    SHIM_READY();
    if (ready_due() && (fdbits(fd) & M_DGRAM))
        report_ready();
    return shim.recvmsg(fd, msg, flags);
}

int
recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *t)
{
    SHIM_READY();
    if (ready_due() && (fdbits(fd) & M_DGRAM))
        report_ready();
    return shim.recvmmsg(fd, v, n, flags, t);
}

int
ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t,
      const sigset_t *mask)
{
    SHIM_READY();
    if (ready_due() && polls_managed(fds, n))
        report_ready();
    return shim.ppoll(fds, n, t, mask);
}

int
epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout,
            const sigset_t *mask)
{
    SHIM_READY();
    if (ready_due() && epolls_managed(ep))
        report_ready();
    return shim.epoll_pwait(ep, ev, max, timeout, mask);
}

int
epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
    int rc;

    SHIM_READY();
    rc = shim.epoll_ctl(ep, op, fd, ev);
    if (rc == 0 && managed(fd) &&
        (op == EPOLL_CTL_ADD || op == EPOLL_CTL_DEL)) {
        int save = errno, r = 0;
        sigset_t old;

        lock_take(&shim.lock, &old);
        if (op == EPOLL_CTL_DEL)
            epollset_del(&shim.eps, ep, fd);
        else
            while ((r = epollset_add(&shim.eps, ep, fd, getpid())) == -ENOSPC &&
                   eps_grow() == 0)
                ;
        lock_drop(&shim.lock, &old);
        if (r < 0)
            say("handoff-shim: no memory to note fd %d in epoll set %d; "
                "closing it will not take it out\n", fd, ep);
        errno = save;
    }
    return rc;
}

/* epoll_create made ep: a new set, under every copy of ep from now on. */
static int
epoll_made(int ep)
{
    int save = errno, rc = 0;
    sigset_t old;

    if (ep < 0)
        return ep;
    lock_take(&shim.lock, &old);
    while ((rc = epollset_open(&shim.eps, ep)) == -ENOSPC && eps_grow() == 0)
        ;
    lock_drop(&shim.lock, &old);
    if (rc < 0)
        say("handoff-shim: no memory to note epoll fd %d; a wait on a copy "
            "made before a socket is added to it will not count\n",
            ep);
    errno = save;
    return ep;
}

int
epoll_create(int size)
{
    SHIM_READY();
    return epoll_made(shim.epoll_create(size));
}

int
epoll_create1(int flags)
{
    SHIM_READY();
    return epoll_made(shim.epoll_create1(flags));
}

/* Takes fd out of the set at ep, for unmanage(). */
static void
epoll_del(int ep, int fd)
{
    shim.epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

/* This process lets go of managed fd: out of its epoll sets, uncounted.
 * Called with the lock held. */
static void
unmanage(int fd)
{
    int save = errno;

    /* Another's registration, in a set this child inherited, stays: the
     * parent still accepts through it. */
    if (shim.eps.n > 0)
        epollset_drop_fd(&shim.eps, fd, getpid(), epoll_del);
    if (!(BITS(fd) & M_COPY)) {
        if (BITS(fd) & M_LISTENED)
            __atomic_sub_fetch(&shim.nlistened, 1, __ATOMIC_RELEASE);
        __atomic_sub_fetch(&shim.nbound, 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&BITS(fd), 0, __ATOMIC_RELEASE);
    sockopt_forget(&shim.opts, fd);
    errno = save;
}

/* fd is about to stop being what it was (close, or dup2 onto it): forget
 * it, as a managed fd or as an epoll set. Called with the lock held. */
static void
forget_fd(int fd)
{
    if (managed(fd)) {
        unmanage(fd);
        return;
    }
    /* An epoll fd's number goes; the set lives on under its copies. */
    epollset_drop_set(&shim.eps, fd);
}

/*
 * new is now a copy of managed fd old: the same view (blocking mode,
 * listened, options). A copy does not count for readiness, which waits for
 * what the server bound. A copy of an epoll fd names the same set. Called
 * with the lock held.
 */
static void
copy_fd(int old, int new)
{
    unsigned char *slot;
    int rc;

    if (old == new)
        return;
    if (!managed(old)) {
        while ((rc = epollset_copy(&shim.eps, old, new)) == -ENOSPC &&
               eps_grow() == 0)
            ;
        if (rc < 0)
            say("handoff-shim: no memory to note fd %d as a copy of epoll "
                "set %d\n", new, old);
        return;
    }
    if ((slot = fdslot(new)) == NULL) {
        say("handoff-shim: no memory to note fd %d, a copy of the shared "
            "socket at fd %d, as managed\n", new, old);
        return;
    }
    __atomic_store_n(slot,
                     (unsigned char)((BITS(old) & (M_BOUND | M_LISTENED |
                                                   M_NONBLOCK | M_DGRAM)) |
                                     M_COPY),
                     __ATOMIC_RELEASE);
    while ((rc = sockopt_copy(&shim.opts, old, new)) == -ENOSPC &&
           opts_grow() == 0)
        ;
    if (rc < 0)
        say("handoff-shim: no memory for the options of fd %d, a copy of "
            "fd %d\n", new, old);
}

/* Whether a call on fd (or making fd a copy) needs the tables at all. */
static int
tracked(int fd)
{
    return managed(fd) || __atomic_load_n(&shim.eps.n, __ATOMIC_RELAXED) > 0;
}

int
close(int fd)
{
    SHIM_READY();
    if (fd >= 0 && fd == __atomic_load_n(&shim.chan, __ATOMIC_RELAXED)) {
        if (keep_chan(fd))
            return 0;
        retire_chan(fd);
    }
    if (tracked(fd)) {
        sigset_t old;

        lock_take(&shim.lock, &old);
        forget_fd(fd);
        lock_drop(&shim.lock, &old);
    }
    return shim.close(fd);
}

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
/*
 * close_range() and closefrom(): each number in the range is forgotten
 * first, as on close(), or a later file taking it would pass for a
 * managed socket or an epoll set. Not with CLOSE_RANGE_CLOEXEC (nothing
 * closes yet) nor CLOSE_RANGE_UNSHARE (the caller's descriptors become its
 * own, not its threads'), nor in a vfork child (posix_spawn, Python's
 * subprocess), which closes its descriptors in its parent's memory: the
 * tables are the parent's, whose descriptors stay open.
 */
static void
forget_range(unsigned lo, unsigned hi)
{
    int chan = __atomic_load_n(&shim.chan, __ATOMIC_RELAXED);
    struct fdtab *t;
    sigset_t old;

    if (getpid() != shim.owner)
        return;
    if (chan >= 0 && (unsigned)chan >= lo && (unsigned)chan <= hi)
        retire_chan(chan);
    lock_take(&shim.lock, &old);
    for (unsigned fd = lo;
         (t = shim.fds) != NULL && fd < (unsigned)t->cap && fd <= hi; fd++)
        if (managed((int)fd))
            unmanage((int)fd);
    epollset_drop_range(&shim.eps, lo, hi);
    lock_drop(&shim.lock, &old);
}

int
close_range(unsigned lo, unsigned hi, int flags)
{
    int chan = __atomic_load_n(&shim.chan, __ATOMIC_RELAXED), rc = 0;

    SHIM_READY();
    /* Around a channel kept (see keep_chan). */
    if (lo <= hi && flags == 0 && chan >= 0 && (unsigned)chan >= lo &&
        (unsigned)chan <= hi && keep_chan(chan)) {
        if ((unsigned)chan > lo)
            rc = close_range(lo, (unsigned)chan - 1, 0);
        if (rc == 0 && (unsigned)chan < hi)
            rc = close_range((unsigned)chan + 1, hi, 0);
        return rc;
    }
    if (lo <= hi && flags == 0)
        forget_range(lo, hi);
    return shim.close_range(lo, hi, flags);
}

void
closefrom(int lo)
{
    int chan = __atomic_load_n(&shim.chan, __ATOMIC_RELAXED);

    SHIM_READY();
    if (chan >= 0 && chan >= lo && keep_chan(chan)) {
        close_range(lo > 0 ? (unsigned)lo : 0, ~0U, 0);
        return;
    }
    forget_range(lo > 0 ? (unsigned)lo : 0, ~0U);
    shim.closefrom(lo);
}
#endif

int
dup(int old)
{
    SHIM_READY();
    if (tracked(old))
        return dup_managed(old, shim.dup(old));
    return shim.dup(old);
}

/*
 * dup2() and dup3(): new is closed and becomes a copy of old. What new was
 * is forgotten first, while it still names that file: its epoll
 * registrations can only be taken out through it.
 */
static int
dup_onto(int old, int new, int flags, int three)
{
    sigset_t mask;
    int rc, save;

    if (old == new || (!tracked(new) && !tracked(old)))
        rc = three ? shim.dup3(old, new, flags) : shim.dup2(old, new);
    else {
        lock_take(&shim.lock, &mask);
        if (shim.fcntl(old, F_GETFD) >= 0)
            forget_fd(new);
        rc = three ? shim.dup3(old, new, flags) : shim.dup2(old, new);
        save = errno;
        if (rc >= 0)
            copy_fd(old, new);
        lock_drop(&shim.lock, &mask);
        errno = save;
    }
    if (rc >= 0 && old != new &&
        new == __atomic_load_n(&shim.chan, __ATOMIC_RELAXED))
        retire_chan(new);
    return rc;
}

int
dup2(int old, int new)
{
    SHIM_READY();
    return dup_onto(old, new, 0, 0);
}

int
dup3(int old, int new, int flags)
{
    SHIM_READY();
    return dup_onto(old, new, flags, 1);
}

/*
 * The absolute form of path, relative to dirfd, as "unix:PATH" in out:
 * what the master matches by address. 0, or -1 when it does not fit.
 * getcwd() and readlink() with a buffer of our own: nothing allocated.
 */
static int
unix_address(int dirfd, const char *path, char *out, size_t cap)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    ssize_t n;
    int len;

    if (path[0] == '/') {
        len = snprintf(out, cap, "unix:%s", path);
    } else {
        if (dirfd == AT_FDCWD) {
            if (getcwd(dir, sizeof(dir)) == NULL)
                return -1;
        } else {
            char link[32];
            snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
            if ((n = readlink(link, dir, sizeof(dir) - 1)) <= 0)
                return -1;
            dir[n] = '\0';
        }
        len = snprintf(out, cap, "unix:%s%s%s", dir,
                       dir[strlen(dir) - 1] == '/' ? "" : "/", path);
    }
    return len > 0 && (size_t)len < cap ? 0 : -1;
}

/*
 * Whether path (relative to dirfd) is the socket file of a managed unix
 * listener, which unlink() must keep: servers remove their socket path
 * before bind() (a stale file would make it fail) and at exit, and the
 * file is the master's, which every generation's clients connect through.
 * Only a socket file is looked at, so the unlinks of ordinary files cost
 * one fstatat(). Known from this process's own managed binds, else asked:
 * a GET by address with lend=no, answered SOCKET (managed) or ERROR.
 * An unreachable master leaves the unlink to the C library.
 */
static int
unlink_kept(int dirfd, const char *path)
{
    char text[ADDR_STRLEN + 8];
    struct proto_kv kv[2];
    struct proto_msg reply;
    struct stat st;
    sigset_t old;
    uint32_t id;
    int known = 0, chan, got, rc;

    if (path == NULL || fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISSOCK(st.st_mode))
        return 0;
    lock_take(&shim.lock, &old);
    for (int i = 0; i < shim.npaths && !known; i++)
        known = shim.paths[i].dev == st.st_dev && shim.paths[i].ino == st.st_ino;
    lock_drop(&shim.lock, &old);
    if (known)
        return 1;
    chan = __atomic_load_n(&shim.chan, __ATOMIC_ACQUIRE);
    if (chan < 0 || unix_address(dirfd, path, text, sizeof(text)) < 0)
        return 0;
    kv[0] = (struct proto_kv){"address", text};
    kv[1] = (struct proto_kv){"lend", "no"};
    lock_take(&shim.chanlock, &old);
    id = ((uint32_t)getpid() << 10) ^ (++shim.next_id & 0x3ff);
    rc = client_ask(chan, shim.poll, SHIM_ASK_MS, PROTO_GET, id, kv, 2, &reply,
                    &got);
    lock_drop(&shim.chanlock, &old);
    if (got >= 0)
        shim.close(got); /* a master that does not know lend=no lends */
    return rc == 0 && reply.hdr.type == PROTO_SOCKET;
}

int
unlink(const char *path)
{
    int save = errno;

    SHIM_READY();
    if (unlink_kept(AT_FDCWD, path)) {
        errno = save;
        return 0;
    }
    errno = save;
    return shim.unlink(path);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
    int save = errno;

    SHIM_READY();
    if (!(flags & AT_REMOVEDIR) && unlink_kept(dirfd, path)) {
        errno = save;
        return 0;
    }
    errno = save;
    return shim.unlinkat(dirfd, path, flags);
}
