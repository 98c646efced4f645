/* sdnotify.c: READY=1, RELOADING=1, STATUS=, STOPPING=1 for handoff itself. */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify_state.h"

int
sdnotify_address(const char *value, struct sockaddr_un *sun, socklen_t *len)
{
    size_t n = strlen(value);

    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (n < 2 || (value[0] != '/' && value[0] != '@'))
        return -EINVAL;
    if (n >= sizeof(sun->sun_path))
        return -ENAMETOOLONG;
    memcpy(sun->sun_path, value, n);
    if (value[0] == '@') {
        /* Abstract: a leading NUL, and the length says where it ends. */
        sun->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)sizeof(*sun);
    }
    return 0;
}

int
sdnotify_open(struct sdnotify **out)
{
    const char *v = getenv("NOTIFY_SOCKET");
    struct sdnotify *n;
    int rc;

    *out = NULL;
    if (v == NULL)
        return 0;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    rc = sdnotify_address(v, &n->sun, &n->len);
    if (rc < 0) {
        log_event(LOG_WARN, "sdnotify_ignored", "notify_socket=%s error=%s",
                  log_q(v), log_q(strerror(-rc)));
        free(n);
        unsetenv("NOTIFY_SOCKET");
        return 0;
    }
    unsetenv("NOTIFY_SOCKET");
    /* A plain socket: libuv has no handle for unix datagrams, and a send
     * that would block is dropped rather than waited for. */
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0) {
        rc = -errno;
        free(n);
        return rc;
    }
    *out = n;
    return 0;
}

void
sdnotify_close(struct sdnotify *n)
{
    if (n == NULL)
        return;
    close(n->fd);
    free(n);
}

static void
send_text(struct sdnotify *n, const char *text)
{
    if (sendto(n->fd, text, strlen(text), MSG_NOSIGNAL,
               (struct sockaddr *)&n->sun, n->len) >= 0) {
        log_event(LOG_DEBUG, "sdnotify", "message=%s", log_q(text));
        return;
    }
    if (!n->warned)
        log_event(LOG_WARN, "sdnotify_failed", "error=%s",
                  log_q(strerror(errno)));
    n->warned = 1;
}

/* "gen 3 active, 2 processes" or "no active generation". */
static void
active_text(unsigned active, size_t live, char *buf, size_t size)
{
    if (active == 0)
        snprintf(buf, size, "no active generation");
    else
        snprintf(buf, size, "gen %u active, %zu process%s", active, live,
                 live == 1 ? "" : "es");
}

void
sdnotify_roll_started(struct sdnotify *n, unsigned active, size_t live,
                      unsigned gen)
{
    char text[512], atext[64];
    struct timespec ts;

    if (n == NULL)
        return;
    if (active == 0) {
        snprintf(text, sizeof(text), "STATUS=starting gen %u", gen);
        send_text(n, text);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    active_text(active, live, atext, sizeof(atext));
    snprintf(text, sizeof(text), "RELOADING=1\nMONOTONIC_USEC=%llu\n"
             "STATUS=%s; rolling to gen %u",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL,
             atext, gen);
    send_text(n, text);
}

void
sdnotify_roll_ended(struct sdnotify *n, unsigned active, size_t live,
                    unsigned gen, const char *why)
{
    char text[512], atext[64];

    if (n == NULL)
        return;
    active_text(active, live, atext, sizeof(atext));
    if (why == NULL)
        snprintf(text, sizeof(text), "READY=1\nSTATUS=%s; last roll "
                 "promoted", atext);
    else if (active != 0)
        snprintf(text, sizeof(text), "READY=1\nSTATUS=%s; last roll failed "
                 "(gen %u: %.300s)", atext, gen, why);
    else /* generation 1: handoff stops next, it was never ready */
        snprintf(text, sizeof(text), "STATUS=gen %u failed: %.300s", gen, why);
    send_text(n, text);
}

void
sdnotify_stopping(struct sdnotify *n)
{
    if (n != NULL)
        send_text(n, "STOPPING=1\nSTATUS=stopping");
}

void
sdnotify_status(struct sdnotify *n, const char *status)
{
    char text[320];

    if (n == NULL)
        return;
    snprintf(text, sizeof(text), "STATUS=%.300s", status);
    send_text(n, text);
}
