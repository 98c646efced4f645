/* upgrade.h: handoff replaces its own image with a new binary in the same process, the state handed over in a memfd (handoff upgrade). */
#ifndef HANDOFF_UPGRADE_H
#define HANDOFF_UPGRADE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

/* The variable that names the fd of the state document in the new image. */
#define UPGRADE_FD_ENV "HANDOFF_STATE_FD"
/* The image before (an O_PATH descriptor of its binary), for the new one
 * to execute again with the state if it cannot take it over; and the
 * variable that then tells that image why. */
#define UPGRADE_BACK_ENV "HANDOFF_STATE_BACK"
#define UPGRADE_FAILED_ENV "HANDOFF_UPGRADE_FAILED"
/* The new binary is run with it first, the document on its standard input:
 * exit 0 with UPGRADE_ACCEPTED and its version on standard output says it
 * can take the state over; anything else refuses (standard error says
 * why). */
#define UPGRADE_CHECK_FLAG "--upgrade-check"
#define UPGRADE_ACCEPTED "state accepted by handoff "
#define UPGRADE_TIMEOUT_MS 10000 /* the check's bound by default */

/* What the running master gives the upgrade. */
struct upgrade_ops {
    /* What is under way that cannot be carried (1, and why), or 0. */
    int (*busy)(void *arg, char *why, size_t len);
    /* The whole state document, a new reference; NULL: no memory. */
    json_t *(*write)(void *arg);
    /* Clear (on) or set again (!on) close-on-exec on every fd the document
     * names. 0 or -errno (then nothing is left changed). */
    int (*inherit)(void *arg, int on);
    void *arg;
};

/*
 * Replace this process's image with binary, run with argv (the master's
 * own, so that it reads the same flags), carrying the state: refused if
 * ops->busy says so, if the binary is not an executable file, or if
 * `binary --upgrade-check` does not accept a copy of the document within
 * timeout_ms; then the document goes into a memfd, every signal is
 * blocked (the new image unblocks them once its handlers are in place:
 * none is lost), the fds are inherited and execve() runs. Returns only if
 * it did not happen: -errno with why, everything as it was.
 */
int upgrade_exec(const struct upgrade_ops *ops, const char *binary,
                 char *const argv[], uint64_t timeout_ms, char *why,
                 size_t len);

/*
 * upgrade_exec from the loop, so that no signal is lost: every signal is
 * blocked now, and those the loop's handlers caught before (written to
 * libuv's signal pipe, which the exec would close) are taken in one more
 * turn of the loop; then upgrade_exec runs, and those that come after it
 * wait in the kernel for the new image. If it is refused, done(arg, rc,
 * why) after the signals are unblocked again (and taken). binary and argv
 * are copied; ops must live until done. 0, or -EBUSY while one is under
 * way, -ENOMEM.
 */
int upgrade_start(uv_loop_t *loop, const struct upgrade_ops *ops,
                  const char *binary, char *const argv[], uint64_t timeout_ms,
                  void (*done)(void *arg, int rc, const char *why), void *arg);

/*
 * In the image that starts: the document the earlier one handed over
 * (its variable removed from the environment, its fd closed), or NULL
 * with err empty when this start is no upgrade's; NULL with err set when
 * the document cannot be read.
 */
json_t *upgrade_take(char *err, size_t len);

/* After upgrade_take: why the image that this one started could not take
 * the state over (it executed this one again with it), or NULL. */
const char *upgrade_failed(void);

/*
 * This image could not take doc over (after the check accepted it: a
 * descriptor or a process not as written, say): the image before it is
 * executed again with doc, every descriptor doc names kept open, why
 * told to it (upgrade_failed), signals still blocked. Returns only if
 * that cannot be done: -errno (-ENOENT: no image before).
 */
int upgrade_back(const json_t *doc, char *const argv[], const char *why);

/* What `handoff --upgrade-check` does: read a document from in and say
 * whether this binary takes it over: 0 with UPGRADE_ACCEPTED on out, or 1
 * with the reason on err. */
int upgrade_check(FILE *in, FILE *out, FILE *err);

/* The binary handoff was started as (argv0), as an absolute path looked up
 * now (PATH for a bare name): a file replaced since is the one found. */
int upgrade_binary(const char *argv0, char *out, size_t size);

#endif
