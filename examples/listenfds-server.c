/* listenfds-server.c: a small HTTP server for socket activation: LISTEN_FDS in, READY=1 out. */

/*
 * What a server needs to be rolled by handoff with pass = systemd and
 * ready = notify, and nothing else: take the listening sockets from fd 3
 * on (LISTEN_FDS, checked against LISTEN_PID), say READY=1 on
 * NOTIFY_SOCKET once serving, and on SIGTERM stop accepting, finish what
 * was accepted and exit 0. No libsystemd: the protocol is one datagram.
 *
 *   cc -o listenfds-server examples/listenfds-server.c
 *   handoff -c examples/listenfds.conf
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 16

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* sd_notify(3) without libsystemd: one datagram to NOTIFY_SOCKET. */
static void
notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;
    int s;

    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sa.sun_path))
        return;
    strcpy(sa.sun_path, path);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return;
    sendto(s, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    close(s);
}

static void
serve(int c)
{
    char req[4096], resp[256];
    size_t got = 0;
    ssize_t n;
    int len;

    /* Read the request head; the body of a GET is empty. SIGTERM is
     * blocked here (it is taken in ppoll() only), so a request is always
     * read to its end and answered. */
    while (got < sizeof(req) - 1) {
        n = read(c, req + got, sizeof(req) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    len = snprintf(resp, sizeof(resp),
                   "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %d\r\n\r\nhello from pid %d\n",
                   snprintf(NULL, 0, "hello from pid %d\n", (int)getpid()),
                   (int)getpid());
    (void)!write(c, resp, (size_t)len);
    close(c);
}

int
main(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    struct pollfd p[MAX_FDS];
    struct sigaction sa = {.sa_handler = on_term};
    sigset_t term, unblocked;
    int n;

    if (pid == NULL || fds == NULL || atoi(pid) != (int)getpid() ||
        (n = atoi(fds)) < 1 || n > MAX_FDS) {
        fprintf(stderr, "listenfds-server: no sockets in LISTEN_FDS for this "
                        "process; run me under handoff with pass = systemd\n");
        return 1;
    }
    /* SIGTERM stays blocked but inside ppoll(): one that came between the
     * test of stopping and a plain poll() would be seen by nobody, and the
     * server would sleep until SIGKILL. */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &unblocked);
    sigdelset(&unblocked, SIGTERM);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < n; i++) {
        /* Non-blocking: every generation shares the socket, and one that
         * loses a connection to another must not hang in accept(). */
        int fl = fcntl(3 + i, F_GETFL);
        if (fl < 0 || fcntl(3 + i, F_SETFL, fl | O_NONBLOCK) < 0) {
            perror("listenfds-server: fcntl");
            return 1;
        }
        p[i] = (struct pollfd){.fd = 3 + i, .events = POLLIN};
    }
    notify("READY=1\nSTATUS=serving");
    while (!stopping) {
        if (ppoll(p, (nfds_t)n, NULL, &unblocked) < 0) {
            if (errno == EINTR)
                continue;
            perror("listenfds-server: ppoll");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            /* EAGAIN: another process took the connection first. */
            int c = (p[i].revents & POLLIN)
                        ? accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC)
                        : -1;
            if (c >= 0)
                serve(c);
        }
    }
    notify("STOPPING=1");
    return 0;
}
