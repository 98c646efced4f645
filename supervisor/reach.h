/* reach.h: whether a program can load the shim at all. */
#ifndef HANDOFF_REACH_H
#define HANDOFF_REACH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The dynamic linker preloads nothing into a statically linked program,
 * Go programs make their socket calls without libc, and a setuid, setgid
 * or file-capability program run by another user is in secure mode, where
 * LD_PRELOAD is ignored. Such a program never asks the shim for a socket.
 *
 * Looks at cmd (searched in path when it has no slash; a "#!" script is
 * judged by its interpreter) as it would run with uid and gid. Returns 1
 * with the reason in why when it cannot load the shim, 0 when it can or
 * when this cannot tell (a missing file is for exec to report).
 */
int reach_bypasses(const char *cmd, const char *path, uid_t uid, gid_t gid,
                   char *why, size_t size);

#endif
