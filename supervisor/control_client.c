/* control_client.c: handoff status|roll|stop|metrics, the control socket's client. */
#include "control.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "parse.h"
#include "upgrade.h"
#include "watch.h"

#define EXIT_USAGE 2
#define CLIENT_TIMEOUT_MS 30000
#define UPGRADE_BUSY_MS 5000 /* how long a busy master is asked again */

int
control_is_command(const char *word)
{
    return strcmp(word, "status") == 0 || strcmp(word, "roll") == 0 ||
           strcmp(word, "stop") == 0 || strcmp(word, "promote") == 0 ||
           strcmp(word, "rollback") == 0 || strcmp(word, "metrics") == 0 ||
           strcmp(word, "upgrade") == 0;
}

/*
 * The request line of `handoff upgrade`: "upgrade [timeout=MS]
 * [binary=PATH]", PATH made absolute here (the master's working directory
 * is not the client's). -1 with why when it does not fit a line.
 */
static int
upgrade_request(const char *binary, uint64_t timeout_ms, char *out, size_t size,
                char *why, size_t len)
{
    char cwd[PATH_MAX] = "";
    int n = snprintf(out, size, "upgrade");

    if (timeout_ms > 0)
        n += snprintf(out + n, size - (size_t)n, " timeout=%llu",
                      (unsigned long long)timeout_ms);
    if (binary != NULL && binary[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
        cwd[0] = '\0';
    if (binary != NULL && (binary[0] == '\0' || strchr(binary, '\n'))) {
        snprintf(why, len, "--binary: an empty path or one with a newline");
        return -1;
    }
    if (binary != NULL)
        n += snprintf(out + n, size - (size_t)n, " binary=%s%s%s", cwd,
                      cwd[0] ? "/" : "", binary);
    if (n + 1 >= (int)size || n + 1 > CONTROL_LINE_MAX) {
        snprintf(why, len, "--binary: the path is too long for a request");
        return -1;
    }
    out[n++] = '\n';
    out[n] = '\0';
    return 0;
}

const char *
control_upgrade_parse(const char *line, const char **binary,
                      unsigned long long *timeout_ms)
{
    const char *p = line + 7; /* after "upgrade" */
    char *end;

    *binary = NULL;
    *timeout_ms = 0;
    while (*(p += strspn(p, " ")) != '\0') {
        if (strncmp(p, "binary=", 7) == 0 && p[7] != '\0') {
            *binary = p + 7;
            return NULL;
        }
        if (strncmp(p, "timeout=", 8) != 0 || p[8] < '0' || p[8] > '9')
            return p;
        errno = 0;
        *timeout_ms = strtoull(p + 8, &end, 10);
        if (errno != 0 || (*end != ' ' && *end != '\0') ||
            *timeout_ms > 3600000)
            return p;
        p = end;
    }
    return NULL;
}

static int
client_usage(const char *cmd, const char *why)
{
    FILE *f = why != NULL ? stderr : stdout;

    if (why != NULL)
        fprintf(stderr, "handoff %s: %s\n", cmd, why);
    fprintf(f, "usage: handoff status [--json] [--watch [--interval D]] "
               "[--control PATH | -c FILE]\n"
               "                      [--timeout D]\n"
               "       handoff roll [--canary SPEC] [--control PATH | -c FILE] "
               "[--timeout D]\n"
               "       handoff promote | rollback [--control PATH | -c FILE] "
               "[--timeout D]\n"
               "       handoff stop | metrics [--control PATH | -c FILE] "
               "[--timeout D]\n"
               "       handoff upgrade [--binary PATH] [--control PATH | -c "
               "FILE] [--timeout D]\n"
               "The socket: --control, else control = in FILE, else "
               "$HANDOFF_CONTROL,\nelse " CONTROL_DEFAULT_PATH
               ". See handoff(8), CONTROL SOCKET.\n");
    return EXIT_USAGE;
}

/*
 * One request and its answer, on a loop of the client's own: connect,
 * send the request, read until the master closes the connection. The
 * timer bounds the whole; with until_line it ends at the answer's first
 * line ("stopping": the wait for the master's exit is not bounded).
 * With cancel_fd (not -1), the exchange ends with UV_ECANCELED as soon as
 * that fd is readable: a watch's signalfd, so that Ctrl-C is not held up
 * by a master slow to answer.
 */
struct exchange {
    uv_pipe_t pipe;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    uv_poll_t cancel;
    int cancel_fd;
    uv_buf_t request;
    struct control_buf *answer;
    int until_line;
    int progress; /* "progress" lines: drawn on one line of the terminal */
    int drawn;    /* one is on the terminal */
    int ended;
    int connected;
    int refused; /* the peer is neither root nor the caller's user */
    const char *path;
    int send_rc, rc; /* 0 or a libuv error */
    char chunk[4096];
};

static void
exchange_end(struct exchange *x, int rc)
{
    if (x->ended)
        return;
    x->ended = 1;
    x->rc = rc;
    uv_close((uv_handle_t *)&x->pipe, NULL);
    uv_close((uv_handle_t *)&x->timer, NULL);
    if (x->cancel_fd != -1)
        uv_close((uv_handle_t *)&x->cancel, NULL);
}

static void
on_timeout(uv_timer_t *t)
{
    exchange_end(t->data, UV_ETIMEDOUT);
}

static void
on_cancel(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    exchange_end(p->data, UV_ECANCELED);
}

static void
on_chunk_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct exchange *x = h->data;

    (void)suggested;
    *buf = uv_buf_init(x->chunk, sizeof(x->chunk));
}

static void
on_chunk(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct exchange *x = s->data;
    struct control_buf *b = x->answer;

    if (n == UV_EOF) {
        exchange_end(x, 0);
    } else if (n < 0) {
        /* A reset after a whole answer is its end. */
        exchange_end(x, b->len > 0 ? 0 : (int)n);
    } else if (n > 0) {
        control_buf_printf(b, "%.*s", (int)n, buf->base);
        /* Progress lines are the terminal's, the rest is the answer. */
        while (x->progress && !b->failed && b->len > 9 &&
               strncmp(b->s, "progress ", 9) == 0) {
            char *nl = memchr(b->s, '\n', b->len);
            size_t take;
            if (nl == NULL)
                break;
            take = (size_t)(nl - b->s) + 1;
            fprintf(stderr, "\r\033[K%.*s", (int)(take - 10), b->s + 9);
            fflush(stderr);
            x->drawn = 1;
            memmove(b->s, b->s + take, b->len - take + 1);
            b->len -= take;
        }
        if (b->failed)
            exchange_end(x, UV_ENOMEM);
        else if (x->until_line && memchr(b->s, '\n', b->len) != NULL)
            uv_timer_stop(&x->timer);
    }
}

static void
on_sent(uv_write_t *req, int status)
{
    struct exchange *x = req->data;

    /* A refused client finds the reason to read: keep reading. */
    if (status < 0 && status != UV_ECANCELED)
        x->send_rc = status;
}

/*
 * Whoever answers on the path is believed: its answer is printed, a roll
 * or stop is taken as done. Anyone who could bind the path first (a
 * directory others may write, a master gone) could answer instead, so the
 * peer must run as root or as the caller's own user, as the master does.
 * Says why on stderr when it does not.
 */
static int
peer_refused(struct exchange *x)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    if (uv_fileno((uv_handle_t *)&x->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        fprintf(stderr, "handoff: %s: cannot tell who serves it: %s\n", x->path,
                strerror(errno));
        return x->refused = 1;
    }
    if (cred.uid == 0 || cred.uid == getuid() || cred.uid == geteuid())
        return 0;
    fprintf(stderr,
            "handoff: %s: refused: the process serving it (pid %d) "
            "runs as uid %u, neither root nor you (uid %u): not a handoff "
            "master to trust\n",
            x->path, (int)cred.pid, (unsigned)cred.uid, (unsigned)getuid());
    return x->refused = 1;
}

static void
on_connected(uv_connect_t *req, int status)
{
    struct exchange *x = req->data;
    int rc;

    if (x->ended)
        return;
    if (status < 0) {
        exchange_end(x, status);
        return;
    }
    if (peer_refused(x)) {
        exchange_end(x, UV_EACCES);
        return;
    }
    x->connected = 1;
    x->write.data = x;
    rc = uv_write(&x->write, (uv_stream_t *)&x->pipe, &x->request, 1, on_sent);
    if (rc < 0)
        x->send_rc = rc;
    rc = uv_read_start((uv_stream_t *)&x->pipe, on_chunk_alloc, on_chunk);
    if (rc < 0)
        exchange_end(x, rc);
}

/* Run one exchange; timeout_ms 0: no bound. Returns x->rc. */
static int
exchange_run(struct exchange *x, const char *path, uint64_t timeout_ms)
{
    uv_loop_t loop;
    int rc;

    /* libuv would cut a longer path short and connect elsewhere. */
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return x->rc = UV_ENAMETOOLONG;
    if ((rc = uv_loop_init(&loop)) < 0)
        return x->rc = rc;
    uv_pipe_init(&loop, &x->pipe, 0);
    uv_timer_init(&loop, &x->timer);
    x->pipe.data = x->timer.data = x->connect.data = x->cancel.data = x;
    if (x->cancel_fd != -1) {
        if ((rc = uv_poll_init(&loop, &x->cancel, x->cancel_fd)) < 0) {
            x->cancel_fd = -1;
            exchange_end(x, rc);
            uv_run(&loop, UV_RUN_DEFAULT);
            uv_loop_close(&loop);
            return x->rc;
        }
        uv_poll_start(&x->cancel, UV_READABLE, on_cancel);
    }
    if (timeout_ms > 0)
        uv_timer_start(&x->timer, on_timeout, timeout_ms, 0);
    x->path = path;
    uv_pipe_connect(&x->connect, &x->pipe, path, on_connected);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return x->rc;
}

int
control_ask(const char *path, const char *request, uint64_t timeout_ms,
            int cancel_fd, struct control_buf *answer)
{
    struct exchange x = {.cancel_fd = cancel_fd, .answer = answer};
    int rc;

    x.request = uv_buf_init((char *)request, (unsigned)strlen(request));
    rc = exchange_run(&x, path, timeout_ms);
    if (rc == 0 && answer->len == 0)
        rc = x.send_rc < 0 ? x.send_rc : UV_EOF;
    return rc;
}

/* The path from -c FILE's control key; NULL if it has none. */
static int
path_from_file(const char *file, char *path, size_t size)
{
    struct config_args a = {.file = file, .parse_only = 1};
    char err[CONFIG_ERRLEN];
    struct config *cfg;

    if (config_load(&a, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "handoff: %s\n", err);
        return -EINVAL;
    }
    if (cfg->control == NULL) {
        path[0] = '\0';
    } else if (strcmp(cfg->control, "none") == 0) {
        fprintf(stderr, "handoff: %s: control = none: the control socket "
                "is off\n", file);
        config_free(cfg);
        return -ENOENT;
    } else {
        snprintf(path, size, "%s", cfg->control);
    }
    config_free(cfg);
    return 0;
}

/* What the answer means for the exit status; prints it. */
static int
client_verdict(const char *cmd, const char *path, struct control_buf *b)
{
    const char *s = b->s ? b->s : "";

    if (b->len == 0) {
        fprintf(stderr, "handoff: %s: the connection closed without an "
                "answer\n", path);
        return 1;
    }
    if (strncmp(s, "error: ", 7) == 0) {
        fprintf(stderr, "handoff: %s: %s", path, s);
        return 1;
    }
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "metrics") == 0) {
        fputs(s, stdout);
        return 0;
    }
    if (strcmp(cmd, "roll") == 0) {
        if (strncmp(s, "promoted ", 9) == 0) {
            fputs(s, stdout);
            return 0;
        }
        if (strncmp(s, "failed ", 7) == 0) {
            fprintf(stderr, "handoff: roll %s", s);
            return 1;
        }
    }
    if (strcmp(cmd, "stop") == 0 && strcmp(s, "stopping\n") == 0)
        return 0;
    if (strcmp(cmd, "upgrade") == 0 && strncmp(s, "upgraded ", 9) == 0) {
        fputs(s, stdout);
        return 0;
    }
    if ((strcmp(cmd, "promote") == 0 && strncmp(s, "promoted ", 9) == 0) ||
        (strcmp(cmd, "rollback") == 0 && strncmp(s, "rolled back ", 12) == 0)) {
        fputs(s, stdout);
        return 0;
    }
    fprintf(stderr, "handoff: %s: unexpected answer: %s", path, s);
    return 1;
}

