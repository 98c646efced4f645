/* proc.c: read process parents from /proc, signal every child of the master. */
#include "proc.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t
proc_parent_of(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    int ppid = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    /* The command name may hold spaces and parentheses: after the last ')'. */
    if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
        sscanf(p + 1, " %*c %d", &ppid);
    fclose(f);
    return (pid_t)ppid;
}

void
proc_kill_children(int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t self = getpid();

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && proc_parent_of(pid) == self)
            kill(pid, sig);
    }
    closedir(d);
}
