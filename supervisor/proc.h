/* proc.h: what /proc says of processes: a parent, the master's children. */
#ifndef HANDOFF_PROC_H
#define HANDOFF_PROC_H

#include <sys/types.h>

/* The parent of pid, or 0 if it cannot be read. */
pid_t proc_parent_of(pid_t pid);

/* Send sig to every child of this process, registered or not (orphans
 * re-parented to it included). */
void proc_kill_children(int sig);

#endif