int
control_client(int argc, char **argv)
{
    const char *cmd = argv[0], *path = NULL, *file = NULL;
    const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"control", required_argument, NULL, 'C'},
        {"timeout", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'c'},
        {"canary", required_argument, NULL, 'K'},
        {"watch", no_argument, NULL, 'W'},
        {"interval", required_argument, NULL, 'I'},
        {"binary", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t timeout_ms = strcmp(cmd, "roll") == 0 ? 0 : CLIENT_TIMEOUT_MS;
    uint64_t interval_ms = WATCH_INTERVAL_MS;
    int json = 0, timeout_set = 0, watch = 0, interval_set = 0, opt, rc;
    char pathbuf[PATH_MAX], err[CONFIG_ERRLEN];
    const char *request, *canary = NULL, *binary = NULL;
    char upgrade_req[CONTROL_LINE_MAX + 2];
    uint64_t busy_until = 0;
    int closed_once = 0;
    char canary_req[CONTROL_LINE_MAX + 2], progress_req[CONTROL_LINE_MAX + 16];
    struct control_buf b = {0};
    struct exchange x = {.cancel_fd = -1};

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = 1;
            break;
        case 'C':
            path = optarg;
            break;
        case 'c':
            file = optarg;
            break;
        case 'K':
            canary = optarg;
            break;
        case 'B':
            binary = optarg;
            break;
        case 'T':
            err[0] = '\0';
            if (parse_duration(optarg, &timeout_ms, err, sizeof(err)) < 0 ||
                timeout_ms == 0) {
                snprintf(pathbuf, sizeof(pathbuf), "--timeout: %s",
                         err[0] ? err : "must be more than 0");
                return client_usage(cmd, pathbuf);
            }
            timeout_set = 1;
            break;
        case 'W':
            watch = 1;
            break;
        case 'I':
            if (parse_duration(optarg, &interval_ms, err, sizeof(err)) < 0) {
                snprintf(pathbuf, sizeof(pathbuf), "--interval: %s", err);
                return client_usage(cmd, pathbuf);
            }
            if (interval_ms == 0)
                return client_usage(cmd, "--interval: must be more than 0");
            interval_set = 1;
            break;
        case 'h':
            client_usage(cmd, NULL);
            return 0;
        default:
            snprintf(pathbuf, sizeof(pathbuf), "%s: unknown flag or missing "
                     "value", argv[optind - 1]);
            return client_usage(cmd, pathbuf);
        }
    }
    if (optind < argc) {
        snprintf(pathbuf, sizeof(pathbuf), "unexpected argument \"%s\"",
                 argv[optind]);
        return client_usage(cmd, pathbuf);
    }
    if (json && strcmp(cmd, "status") != 0)
        return client_usage(cmd, "--json: only for status");
    if (watch && strcmp(cmd, "status") != 0)
        return client_usage(cmd, "--watch: only for status");
    if (interval_set && !watch)
        return client_usage(cmd, "--interval: only with --watch");
    if (binary != NULL && strcmp(cmd, "upgrade") != 0)
        return client_usage(cmd, "--binary: only for upgrade");
    if (strcmp(cmd, "upgrade") == 0) {
        if ((rc = upgrade_request(binary, timeout_set ? timeout_ms : 0,
                                  upgrade_req, sizeof(upgrade_req), pathbuf,
                                  sizeof(pathbuf))) < 0)
            return client_usage(cmd, pathbuf);
        /* The check's bound, then the exec and the new image's start. */
        timeout_ms =
            (timeout_set ? timeout_ms : UPGRADE_TIMEOUT_MS) + CLIENT_TIMEOUT_MS;
    }
    if (canary != NULL) {
        struct canary_step steps[CANARY_MAX_STEPS];
        size_t n;
        if (strcmp(cmd, "roll") != 0)
            return client_usage(cmd, "--canary: only for roll");
        /* Refused here with the flag named, before the master is asked. */
        if (canary_parse_steps(canary, steps, CANARY_MAX_STEPS, &n, err,
                               sizeof(err)) < 0) {
            snprintf(pathbuf, sizeof(pathbuf), "--canary: %s", err);
            return client_usage(cmd, pathbuf);
        }
        if (snprintf(canary_req, sizeof(canary_req), "roll canary=%s\n",
                     canary) >= (int)sizeof(canary_req))
            return client_usage(cmd, "--canary: too long");
        for (char *p = canary_req + 12; *p; p++)
            if (*p == ' ' || *p == '\t')
                *p = ','; /* one line, one word */
    }
    if (path == NULL && file != NULL) {
        rc = path_from_file(file, pathbuf, sizeof(pathbuf));
        if (rc < 0)
            return rc == -EINVAL ? EXIT_USAGE : 1;
        if (pathbuf[0] != '\0')
            path = pathbuf;
    }
    if (path == NULL && getenv("HANDOFF_CONTROL") != NULL &&
        getenv("HANDOFF_CONTROL")[0] != '\0')
        path = getenv("HANDOFF_CONTROL");
    if (path == NULL)
        path = CONTROL_DEFAULT_PATH;
    /* A master that closes first must not kill the client by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (watch)
        return watch_run(path, json, interval_ms, timeout_ms);

    request = strcmp(cmd, "status") == 0 ? (json ? "status json\n" : "status\n")
              : strcmp(cmd, "roll") == 0 ? (canary ? canary_req : "roll\n")
              : strcmp(cmd, "promote") == 0  ? "promote\n"
              : strcmp(cmd, "rollback") == 0 ? "rollback\n"
              : strcmp(cmd, "metrics") == 0  ? "metrics\n"
              : strcmp(cmd, "upgrade") == 0  ? upgrade_req
                                             : "stop\n";
    /* On a terminal, a roll shows how it goes: readiness, each canary
     * step, a guard's failures; elsewhere its one line of outcome. */
    if (strcmp(cmd, "roll") == 0 && isatty(STDERR_FILENO)) {
        snprintf(progress_req, sizeof(progress_req), "%.*s progress\n",
                 (int)strlen(request) - 1, request);
        request = progress_req;
        x.progress = 1;
    }
