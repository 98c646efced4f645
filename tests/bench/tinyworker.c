/*
 * tinyworker.c: the worker of the bench's scale runs.
 *
 * It takes its listening sockets the socket-activation way (LISTEN_FDS at
 * fds 3.., LISTEN_PID its own pid), says READY=1 on NOTIFY_SOCKET, and
 * answers each connection on any of them with one fixed HTTP response
 * naming its pid. SIGTERM ends it at once: it holds no request long enough
 * to drain. It is C, not Python, so that what the scale runs measure is the
 * supervisor: 64 processes x 100 rolls is 6,400 starts, and a Python
 * start costs ~30 ms of CPU where this costs well under one.
 *
 *   tinyworker [--mono]   --mono: print "worker_ready pid=N mono_us=N" on
 *                         stderr as READY=1 leaves (CLOCK_MONOTONIC, the
 *                         clock of handoff's mono_us log field)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static unsigned long long
mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL +
           (unsigned long long)ts.tv_nsec / 1000;
}

/* sd_notify without libsystemd: one datagram to NOTIFY_SOCKET. */
static void
notify_ready(int mono)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;
    size_t n;
    int s;

    if (path == NULL || (n = strlen(path)) == 0 || n >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@') /* abstract namespace */
        sa.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    if (mono)
        fprintf(stderr, "worker_ready pid=%d mono_us=%llu\n", (int)getpid(),
                mono_us());
    if (sendto(s, "READY=1", 7, 0, (struct sockaddr *)&sa, len) < 0)
        fprintf(stderr, "tinyworker: sendto NOTIFY_SOCKET: %s\n", strerror(errno));
    close(s);
}

int
main(int argc, char **argv)
{
    const char *fds = getenv("LISTEN_FDS"), *lpid = getenv("LISTEN_PID");
    int mono = argc > 1 && strcmp(argv[1], "--mono") == 0;
    char body[64], resp[192];
    struct pollfd *p;
    int n, rlen;

    if (fds == NULL || lpid == NULL || atoi(lpid) != (int)getpid()) {
        fprintf(stderr, "tinyworker: no LISTEN_FDS for this pid\n");
        return 2;
    }
    n = atoi(fds);
    if (n <= 0 || (p = calloc((size_t)n, sizeof(*p))) == NULL)
        return 2;
    for (int i = 0; i < n; i++) {
        p[i].fd = 3 + i;
        p[i].events = POLLIN;
    }
    snprintf(body, sizeof(body), "pid=%d\n", (int)getpid());
    rlen = snprintf(resp, sizeof(resp),
                    "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n%s", strlen(body), body);
    /* Default SIGTERM disposition: the process ends at once. */
    signal(SIGPIPE, SIG_IGN);
    notify_ready(mono);
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (int i = 0; i < n; i++) {
            char req[1024];
            int c;

            if (!(p[i].revents & POLLIN))
                continue;
            /* The socket is shared with other processes: never block. */
            c = accept4(p[i].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0)
                continue;
            /* Read what the request sent (bounded wait), answer, close. */
            struct pollfd cp = {.fd = c, .events = POLLIN};
            if (poll(&cp, 1, 1000) > 0 && read(c, req, sizeof(req)) >= 0 &&
                write(c, resp, (size_t)rlen) < 0) {
                /* the client went away: nothing to do */
            }
            close(c);
        }
    }
}
