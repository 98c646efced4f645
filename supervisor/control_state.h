/* control_state.h: the control socket as an upgrade carries it: its listening
 * socket written by one image of handoff and adopted by the next. */
#ifndef HANDOFF_CONTROL_STATE_H
#define HANDOFF_CONTROL_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>
#include <uv.h>

#include "control.h"

/* Here rather than in control.c, for control_state.c and its test. */
enum conn_state {
    C_READING,   /* waiting for the request line */
    C_ANSWERING, /* writing the answer; closed once it is written */
    C_ROLL_WAIT, /* the roll it asked for has not ended yet */
    C_STOP_WAIT, /* answered "stopping": open until the master exits */
    C_UPGRADE,   /* asked for an upgrade: answered by the image after it */
};

struct conn {
    struct control *ctl;
    uv_pipe_t *pipe;
    uv_timer_t *timer; /* the request, then the answer, must not dawdle */
    enum conn_state state;
    unsigned client; /* C_ROLL_WAIT: its name for the roll's answer */
    int progress;    /* it asked for progress lines while it waits */
    pid_t pid;
    uid_t uid;
    size_t len;
    char line[CONTROL_LINE_MAX + 1];
    char rbuf[512];
    struct conn *next;
};

struct control {
    uv_loop_t *loop;
    const struct control_ops *ops;
    uv_pipe_t *server;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev; /* of the socket file made, so that only it is unlinked */
    ino_t ino;
    struct conn *conns;
    size_t nconns;
    unsigned clients; /* the last client name given */
    struct conn *asker; /* C_UPGRADE: the one client asking for an upgrade */
};

/* A connection carried across an exec (state C_ROLL_WAIT or C_UPGRADE, as
 * from says) served again from fd: 0, or -ENOMEM / a libuv error. */
int control_conn_adopt(struct control *ctl, int fd, const struct conn *from);

/* Accept ctl's clients from the listening socket fd (ctl->loop and
 * ctl->server set, the handle not yet initialised). 0 or a libuv error. */
int control_serve(struct control *ctl, int fd);

/*
 * The object (part of the master's state document, whose version covers
 * it), or null when there is no control socket:
 *
 *   {"fd": 9, "cookie": "4101", "path": "/run/handoff.sock",
 *    "dev": "64768", "ino": "5521", "clients": 12,
 *    "conns": [{"fd": 11, "state": "roll", "client": 12, "progress": 1,
 *               "pid": 4242, "uid": 0}, ...]}
 *
 * dev and ino are the socket file's that control_open made (mode 0600),
 * so that only it is unlinked at the end; clients the last client name
 * given, so that names stay unique across the exec (a roll's answer goes
 * to a name). conns are the clients that wait for an answer the new image
 * gives: a roll's ("roll", under its name) and the upgrade's own
 * ("upgrade"); each is checked on adoption to be a unix stream socket
 * whose peer is the recorded process. Not carried: the loop, the ops and
 * the server handle (the adopting image gives its own), and the other
 * clients: their connections are close-on-exec, so that a client still
 * sending its request, or reading an answer already written, sees its
 * connection end (control_busy holds the upgrade while an answer is being
 * written).
 */
json_t *control_state_write(const struct control *ctl);

/* Let the listening socket survive an execve (on = 1) or close on it again
 * (on = 0). 0 or -errno; ctl NULL: 0. */
int control_state_inherit(const struct control *ctl, int on);

/*
 * ctl rebuilt from o (null: *out NULL, 0) and the descriptor it names,
 * checked first: open, a unix stream socket, listening, bound to the
 * recorded path, the socket recorded; the file at path the one recorded
 * (dev, ino), a socket of mode 0600. Then it accepts clients on loop
 * served by ops, FD_CLOEXEC set again. Returns 0; -EINVAL with the fault
 * in err ("control: fd 9 is not listening"), nothing adopted, nothing
 * closed or changed; or -ENOMEM.
 */
int control_state_adopt(uv_loop_t *loop, const struct control_ops *ops,
                        const json_t *o, struct control **out, char *err,
                        size_t errlen);

#endif