again:
    x.request = uv_buf_init((char *)request, (unsigned)strlen(request));
    x.answer = &b;
    /* The master stops within stop_delay + stop_timeout: "stop" waits for
     * it after its answer unless --timeout bounds the whole. */
    x.until_line = strcmp(cmd, "stop") == 0 && !timeout_set;
    rc = exchange_run(&x, path, timeout_ms);
    /* Busy with what an upgrade cannot carry (a probe under way): that
     * ends within moments; asked again for a while. */
    if (rc == 0 && b.s != NULL && strncmp(b.s, "error: busy: ", 13) == 0 &&
        (busy_until == 0 || uv_hrtime() < busy_until)) {
        if (busy_until == 0)
            busy_until = uv_hrtime() + UPGRADE_BUSY_MS * 1000000ULL;
        free(b.s);
        b = (struct control_buf){0};
        x = (struct exchange){.cancel_fd = -1};
        usleep(20000);
        goto again;
    }
    /* Closed without a word: a master executing a new build of itself
     * (handoff upgrade) closes the connections whose request it had not
     * read yet, so that none of them was acted on; the new image answers.
     * Asked once more: a master that has gone refuses the connection. */
    if (x.connected && b.len == 0 && !closed_once &&
        (rc == 0 || rc == UV_ECONNRESET || rc == UV_EPIPE || rc == UV_EOF)) {
        closed_once = 1;
        free(b.s);
        b = (struct control_buf){0};
        x = (struct exchange){.cancel_fd = -1, .progress = x.progress};
        usleep(50000);
        goto again;
    }
    if (x.drawn)
        fputc('\n', stderr); /* the last progress line stays */
    if (x.refused) {
        free(b.s);
        return 1; /* said why */
    }
    if (!x.connected) {
        fprintf(stderr, "handoff: %s: cannot connect: %s (is handoff running "
                "with control = %s?)\n", path,
                strerror(-rc), path);
        free(b.s);
        return 1;
    }
    if (x.send_rc < 0 && b.len == 0) {
        fprintf(stderr, "handoff: %s: cannot send: %s\n", path,
                strerror(-x.send_rc));
        free(b.s);
        return 1;
    }
    if (rc == UV_ETIMEDOUT) {
        fprintf(stderr, "handoff: %s: %s within %llums%s\n", path,
                b.len > 0 ? "the master did not exit" : "no answer",
                (unsigned long long)timeout_ms,
                strcmp(cmd, "roll") == 0 ? " (the roll goes on)" : "");
        free(b.s);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "handoff: %s: %s\n", path, strerror(-rc));
        free(b.s);
        return 1;
    }
    rc = client_verdict(cmd, path, &b);
    free(b.s);
    return rc;
}
