/* test_worker_state.c: a real child process and its channel, written by one image and adopted by the next: its exit is reported to the new owner, a starting one is checked for readiness again; every bad entry refused. */
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
#include "plan.h"
#include "probe.h"
#include "readiness.h"
#include "worker_state.h"

static uv_loop_t loop;
static struct reaper reaper;
static struct worker *gone;
static int gone_status = -1;

static struct worker *ready_w; /* the last worker found ready */
static uint64_t ready_ns;

static void
ready(void *ctx, struct worker *w, enum ready_kind via)
{
    (void)ctx, (void)via;
    ready_w = w;
    ready_ns = uv_hrtime();
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

static unsigned
any_port(void *ctx, struct gen *g)
{
    (void)ctx, (void)g;
    return 0;
}

static struct channel_ctx cc = {&loop, ready, NULL};
static struct probe_host host = {&loop, &reaper};
static struct readiness_ctx rc = {&host, any_port, ready, NULL};
static struct worker_ctx wc = {&loop,  &reaper,      &cc,  &rc,  "",  "",
                               exited, not_stopping, NULL, NULL, NULL};

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

/* Turns of the loop until worker_state_busy(w) is want, 3 s at most. */
static int
busy_within(struct worker *w, int want, char *why, size_t len)
{
    uint64_t end = uv_hrtime() + 3000000000ULL;

    while (worker_state_busy(w, why, len) != want && uv_hrtime() < end)
        uv_run(&loop, UV_RUN_ONCE);
    return worker_state_busy(w, why, len) == want;
}

static void
starting_gen(struct gen *g, struct slot *slots, struct plan *plan)
{
    gen_of(g, slots, 2, 2);
    g->plan = plan;
    g->state = GEN_STARTING;
}

/* An exec check's command under way would be left unwatched by an exec:
 * busy while it runs, said so. */
static void
starting_worker_busy_while_its_exec_check_runs(void **state)
{
    struct slot s_old[2];
    struct gen old;
    struct config cfg;
    struct plan plan;
    struct worker *w;
    char why[256] = "";
    pid_t pid;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&plan, 0, sizeof(plan));
    cfg.ready = READY_EXEC;
    cfg.ready_arg = "sleep 5";
    cfg.ready_interval = 100;
    plan.cfg = &cfg;
    starting_gen(&old, s_old, &plan);
    w = old_worker(&old);
    w->state = W_STARTING;
    pid = w->child.pid;
    assert_int_equal(readiness_start(&rc, w), 0);
    assert_true(busy_within(w, 1, why, sizeof(why)));
    if (strstr(why, "its readiness check's command is running") == NULL)
        fail_msg("busy: %s", why);
    readiness_stop(w); /* kills the command's group */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    channel_close(w->chan);
    free(w);
}

/* ready = delay: an adopted worker is ready when the delay from its start
 * ends, not a whole delay after the exec. */
static void
starting_worker_delay_counts_from_its_start(void **state)
{
    struct slot s_old[2], s_new[2];
    struct gen old, new;
    struct config cfg;
    struct plan plan;
    struct worker *w, *a;
    char err[256] = "";
    uint64_t t0, end;
    json_t *o;
    pid_t pid;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    memset(&plan, 0, sizeof(plan));
    cfg.ready = READY_DELAY;
    cfg.ready_delay = 2000;
    plan.cfg = &cfg;
    starting_gen(&old, s_old, &plan);
    starting_gen(&new, s_new, &plan);
    w = old_worker(&old);
    w->state = W_STARTING;
    t0 = uv_hrtime();
    w->started_ns = t0 - 1900000000ULL; /* 1.9 s of its 2 s are gone */
    pid = w->child.pid;
    o = worker_state_write(w);
    assert_int_equal(worker_state_inherit(w, 1), 0);
    forget(w);
    ready_w = NULL;
    if (worker_state_adopt(&wc, &new, o, "gens[0].workers[0]", err,
                           sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    a = new.slots[1].w;
    assert_non_null(a);
    end = t0 + 3000000000ULL;
    while (ready_w == NULL && uv_hrtime() < end)
        uv_run(&loop, UV_RUN_ONCE);
    assert_ptr_equal(ready_w, a);
    /* 100 ms were left: well before a whole delay. */
    if (ready_ns - t0 > 1000000000ULL)
        fail_msg("ready %llu ms after the adoption, 100 were left",
                 (unsigned long long)((ready_ns - t0) / 1000000));
    readiness_stop(a);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    reap_remove(&reaper, &a->child);
    channel_close(a->chan);
    free(a);
    json_decref(o);
}

/* A field added to struct worker must be carried (worker_state.c) or said
 * to be rebuilt there; then the size here changes with it. The extras (its
 * own UDP sockets, one per bind) are carried. */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct worker), 400);
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
        cmocka_unit_test(starting_worker_busy_while_its_exec_check_runs),
        cmocka_unit_test(starting_worker_delay_counts_from_its_start),
        cmocka_unit_test(every_field_is_carried),
    };

    log_setup(LOG_ERROR, LOG_LOGFMT);
    return cmocka_run_group_tests(tests, setup, NULL);
}
