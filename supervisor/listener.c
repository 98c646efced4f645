/* listener.c: open TCP and unix listening sockets, once, for the master. */
#include "listener.h"

#include <errno.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "steer.h"

#ifndef SIOCUNIXFILE
#define SIOCUNIXFILE 0x89E0 /* linux/un.h: SIOCPROTOPRIVATE + 0 */
#endif

int
listener_peek(const char *path, int follow, dev_t *dev, ino_t *ino)
{
    struct open_how how = {.flags =
                               O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW),
                           .resolve = RESOLVE_CACHED};
    struct statx stx;
    int fd, rc;

    fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    if (fd < 0)
        return errno == ENOSYS || errno == EINVAL ? -EOPNOTSUPP : -errno;
    /* The inode's number needs no call to its file system, and DONT_SYNC
     * asks none (FUSE, NFS) to refresh the rest. */
    rc = statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &stx);
    if (rc < 0)
        rc = -errno;
    close(fd);
    if (rc < 0)
        return rc;
    *dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
    *ino = stx.stx_ino;
    return 0;
}

/*
 * The directory of the unix socket file path, an O_PATH descriptor, with
 * *base its name in it; walked from the kernel's cache only, and only if
 * still on dev, the file system the socket was made on: the directory may
 * be a worker's user's, who could mount a FUSE file system over it that
 * never answers, or rename its way to one. Returns the descriptor, -EXDEV,
 * -EAGAIN (not cached), -EOPNOTSUPP (before Linux 5.12) or -errno.
 */
static int
open_parent(const char *path, dev_t dev, const char **base)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_CACHED};
    struct statx stx;
    int fd;

    if (slash == NULL)
        return -EINVAL; /* addr_parse() takes absolute paths only */
    snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path),
             path);
    *base = slash + 1;
    fd = (int)syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof(how));
    if (fd < 0)
        return errno == ENOSYS || errno == EINVAL ? -EOPNOTSUPP : -errno;
    /* Not fstat(): a FUSE file system would be asked, and may not answer. */
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &stx) <
            0 ||
        makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev) {
        close(fd);
        return -EXDEV;
    }
    return fd;
}

/* Whether the socket file path (made on dev) is gone: 1, 0 when it is
 * there or cannot be told without waiting on a file system. */
static int
file_gone(const char *path, dev_t dev)
{
    struct stat st;
    const char *base;
    int dir = open_parent(path, dev, &base), gone;

    if (dir == -EOPNOTSUPP)
        return lstat(path, &st) < 0 && errno == ENOENT;
    if (dir < 0)
        return dir == -ENOENT; /* its directory gone too: said at bind() */
    gone = fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
    close(dir);
    return gone;
}

