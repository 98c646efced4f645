/* test_worker_state.c: a real child process and its channel, written by one image and adopted by the next: its exit is reported to the new owner; every bad entry refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handle.h"
#include "log.h"
#include "worker_state.h"

static uv_loop_t loop;
static struct reaper reaper;
static struct worker *gone;
static int gone_status = -1;

static void
ready(void *ctx, struct worker *w, enum ready_kind via)
{
    (void)ctx, (void)w, (void)via;
}

static void
exited(void *ctx, struct worker *w, int status, const char *desc)
{
    (void)ctx, (void)desc;
    gone = w;
    gone_status = status;
    channel_close(w->chan);
    free(w);
}

static int
not_stopping(void *ctx, uint64_t *stop_ms)
{
    (void)ctx, (void)stop_ms;
    return 0;
}

static struct channel_ctx cc = {&loop, ready, NULL};
static struct readiness_ctx rc;
static struct worker_ctx wc = {&loop, &reaper, &cc,          &rc,  "",
                               "",    exited,  not_stopping, NULL, NULL};

/* A child that waits to be killed, and the old image's worker for it in
 * slot 1 of old, its channel open. */
static struct worker *
old_worker(struct gen *old)
{
    struct worker *w = calloc(1, sizeof(*w));
    int child_end;
    pid_t pid;

    assert_non_null(w);
    if ((pid = fork()) == 0) {
        for (;;)
            pause();
    }
    assert_true(pid > 0);
    w->child.pid = pid;
    w->gen = old;
    w->slot = 1;
    w->state = W_READY;
    w->started_ns = 123456789;
    w->ready_ns = 223456789;
    w->drain_ns = 0;
    w->stopping_notified = 1;
    w->exec_report = -1;
    snprintf(w->status, sizeof(w->status), "warm: 12 requests");
    assert_int_equal(channel_open(&cc, w, &child_end), 0);
    close(child_end);
    w->chan->requests = 7;
    old->slots[1].w = w;
    return w;
}

/* What an exec leaves of the old image's worker: its fds, not its handles. */
static void
forget(struct worker *w)
{
    handle_close(w->chan->poll);
    free(w->chan);
    free(w);
}

static void
gen_of(struct gen *g, struct slot *slots, size_t n, unsigned id)
{
    memset(g, 0, sizeof(*g));
    memset(slots, 0, n * sizeof(*slots));
    g->id = id;
    g->state = GEN_ACTIVE;
    g->slots = slots;
    g->nslots = n;
}

