/* rundir.h: the private directory of NOTIFY_SOCKET, and who may use it. */
#ifndef HANDOFF_RUNDIR_H
#define HANDOFF_RUNDIR_H

#include <stddef.h>

#include "config.h"

/*
 * Make handoff.XXXXXX (mode 0700) in the first writable directory of
 * $RUNTIME_DIRECTORY, /run, $XDG_RUNTIME_DIR, $TMPDIR and /tmp; dir gets
 * its path and notify the socket's path in it. Returns 0, or -EACCES when
 * none would do (dir is then empty).
 */
int rundir_make(char *dir, size_t dirlen, char *notify, size_t notifylen);

/*
 * Give dir and the socket notify in it to the user the workers of c run
 * as (user, else the master's own): connect() needs write permission on
 * the socket, and the 0700 directory keeps everyone else out. A reload
 * may add or change user: each roll calls this for its own workers.
 * A socket not made yet is no error. No link is followed, as the workers'
 * user may have replaced either: a dir that is no longer a directory is
 * left alone (-ENOTDIR), and only a socket with no other name changes
 * owner (else -ENOTSOCK, -EMLINK). Returns 0 or -errno.
 */
int rundir_own(const char *dir, const char *notify, const struct config *c);

#endif
