/* rundir.c: make NOTIFY_SOCKET's private directory and hand it to the workers' user. */
#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
rundir_make(char *dir, size_t dirlen, char *notify, size_t notifylen)
{
    const char *bases[] = {getenv("RUNTIME_DIRECTORY"), "/run",
                           getenv("XDG_RUNTIME_DIR"), getenv("TMPDIR"), "/tmp"};

    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        if (bases[i] == NULL || access(bases[i], W_OK) < 0)
            continue;
        snprintf(dir, dirlen, "%s/handoff.XXXXXX", bases[i]);
        /* A sun_path holds 108 bytes: keep room for "/notify". */
        if (strlen(dir) > 80 || mkdtemp(dir) == NULL)
            continue;
        snprintf(notify, notifylen, "%s/notify", dir);
        return 0;
    }
    dir[0] = '\0';
    return -EACCES;
}

/*
 * The socket file notify in dir, opened without following a link: an
 * O_PATH descriptor of a socket with no other name, or -errno. The
 * directory is the workers' user's: that user may have put anything there
 * in place of the socket (a link to /etc/shadow, a hard link to a root
 * file); whatever is checked here is what gets its owner changed, as the
 * descriptor holds the very file.
 */
static int
open_socket_file(int dirfd, const char *name)
{
    struct stat st;
    int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), e;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        e = -errno;
    else if (!S_ISSOCK(st.st_mode))
        e = -ENOTSOCK;
    else if (st.st_nlink != 1)
        e = -EMLINK;
    else
        return fd;
    close(fd);
    return e;
}

int
rundir_own(const char *dir, const char *notify, const struct config *c)
{
    uid_t uid = c->user != NULL ? c->uid : geteuid();
    gid_t gid = c->user != NULL ? c->gid : getegid();
    const char *name = strrchr(notify, '/');
    int dirfd, fd, rc = 0;

    /* Every call on descriptors, never on paths that a link could lead
     * elsewhere: where the base is /tmp, the user owning handoff.XXXXXX
     * may rename it and leave a link in its place. */
    dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    if (fchownat(dirfd, "", uid, gid, AT_EMPTY_PATH) < 0) {
        rc = -errno;
    } else if ((fd = open_socket_file(dirfd, name ? name + 1 : notify)) >= 0) {
        if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
            rc = -errno;
        close(fd);
    } else if (fd != -ENOENT) {
        rc = fd;
    }
    close(dirfd);
    return rc;
}
