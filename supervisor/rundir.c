/* rundir.c: make NOTIFY_SOCKET's private directory and hand it to the workers' user. */
#include "rundir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int
rundir_own(const char *dir, const char *notify, const struct config *c)
{
    uid_t uid = c->user != NULL ? c->uid : geteuid();
    gid_t gid = c->user != NULL ? c->gid : getegid();

    if (chown(dir, uid, gid) < 0)
        return -errno;
    if (chown(notify, uid, gid) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}