/* A unix socket file that exists: remove it if nobody listens there. */
static int
clear_stale(const struct listen_conf *lc, char *err, size_t errlen)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&lc->addr.ss;
    struct stat st;
    int fd, rc;

    if (lstat(sun->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s: %s exists and is not a socket", lc->name,
                 lc->address);
        return -EEXIST;
    }
    /* Non-blocking: a blocking connect() waits for room in a full accept
     * queue, which whoever listens there may keep full for good. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    rc = connect(fd, (const struct sockaddr *)sun, lc->addr.len);
    if (rc < 0 && errno == EAGAIN)
        rc = 0; /* a server that listens, busy */
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen, "%s: %s is in use by a running server",
                 lc->name, lc->address);
        return -EADDRINUSE;
    }
    if (errno != ECONNREFUSED) {
        int e = errno;
        snprintf(err, errlen, "%s: %s: %s", lc->name, lc->address, strerror(e));
        return -e;
    }
    /* Nobody accepts: a file left by a run that crashed. */
    if (unlink(sun->sun_path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* A reuseport group: 1 opened, 0 the kernel refused it (shared), -errno. */
static int
open_steered(const struct listen_conf *lc, struct listener *l, char *err,
             size_t errlen)
{
    int rc = steer_open(&lc->addr, lc->backlog, lc->nonblocking,
                        &steer_kernel, &l->steer);

    if (rc == -ENOPROTOOPT || rc == -EOPNOTSUPP) {
        log_event(LOG_WARN, "steering_refused", "name=%s address=%s "
                  "action=shared hint=%s", log_q(lc->name),
                  log_q(lc->address),
                  log_q("the kernel refused SO_ATTACH_REUSEPORT_CBPF: a "
                        "generation gets connections before it is ready"));
        return 0;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s: bind: %s", lc->name, lc->address,
                 strerror(-rc));
        return rc;
    }
    l->fd = -1;
    listener_set_flows(l, lc->flows);
    l->bound = l->steer->addr;
    addr_text(&l->bound, l->bound_text, sizeof(l->bound_text));
    return 1;
}

/*
 * An O_PATH descriptor of the file fd was just bound to, at path: the
 * kernel names it (SIOCUNIXFILE, where it has it, to root), as whoever may
 * write the directory may have replaced the file by now. Elsewhere, the
 * file at path if it is a socket of ours with no other name. Returns it
 * or -errno.
 */
static int
bound_file(int fd, const char *path)
{
    struct stat st;
    int file = ioctl(fd, SIOCUNIXFILE);

    if (file >= 0)
        return file;
    file = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (file < 0)
        return -errno;
    if (fstat(file, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_uid == geteuid() && st.st_nlink == 1)
        return file;
    close(file);
    return -EEXIST;
}

/*
 * Bind fd to unix path a: the file made with mode (-1: the umask's) and
 * owner; *dev and *ino get its identity. Nothing after bind() goes by the
 * path, which a link may lead elsewhere by then: mode is set by the umask
 * at bind(), owner through a descriptor of the file itself. Returns 0, or
 * -1 with errno and *what the call that failed.
 */
static int
bind_unix(int fd, const struct addr *a, long mode, uid_t uid, gid_t gid,
          dev_t *dev, ino_t *ino, const char **what)
{
    const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
    struct stat st;
    int rc, file, e;

    *what = "bind";
    if (mode >= 0) {
        /* The file is created with the mode, never wider for a moment. */
        mode_t old = umask((mode_t)(~mode & 0777));
        rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
        umask(old);
    } else {
        rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
    }
    if (rc < 0)
        return -1;
    *what = "open";
    if ((file = bound_file(fd, path)) < 0) {
        errno = -file;
        return -1;
    }
    *what = "chown";
    /* Owned by root and mode for a moment: never wider. */
    rc = (uid != (uid_t)-1 || gid != (gid_t)-1)
             ? fchownat(file, "", uid, gid, AT_EMPTY_PATH)
             : 0;
    if (rc == 0 && mode > 0777) {
        /* Bits the umask cannot give (a socket has no use for them). */
        char proc[32];
        *what = "chmod";
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", file);
        rc = chmod(proc, (mode_t)mode);
    }
    if (rc == 0 && (rc = fstat(file, &st)) == 0) {
        *dev = st.st_dev;
        *ino = st.st_ino;
    }
    e = errno;
    close(file);
    errno = e;
    return rc < 0 ? -1 : 0;
}

int
listener_open(const struct listen_conf *lc, struct listener **out, char *err,
              size_t errlen)
{
    int family = addr_family(&lc->addr), fd = -1, one = 1, rc;
    struct listener *l = calloc(1, sizeof(*l));
    const char *what = "socket";

    if (l == NULL)
        return -ENOMEM;
    snprintf(l->name, sizeof(l->name), "%s", lc->name);
    l->addr = lc->addr;
    l->backlog = lc->backlog;
    l->nonblocking = lc->nonblocking;
    l->traffic = lc->traffic;
    l->refs = 1;
    l->mode = lc->mode;
    l->uid = lc->uid;
    l->gid = lc->gid;
    if (family != AF_UNIX && lc->traffic == TRAFFIC_STEERED &&
        (rc = open_steered(lc, l, err, errlen)) != 0) {
        if (rc < 0) {
            free(l);
            return rc;
        }
        *out = l;
        return 0;
    }
    if (family == AF_UNIX && (rc = clear_stale(lc, err, errlen)) < 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "%s: %s: %s", lc->name, lc->address,
                     strerror(-rc));
        free(l);
        return rc;
    }
    fd = socket(family,
                (lc->addr.dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC |
                    (lc->nonblocking ? SOCK_NONBLOCK : 0),
                0);
    if (fd < 0)
        goto fail;
    what = "setsockopt";
    /* Not for UDP: there any user's socket with it could bind the address
     * too, and take its datagrams. */
    if (family != AF_UNIX && !lc->addr.dgram &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    /* [::] serves IPv6 only, as nginx does; list 0.0.0.0 too for both. */
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (family == AF_UNIX) {
        if (bind_unix(fd, &lc->addr, lc->mode, lc->uid, lc->gid, &l->dev,
                      &l->ino, &what) < 0)
            goto fail;
    } else {
        what = "bind";
        if (bind(fd, (const struct sockaddr *)&lc->addr.ss, lc->addr.len) < 0)
            goto fail;
    }
    what = "listen";
    if (!lc->addr.dgram && listen(fd, (int)lc->backlog) < 0)
        goto fail;
    l->bound.len = sizeof(l->bound.ss);
    if (getsockname(fd, (struct sockaddr *)&l->bound.ss, &l->bound.len) < 0)
        goto fail;
    l->bound.dgram = lc->addr.dgram;
    if (family == AF_UNIX)
        l->bound = lc->addr; /* getsockname() may trim the path's length */
    addr_text(&l->bound, l->bound_text, sizeof(l->bound_text));
    l->fd = fd;
    *out = l;
    return 0;
fail:
    rc = -errno;
    snprintf(err, errlen, "%s: %s: %s: %s", lc->name, lc->address, what,
             strerror(errno));
    if (fd >= 0)
        close(fd);
    free(l);
    return rc;
}

int
listener_set_nonblocking(struct listener *l, int on)
{
    int fl;

    if (l->steer != NULL) {
        int rc = steer_set_nonblocking(l->steer, on);
        if (rc == 0)
            l->nonblocking = on;
        return rc;
    }
    fl = fcntl(l->fd, F_GETFL);
    if (fl < 0 || fcntl(l->fd, F_SETFL, on ? fl | O_NONBLOCK
                                           : fl & ~O_NONBLOCK) < 0)
        return -errno;
    l->nonblocking = on;
    return 0;
}

struct listener *
listener_find(struct listener **ls, size_t n, const struct listen_conf *lc,
              struct listener **taken, size_t ntaken)
{
    struct listener *found = NULL;

    for (size_t i = 0; i < n; i++) {
        const struct addr *a = &ls[i]->addr;
        int used = 0;

        /* The configured address, port 0 included: an unchanged line keeps
         * its socket, and the port the kernel chose with it. */
        if (a->len != lc->addr.len || a->dgram != lc->addr.dgram ||
            memcmp(&a->ss, &lc->addr.ss, a->len) != 0)
            continue;
        for (size_t j = 0; j < ntaken; j++)
            used |= taken[j] == ls[i];
        if (used)
            continue;
        if (strcmp(ls[i]->name, lc->name) == 0)
            return ls[i];
        if (found == NULL)
            found = ls[i];
    }
    return found;
}

int
listener_fd(const struct listener *l, unsigned gen)
{
    return l->steer != NULL ? steer_fd(l->steer, gen) : l->fd;
}

int
listener_queued(const struct listener *l, unsigned gen)
{
    return l->steer != NULL ? steer_queued(l->steer, gen)
           : l->addr.dgram  ? steer_received(l->fd, NULL)
                            : steer_kernel.queued(l->fd);
}

void
listener_set_flows(struct listener *l, int flows)
{
    if (l->steer != NULL)
        l->steer->quic = flows == FLOWS_QUIC;
}

int
listener_received(const struct listener *l, unsigned gen, long *drops)
{
    int fds[STEER_MAX_MEMBERS], total = 0;
    size_t n;

    *drops = -1;
    if (l->steer == NULL)
        n = l->fd < 0 ? 0 : 1, fds[0] = l->fd;
    else
        n = steer_fds(l->steer, gen, fds, STEER_MAX_MEMBERS);
    /* Summed over gen's members, as listener_queued (steer_queued). */
    for (size_t i = 0; i < n; i++) {
        long d = -1;
        int q = steer_received(fds[i], &d);

        if (q < 0)
            return q;
        total += q;
        if (d >= 0)
            *drops = (*drops < 0 ? 0 : *drops) + d;
    }
    return total;
}

int
listener_fd_more(struct listener *l, const struct steer_plan *sp, unsigned gen,
                 int *fd)
{
    int rc;

    *fd = -1;
    if (l->steer == NULL || !l->addr.dgram)
        return -EOPNOTSUPP; /* shared, or TCP: the one socket serves all */
    rc = steer_join_more(l->steer, sp, gen, fd);
    if (rc < 0 && *fd >= 0) {
        /* Joined, but the swap failed: it gets nothing until the next
         * program, and the server still reads the others. */
        log_event(LOG_WARN, "steer_failed", "name=%s error=%s", log_q(l->name),
                  log_q(strerror(-rc)));
        rc = 0;
    }
    return rc;
}

void
listener_leave_one(struct listener *l, const struct steer_plan *sp,
                   unsigned gen, int fd)
{
    int fds[STEER_MAX_MEMBERS], rc;
    size_t n;

    if (l->steer == NULL)
        return;
    /* Only while fd is still gen's: a generation that left closed it, and
     * its number may name another's member by now. */
    n = steer_fds(l->steer, gen, fds, STEER_MAX_MEMBERS);
    for (size_t i = 1; i < n; i++)
        if (fds[i] == fd) {
            rc = steer_leave_one(l->steer, sp, fd);
            log_event(rc < 0 ? LOG_WARN : LOG_INFO, "member_left",
                      "name=%s gen=%u fd=%d%s%s", log_q(l->name), gen, fd,
                      rc < 0 ? " error=" : "",
                      rc < 0 ? log_q(strerror(-rc)) : "");
            return;
        }
}

int
listener_set_backlog(struct listener *l, long backlog)
{
    int rc = 0;

    if (l->steer != NULL)
        rc = steer_set_backlog(l->steer, backlog);
    else if (!l->addr.dgram && listen(l->fd, (int)backlog) < 0)
        rc = -errno; /* a datagram socket has no backlog */

    if (rc == 0)
        l->backlog = backlog;
    return rc;
}

int
listener_restore(struct listener *l)
{
    const char *path = ((const struct sockaddr_un *)&l->addr.ss)->sun_path;
    const char *what;
    dev_t dev;
    ino_t ino;
    int fd;

    if (l->ino == 0 || l->fd < 0)
        return 0;
    if (!file_gone(path, l->dev))
        return 0; /* there, or not ours to judge (EACCES, EXDEV...) */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
                             (l->nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -errno;
    if (bind_unix(fd, &l->addr, l->mode, l->uid, l->gid, &dev, &ino, &what) <
            0 ||
        listen(fd, (int)l->backlog) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    /* The workers that accept from the old socket hold it: the master's
     * copy would only keep it, and what queues there, alive for nothing
     * (one descriptor more per removal). */
    close(l->fd);
    l->fd = fd;
    l->dev = dev;
    l->ino = ino;
    return 1;
}

struct listener *
listener_ref(struct listener *l)
{
    l->refs++;
    return l;
}

void
listener_unref(struct listener *l)
{
    if (l == NULL || --l->refs > 0)
        return;
    if (l->ino != 0) {
        /* The file only if it is still the one made, in its directory. */
        const char *path =
            ((const struct sockaddr_un *)&l->addr.ss)->sun_path;
        const char *base;
        struct stat st;
        int dir = open_parent(path, l->dev, &base);
        if (dir == -EOPNOTSUPP) {
            if (lstat(path, &st) == 0 && st.st_dev == l->dev &&
                st.st_ino == l->ino)
                unlink(path);
        } else if (dir >= 0) {
            if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                st.st_ino == l->ino)
                unlinkat(dir, base, 0);
            close(dir);
        }
    }
    steer_close(l->steer);
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}