static void
adopted_worker_is_the_same_and_its_exit_is_reported(void **state)
{
    struct slot s_old[2], s_new[2];
    struct gen old, new;
    struct worker *w, *a;
    char err[256] = "";
    json_t *o;
    pid_t pid;
    int chan;

    (void)state;
    gen_of(&old, s_old, 2, 3);
    gen_of(&new, s_new, 2, 3);
    w = old_worker(&old);
    pid = w->child.pid;
    chan = w->chan->fd;
    o = worker_state_write(w);
    assert_non_null(o);
    assert_int_equal(worker_state_inherit(w, 1), 0);
    forget(w);
    if (worker_state_adopt(&wc, &new, o, "gens[0].workers[0]", err,
                           sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    a = new.slots[1].w;
    assert_non_null(a);
    assert_int_equal(a->child.pid, pid);
    assert_int_equal(a->slot, 1);
    assert_int_equal(a->state, W_READY);
    assert_int_equal(a->started_ns, 123456789);
    assert_int_equal(a->ready_ns, 223456789);
    assert_int_equal(a->stopping_notified, 1);
    assert_string_equal(a->status, "warm: 12 requests");
    assert_int_equal(a->chan->fd, chan);
    assert_int_equal(a->chan->requests, 7);
    assert_ptr_equal(a->gen, &new);
    assert_int_equal(fcntl(chan, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    /* The new owner hears of its exit. */
    kill(pid, SIGKILL);
    for (int i = 0; i < 5000 && gone == NULL; i++) {
        reap_all(&reaper);
        if (gone == NULL) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    assert_ptr_equal(gone, a);
    assert_true(WIFSIGNALED(gone_status));
    assert_int_equal(WTERMSIG(gone_status), SIGKILL);
    assert_null(new.slots[1].w);
    json_decref(o);
}

static void
refused(json_t *o, const char *key, json_t *v, struct gen *g, int want_rc,
        const char *want)
{
    json_t *c = json_deep_copy(o);
    char err[256] = "";

    json_object_set_new(c, key, v);
    assert_int_equal(
        worker_state_adopt(&wc, g, c, "gens[0].workers[1]", err, sizeof(err)),
        want_rc);
    if (strstr(err, want) == NULL)
        fail_msg("refused with \"%s\", not \"%s\"", err, want);
    json_decref(c);
}

static void
bad_entries_are_refused_naming_the_field(void **state)
{
    struct slot s_old[2], s_new[2];
    struct gen old, new;
    struct worker *w, other = {0};
    int pipefd[2];
    json_t *o;
    pid_t pid;

    (void)state;
    gen_of(&old, s_old, 2, 3);
    gen_of(&new, s_new, 2, 3);
    w = old_worker(&old);
    pid = w->child.pid;
    o = worker_state_write(w);
    assert_int_equal(pipe(pipefd), 0);
    refused(o, "pid", json_integer(getppid()), &new, -EINVAL,
            "gens[0].workers[1].pid: ");
    refused(o, "pid", json_integer(1), &new, -EINVAL,
            "gens[0].workers[1].pid: 1 is not one of 2..");
    refused(o, "slot", json_integer(2), &new, -EINVAL,
            "gens[0].workers[1].slot: 2 is not one of 0..1");
    refused(o, "state", json_integer(W_EXITED), &new, -EINVAL,
            "gens[0].workers[1].state: 3 is not one of 0..2");
    refused(o, "chan", json_integer(pipefd[0]), &new, -EBADF,
            "not the master's end of a channel");
    new.slots[1].w = &other;
    refused(o, "slot", json_integer(1), &new, -EINVAL,
            "slot: 1 of gen 3 is taken");
    new.slots[1].w = NULL;
    refused(o, "status", json_integer(1), &new, -EINVAL,
            "status: not a string");
    assert_null(new.slots[0].w);
    assert_null(new.slots[1].w);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    channel_close(w->chan);
    free(w);
    close(pipefd[0]);
    close(pipefd[1]);
    json_decref(o);
}

/*
 * An exited worker's group still being ended, carried: the process left in
 * it is killed at the deadline written, by the image that took it; a group
 * already gone is passed over; a bad entry is refused naming it.
 */
static void
remnants_are_killed_at_their_deadline(void **state)
{
    struct worker_ctx mine = wc;
    uint64_t t0 = uv_hrtime(), waited;
    char err[256] = "";
    int status;
    pid_t pid;
    json_t *a;

    (void)state;
    mine.remnants = NULL;
    if ((pid = fork()) == 0) {
        setpgid(0, 0);
        signal(SIGTERM, SIG_IGN); /* only SIGKILL ends it */
        for (;;)
            pause();
    }
    assert_true(pid > 0);
    (void)setpgid(pid, pid); /* whichever of the two runs first */
    a = json_pack("[{s:i,s:i,s:I},{s:i,s:i,s:I}]", "pgid", (int)pid, "gen", 3,
                  "deadline_ns", (json_int_t)(t0 + 300000000), "pgid",
                  0x7ffffff0, "gen", 4, "deadline_ns", (json_int_t)t0);
    assert_int_equal(worker_remnants_adopt(&mine, a, err, sizeof(err)), 0);
    json_decref(a);
    a = worker_remnants_write(&mine);
    assert_int_equal(json_array_size(a), 1); /* the group gone passed over */
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(a, 0), "pgid")), pid);
    json_decref(a);
    assert_int_equal(kill(pid, 0), 0); /* not before its deadline */
    while (mine.remnants != NULL && uv_hrtime() - t0 < 10000000000ULL)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    waited = (uv_hrtime() - t0) / 1000000;
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(waited >= 300);
    a = json_pack("[{s:i,s:i,s:I}]", "pgid", 1, "gen", 3, "deadline_ns",
                  (json_int_t)0);
    assert_int_equal(worker_remnants_adopt(&mine, a, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err,
                        "remnants: [0].pgid: 1 is not one of 2..2147483647");
    assert_null(mine.remnants);
    json_decref(a);
}

/* A field added to struct worker must be carried (worker_state.c) or said
 * to be rebuilt there; then the size here changes with it. */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct worker), 264);
#else
    skip();
#endif
}

static int
setup(void **state)
{
    (void)state;
    return uv_loop_init(&loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adopted_worker_is_the_same_and_its_exit_is_reported),
        cmocka_unit_test(bad_entries_are_refused_naming_the_field),
        cmocka_unit_test(remnants_are_killed_at_their_deadline),
        cmocka_unit_test(every_field_is_carried),
    };

    log_setup(LOG_ERROR, LOG_LOGFMT);
    return cmocka_run_group_tests(tests, setup, NULL);
}
