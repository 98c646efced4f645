/* proc.c: read process parents, groups and sizes from /proc, signal every child of the master. */
#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
proc_stat(pid_t pid, struct proc_stat *out)
{
    char path[64], buf[1024], *p;
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long utime, stime, pages;
    int ppid, pgrp, fd;
    ssize_t len;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return -1;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = '\0';
    /* The command name may hold spaces and parentheses: after the last
     * ')', state, ppid, pgrp (the 5th field) ... utime and stime in clock
     * ticks (14th, 15th) ... rss in pages (the 24th). */
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 1,
               " %*c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
               "%llu %*d %*d %*d %*d %*d %*d %*u %*u %llu",
               &ppid, &pgrp, &utime, &stime, &pages) != 5)
        return -1;
    out->ppid = (pid_t)ppid;
    out->pgrp = (pid_t)pgrp;
    out->cpu_ticks = utime + stime;
    out->rss_bytes = pages * (unsigned long long)(page > 0 ? page : 4096);
    return 0;
}

pid_t
proc_parent_of(pid_t pid)
{
    struct proc_stat st;

    return proc_stat(pid, &st) == 0 ? st.ppid : 0;
}

int
proc_each(int (*fn)(void *arg, pid_t pid), void *arg)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int rc = 0;

    if (d == NULL)
        return 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0)
            rc = fn(arg, pid);
    }
    closedir(d);
    return rc;
}

static int
kill_child(void *arg, pid_t pid)
{
    const int *sig = arg;

    if (proc_parent_of(pid) == getpid())
        kill(pid, *sig);
    return 0;
}

void
proc_kill_children(int sig)
{
    proc_each(kill_child, &sig);
}
