/* proc.h: what /proc says of processes: a parent, a group, a size; the master's children. */
#ifndef HANDOFF_PROC_H
#define HANDOFF_PROC_H

#include <sys/types.h>

/* What /proc/PID/stat says of a process. */
struct proc_stat {
    pid_t ppid;
    pid_t pgrp;
    unsigned long long cpu_ticks; /* user and system, sysconf(_SC_CLK_TCK) a second */
    unsigned long long rss_bytes; /* resident */
};

/* pid's stat into *out: 0, or -1 if it cannot be read (gone). */
int proc_stat(pid_t pid, struct proc_stat *out);

/* The parent of pid, or 0 if it cannot be read. */
pid_t proc_parent_of(pid_t pid);

/* fn for each process /proc lists, until it returns non-zero: that value,
 * or 0 once every one was seen. */
int proc_each(int (*fn)(void *arg, pid_t pid), void *arg);

/* Send sig to every child of this process, registered or not (orphans
 * re-parented to it included). */
void proc_kill_children(int sig);

#endif
