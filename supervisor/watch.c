/* watch.c: handoff status --watch: the status redrawn, or a line per change. */
#include "watch.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "control.h"

/* How soon a terminal shows a change between two redraws: the JSON is
 * asked for this often (a unix socket round trip, a few kB). */
#define WATCH_POLL_MS 100

#define WATCH_STOPPED 1 /* SIGINT or SIGTERM: the normal end */

struct watch {
    const char *path;
    uint64_t timeout_ms;
    int sfd;                 /* signalfd of SIGINT and SIGTERM */
    int answered;            /* once: a refusal then means it went away */
    json_t *last;            /* the previous status, its clocks left out */
};

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * SIGINT and SIGTERM are blocked and read from a signalfd, which the wait
 * between two requests polls and which ends a request under way: no
 * window between the test of a flag and a wait, and no Ctrl-C held up by
 * a master slow to answer. Returns the fd or -errno.
 */
static int
watch_signals(void)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

/* Wait until end (now_ms()) for a signal: WATCH_STOPPED, 0 when none
 * came, or -1 once said why on stderr. */
static int
watch_sleep(struct watch *w, uint64_t end)
{
    struct pollfd p = {.fd = w->sfd, .events = POLLIN};
    uint64_t t, left;
    int n;

    do {
        t = now_ms();
        left = t >= end ? 0 : end - t;
        n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return WATCH_STOPPED;
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "handoff: poll: %s\n", strerror(errno));
            return -1;
        }
    } while (now_ms() < end);
    return 0;
}

/*
 * One request. Returns 0 with the answer, WATCH_STOPPED, or -1 once it
 * said on stderr why the master no longer answers.
 */
static int
watch_ask(struct watch *w, const char *request, struct control_buf *b)
{
    int rc;

    b->len = 0;
    if (b->s != NULL)
        b->s[0] = '\0';
    rc = control_ask(w->path, request, w->timeout_ms, w->sfd, b);
    /* A master that answered before and now closes the connection without
     * an answer may be executing a new build of itself: handoff upgrade
     * closes the control connections it accepted and did not answer, and
     * the new image answers the next. Asked once more: a master that has
     * gone refuses it. */
    if ((rc == UV_EOF || rc == UV_ECONNRESET || rc == UV_EPIPE) &&
        w->answered) {
        b->len = 0;
        if (b->s != NULL)
            b->s[0] = '\0';
        rc = control_ask(w->path, request, w->timeout_ms, w->sfd, b);
    }
    if (rc == UV_ECANCELED)
        return WATCH_STOPPED;
    if (rc == UV_ETIMEDOUT) {
        fprintf(stderr, "handoff: %s: no answer within %llums\n", w->path,
                (unsigned long long)w->timeout_ms);
        return -1;
    }
    if (rc < 0 && !w->answered) {
        fprintf(stderr, "handoff: %s: cannot connect: %s (is handoff running "
                "with control = %s?)\n", w->path, uv_strerror(rc), w->path);
        return -1;
    }
    if (rc < 0) {
        fprintf(stderr, "handoff: %s: handoff has gone away: %s\n", w->path,
                rc == UV_EOF ? "the connection closed without an answer"
                             : uv_strerror(rc));
        return -1;
    }
    if (b->failed) {
        fprintf(stderr, "handoff: out of memory\n");
        return -1;
    }
    if (strncmp(b->s, "error: ", 7) == 0) {
        fprintf(stderr, "handoff: %s: %s", w->path, b->s);
        return -1;
    }
    w->answered = 1;
    return 0;
}

/* Every "uptime_ms" (of handoff, each generation, each process) taken
 * out of j: they grow by themselves. */
static void
watch_without_clocks(json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_del(j, "uptime_ms");
        json_object_foreach(j, key, v)
            watch_without_clocks(v);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            watch_without_clocks(v);
    }
}

/*
 * Did the status change since the last call? A change is one of a
 * generation, a state, a share, a process, a guard's figures, a roll's
 * outcome, not of a clock. An answer that does not parse counts as one.
 */
static int
watch_changed(struct watch *w, const char *json)
{
    json_t *now = json_loads(json, 0, NULL);
    int changed;

    watch_without_clocks(now);
    changed = now == NULL || w->last == NULL || !json_equal(now, w->last);
    json_decref(w->last);
    w->last = now;
    return changed;
}

/* Output that nobody reads any more (a closed pipe) ends the watch. */
static int
watch_flush(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    fprintf(stderr, "handoff: standard output: %s\n", strerror(errno));
    return -1;
}

/* Home, clear to the end of the screen, the text, as top(1) does; stdout
 * is fully buffered (watch_run): one write, no empty screen seen between. */
static int
watch_draw(const struct control_buf *text)
{
    fputs("\033[H\033[J", stdout);
    fputs(text->s, stdout);
    return watch_flush();
}

static int
watch_loop(struct watch *w, int tty, uint64_t interval_ms)
{
    uint64_t poll_ms = tty && interval_ms > WATCH_POLL_MS ? WATCH_POLL_MS
                                                          : interval_ms;
    uint64_t start, drawn = 0;
    struct control_buf json = {0}, text = {0};
    int rc, changed;

    for (;;) {
        start = now_ms();
        if ((rc = watch_ask(w, "status json\n", &json)) != 0)
            break;
        changed = watch_changed(w, json.s);
        if (!tty && changed) {
            fputs(json.s, stdout);
            if ((rc = watch_flush()) < 0)
                break;
        }
        if (tty && (changed || drawn == 0 || start - drawn >= interval_ms)) {
            if ((rc = watch_ask(w, "status\n", &text)) != 0 ||
                (rc = watch_draw(&text)) < 0)
                break;
            drawn = start;
        }
        if ((rc = watch_sleep(w, start + poll_ms)) != 0)
            break;
    }
    free(json.s);
    free(text.s);
    return rc;
}

int
watch_run(const char *path, int json, uint64_t interval_ms,
          uint64_t timeout_ms)
{
    struct watch w = {.path = path, .timeout_ms = timeout_ms};
    int rc, tty;

    if ((w.sfd = watch_signals()) < 0) {
        fprintf(stderr, "handoff: signalfd: %s\n", strerror(-w.sfd));
        return 1;
    }
    tty = !json && isatty(STDOUT_FILENO);
    if (tty)
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    rc = watch_loop(&w, tty, interval_ms);
    close(w.sfd);
    json_decref(w.last);
    return rc == WATCH_STOPPED ? 0 : 1;
}
