/* control.h: the control socket (status, roll, stop) and its client. */
#ifndef HANDOFF_CONTROL_H
#define HANDOFF_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "view.h"

struct canary_step;
struct control;

/*
 * The line protocol, over a SOCK_STREAM unix socket (handoff(8), CONTROL
 * SOCKET): the client sends one request line, the master answers and
 * closes the connection.
 *
 *   status        text for people, several lines
 *   status json   one JSON object on one line
 *   roll [progress]   once the roll it started (or queued) has ended,
 *                 with "progress" lines before if asked ("progress TEXT":
 *                 a worker ready, a canary step, a guard's failure):
 *                 promoted gen=N roll_ms=M
 *                 failed gen=N reason="..."   (failed reason="stopping")
 *   roll canary=SPEC   the same, with this canary for that roll (SPEC as
 *                 canary = with commas for blanks)
 *   promote       end the canary now (or the keeping of the previous
 *                 generation): promoted gen=N
 *   rollback      new connections back to the previous generation:
 *                 rolled back gen=N to=M
 *   metrics       Prometheus's text format, as GET /metrics (metrics.h)
 *   stop          stopping; then the connection stays open until the
 *                 master exits
 *   upgrade [timeout=MS] [binary=PATH]   the master executes PATH (by
 *                 default the binary it was started as, looked up again)
 *                 in its own process, the state carried (upgrade.h); the
 *                 new image answers: upgraded pid=N from=V1 to=V2 ms=T
 *   anything else error: unknown command "..."
 *
 * Refusals are one line that starts with "error: ".
 */
#define CONTROL_DEFAULT_PATH "/run/handoff.sock" /* when handoff is PID 1 */
#define CONTROL_MAX_CONNS 16         /* at once; more get "error: busy" */
#define CONTROL_LINE_MAX 256         /* bytes of a request, newline excluded */
#define CONTROL_LINE_TIMEOUT_MS 5000 /* to send the request, to read a reply   \
                                      */

enum control_request {
    CONTROL_UNKNOWN,
    CONTROL_STATUS,
    CONTROL_STATUS_JSON,
    CONTROL_ROLL,
    CONTROL_STOP,
    CONTROL_PROMOTE,
    CONTROL_ROLLBACK,
    CONTROL_ROLL_CANARY,
    CONTROL_METRICS,
    CONTROL_UPGRADE,
};

/* What a request line (without its newline) asks for. */
enum control_request control_parse(const char *line);

/* An "upgrade [timeout=MS] [binary=PATH]" line (CONTROL_UPGRADE): *binary
 * the rest of the line after binary= or NULL, *timeout_ms 0 unless given
 * (at most an hour). NULL, or where the line cannot be read. Beside the
 * client's builder of the same line (control_client.c). */
const char *control_upgrade_parse(const char *line, const char **binary,
                                  unsigned long long *timeout_ms);

/* A growing string for answers; failed is set once memory ran out. */
struct control_buf {
    char *s;
    size_t len, cap;
    int failed;
};

void control_buf_printf(struct control_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s in double quotes with \" \\ \n escapes, control characters as '?'. */
void control_buf_quote(struct control_buf *b, const char *s);

/*
 * The socket path for a configured value (the control key, or NULL when it
 * was not set): NULL for "none" and, except as PID 1, for no value.
 * *implicit is set when the path is the PID 1 default.
 */
const char *control_path(const char *configured, int pid1, int *implicit);

/*
 * Listen on the control socket for configured (see control_path), mode
 * 0600, replacing a stale socket file; sets *out (NULL: none).
 * Returns 0, or -errno with a message in err: among others -EADDRINUSE
 * when a live process answers on the path. A PID 1 default that cannot be
 * made (read-only or missing /run) is only logged.
 */
/* What a client asks the master for (master.c supplies them): a roll for
 * client (answered by control_roll_answer), with steps of its own unless
 * steps is NULL; promote and rollback: 0 and the generation serving after
 * it, or -ENOENT and why; a stop as by sig; the deployment as it is now, for
 * status and metrics (view.h). */
struct control_ops {
    void (*roll)(void *arg, unsigned client, const struct canary_step *steps,
                 size_t nsteps);
    int (*promote)(void *arg, unsigned *gen, char *why, size_t len);
    int (*rollback)(void *arg, unsigned *gen, char *why, size_t len);
    void (*stop)(void *arg, int sig);
    /* Execute binary (NULL: the default) in this process, its check bounded
     * by timeout_ms (0: the default); answered by control_upgraded(). */
    void (*upgrade)(void *arg, const char *binary, uint64_t timeout_ms);
    view_fn *view;
    void *arg;
};

int control_open(uv_loop_t *loop, const struct control_ops *ops,
                 const char *configured, struct control **out, char *err,
                 size_t errlen);

/* Stop listening and unlink the socket; "stop" clients keep their
 * connection until the process exits. NULL: nothing. */
void control_close(struct control *ctl);

/* The answer to the roll client asked for (control_ops.roll). */
void control_roll_answer(struct control *ctl, unsigned client, unsigned gen,
                         int ok, const char *why, unsigned long long roll_ms);
/* From the roll: a line for the clients waiting with progress. */
void control_roll_progress(struct control *ctl, const char *text);

/* The upgrade's answer to the client that asked for it ("error: ..." from
 * the image that refused it, "upgraded ..." from the one that took over,
 * the client carried by control_state.h); no client: nothing. */
void control_upgraded(struct control *ctl, const char *line);

/* Whether a control client's answer is still being written (an upgrade
 * waits for it: the exec would cut it), 1 with why. */
int control_busy(const struct control *ctl, char *why, size_t len);

/* Is word ("status", "roll", "stop", "metrics"...) a client subcommand? */
int control_is_command(const char *word);

/*
 * One request (with its newline) over the socket at path, the whole answer
 * appended to *answer (the caller frees answer->s). Bounded by timeout_ms
 * (0: no bound); cancel_fd, unless -1, ends it early with UV_ECANCELED once
 * readable. Returns 0, or a libuv error: UV_EOF for a connection closed
 * without an answer.
 */
int control_ask(const char *path, const char *request, uint64_t timeout_ms,
                int cancel_fd, struct control_buf *answer);

/* The client: argv[0] is the subcommand. Returns the exit status. */
int control_client(int argc, char **argv);

#endif
