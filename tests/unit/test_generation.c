/* test_generation.c: the generation lifecycle, signal actions, exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "generation.h"
#include "reap.h"
#include "signals.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define X (-1)

/* --- gen_transition ------------------------------------------------------ */

/* The lifecycle of generation.h's diagram, written out by hand. */
static const int expected[7][10] = {
    /*              all_ready   exit          timeout     superseded    stop          all_exited  canary      rollback    keep      restore */
    [GEN_STARTING] = {GEN_ACTIVE, GEN_FAILED,   GEN_FAILED, X,            GEN_DRAINING, GEN_FAILED, GEN_CANARY, X,          X,        X},
    [GEN_ACTIVE] =   {X,          GEN_ACTIVE,   X,          GEN_DRAINING, GEN_DRAINING, GEN_DONE,   X,          GEN_FAILED, GEN_KEPT, X},
    [GEN_DRAINING] = {X,          GEN_DRAINING, X,          GEN_DRAINING, GEN_DRAINING, GEN_DONE,   X,          X,          X,        X},
    [GEN_FAILED] =   {X,          GEN_FAILED,   X,          X,            GEN_FAILED,   GEN_DONE,   X,          X,          X,        X},
    [GEN_DONE] =     {X,          X,            X,          X,            X,            X,          X,          X,          X,        X},
    [GEN_CANARY] =   {GEN_ACTIVE, GEN_CANARY,   X,          X,            GEN_DRAINING, GEN_FAILED, X,          GEN_FAILED, X,        X},
    [GEN_KEPT] =     {X,          GEN_KEPT,     X,          GEN_DRAINING, GEN_DRAINING, GEN_DONE,   X,          X,          X,        GEN_ACTIVE},
};

static void
transition_table_covers_every_state_and_event(void **state)
{
    for (int s = GEN_STARTING; s <= GEN_KEPT; s++)
        for (int e = GEV_ALL_READY; e <= GEV_RESTORE; e++) {
            int got = gen_transition((enum gen_state)s, (enum gen_event)e);
            if (got != expected[s][e])
                fail_msg("%s + %s: got %d, want %d",
                         gen_state_name((enum gen_state)s),
                         gen_event_name((enum gen_event)e), got,
                         expected[s][e]);
        }
}

static void
starting_becomes_active_when_all_ready(void **state)
{
    assert_int_equal(gen_transition(GEN_STARTING, GEV_ALL_READY), GEN_ACTIVE);
}

static void
starting_fails_on_exit_or_timeout(void **state)
{
    assert_int_equal(gen_transition(GEN_STARTING, GEV_WORKER_EXIT), GEN_FAILED);
    assert_int_equal(gen_transition(GEN_STARTING, GEV_READY_TIMEOUT),
                     GEN_FAILED);
    assert_int_equal(gen_transition(GEN_STARTING, GEV_ALL_EXITED), GEN_FAILED);
}

static void
starting_cannot_be_superseded(void **state)
{
    /* Rolls never overlap: nothing newer is promoted while one starts. */
    assert_int_equal(gen_transition(GEN_STARTING, GEV_SUPERSEDED), -1);
}

static void
active_drains_when_superseded_or_stopped(void **state)
{
    assert_int_equal(gen_transition(GEN_ACTIVE, GEV_SUPERSEDED), GEN_DRAINING);
    assert_int_equal(gen_transition(GEN_ACTIVE, GEV_STOP), GEN_DRAINING);
    assert_int_equal(gen_transition(GEN_STARTING, GEV_STOP), GEN_DRAINING);
}

static void
active_survives_a_worker_exit(void **state)
{
    assert_int_equal(gen_transition(GEN_ACTIVE, GEV_WORKER_EXIT), GEN_ACTIVE);
    assert_int_equal(gen_transition(GEN_ACTIVE, GEV_READY_TIMEOUT), -1);
    assert_int_equal(gen_transition(GEN_ACTIVE, GEV_ALL_READY), -1);
}

static void
every_live_state_ends_done_when_all_exited(void **state)
{
    assert_int_equal(gen_transition(GEN_ACTIVE, GEV_ALL_EXITED), GEN_DONE);
    assert_int_equal(gen_transition(GEN_DRAINING, GEV_ALL_EXITED), GEN_DONE);
    assert_int_equal(gen_transition(GEN_FAILED, GEV_ALL_EXITED), GEN_DONE);
}

static void
done_accepts_nothing(void **state)
{
    for (int e = GEV_ALL_READY; e <= GEV_RESTORE; e++)
        assert_int_equal(gen_transition(GEN_DONE, (enum gen_event)e), -1);
}

static void
transition_rejects_invalid_enums(void **state)
{
    assert_int_equal(gen_transition((enum gen_state)7, GEV_ALL_READY), -1);
    assert_int_equal(gen_transition((enum gen_state)-1, GEV_STOP), -1);
    assert_int_equal(gen_transition((enum gen_state)1000, GEV_STOP), -1);
    assert_int_equal(gen_transition(GEN_STARTING, (enum gen_event)10), -1);
    assert_int_equal(gen_transition(GEN_ACTIVE, (enum gen_event)-1), -1);
    assert_int_equal(gen_transition(GEN_ACTIVE, (enum gen_event)1000), -1);
}

static void
no_path_leads_back_to_starting(void **state)
{
    for (int s = GEN_STARTING; s <= GEN_KEPT; s++)
        for (int e = GEV_ALL_READY; e <= GEV_RESTORE; e++)
            assert_int_not_equal(gen_transition((enum gen_state)s,
                                                (enum gen_event)e),
                                 GEN_STARTING);
}

static void
state_and_event_names(void **state)
{
    assert_string_equal(gen_state_name(GEN_STARTING), "starting");
    assert_string_equal(gen_state_name(GEN_ACTIVE), "active");
    assert_string_equal(gen_state_name(GEN_DRAINING), "draining");
    assert_string_equal(gen_state_name(GEN_FAILED), "failed");
    assert_string_equal(gen_state_name(GEN_DONE), "done");
    assert_string_equal(gen_state_name(GEN_CANARY), "canary");
    assert_string_equal(gen_state_name(GEN_KEPT), "kept");
    assert_string_equal(gen_state_name((enum gen_state)7), "?");
    assert_string_equal(gen_state_name((enum gen_state)-1), "?");

    assert_string_equal(gen_event_name(GEV_ALL_READY), "all_ready");
    assert_string_equal(gen_event_name(GEV_WORKER_EXIT), "worker_exit");
    assert_string_equal(gen_event_name(GEV_READY_TIMEOUT), "ready_timeout");
    assert_string_equal(gen_event_name(GEV_SUPERSEDED), "superseded");
    assert_string_equal(gen_event_name(GEV_STOP), "stop");
    assert_string_equal(gen_event_name(GEV_ALL_EXITED), "all_exited");
    assert_string_equal(gen_event_name(GEV_ROLLBACK), "rollback");
    assert_string_equal(gen_event_name(GEV_RESTORE), "restore");
    assert_string_equal(gen_event_name((enum gen_event)10), "?");
    assert_string_equal(gen_event_name((enum gen_event)-1), "?");
}

/* --- gen_count_state ----------------------------------------------------- */

/* A generation of n slots; state[i] < 0 leaves slot i without a worker. */
struct fixture {
    struct gen g;
    struct slot slots[8];
    struct worker workers[8];
};

static void
build(struct fixture *f, size_t n, const int *states, const int *retired)
{
    memset(f, 0, sizeof(*f));
    f->g.id = 1;
    f->g.slots = f->slots;
    f->g.nslots = n;
    for (size_t i = 0; i < n; i++) {
        if (states[i] >= 0) {
            f->workers[i].state = (enum worker_state)states[i];
            f->workers[i].gen = &f->g;
            f->workers[i].slot = i;
            f->slots[i].w = &f->workers[i];
        }
        f->slots[i].retired = retired ? retired[i] : 0;
    }
}

static void
count_state_counts_workers_in_slots(void **state)
{
    struct fixture f;

    build(&f, 5, (int[]){W_READY, W_STARTING, W_READY, -1, W_EXITED}, NULL);
    assert_int_equal(gen_count_state(&f.g, W_READY), 2);
    assert_int_equal(gen_count_state(&f.g, W_STARTING), 1);
    assert_int_equal(gen_count_state(&f.g, W_EXITED), 1);
    assert_int_equal(gen_count_state(&f.g, W_STOPPING), 0);
}

static void
count_state_of_empty_generation_is_zero(void **state)
{
    struct fixture f;

    build(&f, 0, NULL, NULL);
    assert_int_equal(gen_count_state(&f.g, W_READY), 0);
}

/* --- signals_action ------------------------------------------------------ */

static void
signal_actions_for_every_signal(void **state)
{
    enum signal_action want[32];

    for (int s = 1; s <= 31; s++)
        want[s] = SIGACT_FORWARD;
    want[SIGUSR2] = SIGACT_ROLL;
    want[SIGHUP] = SIGACT_RELOAD;
    want[SIGTERM] = SIGACT_STOP;
    want[SIGINT] = SIGACT_STOP;
    want[SIGTTIN] = SIGACT_MORE;
    want[SIGTTOU] = SIGACT_FEWER;
    want[SIGCHLD] = SIGACT_REAP;
    want[SIGKILL] = SIGACT_NONE;
    want[SIGSTOP] = SIGACT_NONE;
    want[SIGSEGV] = SIGACT_NONE;
    want[SIGBUS] = SIGACT_NONE;
    want[SIGFPE] = SIGACT_NONE;
    want[SIGILL] = SIGACT_NONE;
    want[SIGABRT] = SIGACT_NONE;
    want[SIGTRAP] = SIGACT_NONE;
    want[SIGSYS] = SIGACT_NONE;
    want[SIGPIPE] = SIGACT_NONE;
    for (int s = 1; s <= 31; s++) {
        enum signal_action got = signals_action(s);
        if (got != want[s])
            fail_msg("signal %d (%s): got %d, want %d", s, strsignal(s),
                     (int)got, (int)want[s]);
    }
}

static void
signals_a_server_uses_are_forwarded(void **state)
{
    static const int fwd[] = {SIGUSR1, SIGWINCH, SIGQUIT, SIGALRM, SIGCONT,
                              SIGTSTP, SIGURG,   SIGPWR,  SIGIO,   SIGPROF,
                              SIGVTALRM, SIGXCPU, SIGXFSZ, SIGSTKFLT};

    for (size_t i = 0; i < N(fwd); i++)
        assert_int_equal(signals_action(fwd[i]), SIGACT_FORWARD);
}

static void
signal_action_outside_range_is_none(void **state)
{
    assert_int_equal(signals_action(0), SIGACT_NONE);
    assert_int_equal(signals_action(-1), SIGACT_NONE);
    assert_int_equal(signals_action(32), SIGACT_NONE);
    assert_int_equal(signals_action(SIGRTMIN), SIGACT_NONE);
    assert_int_equal(signals_action(64), SIGACT_NONE);
}

/* --- signals_start ------------------------------------------------------- */

static unsigned pending_seen; /* bit per signal its handler was given */

static void
note_signal(void *ctx, enum signal_action act, int sig)
{
    (void)ctx;
    if (act != SIGACT_NONE)
        pending_seen |= 1u << sig;
}

/*
 * What an upgrade's new image starts with: every signal blocked, and
 * SIGUSR2, SIGTERM, SIGHUP and SIGCHLD sent during the exec pending, their
 * actions back to the default. signals_start must take them with its
 * handlers: the default would kill the master (SIGUSR2, SIGTERM, SIGHUP).
 * In a child: exit 0 once the handlers had all four, else the signal it
 * died of.
 */
static void
signals_pending_at_start_reach_their_handlers(void **state)
{
    static const int sent[] = {SIGUSR2, SIGTERM, SIGHUP, SIGCHLD};
    unsigned want = 0;
    int status;
    pid_t pid;

    (void)state;
    for (size_t i = 0; i < N(sent); i++)
        want |= 1u << sent[i];
    if ((pid = fork()) == 0) {
        struct signals *s;
        sigset_t all;
        uv_loop_t loop;

        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (size_t i = 0; i < N(sent); i++)
            kill(getpid(), sent[i]);
        if (uv_loop_init(&loop) < 0 ||
            signals_start(&loop, note_signal, NULL, &s) < 0)
            _exit(100);
        for (int i = 0; i < 1000 && pending_seen != want; i++)
            uv_run(&loop, UV_RUN_NOWAIT);
        _exit(pending_seen == want ? 0 : 101);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("killed by the pending %s", strsignal(WTERMSIG(status)));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- reap_exit_code ------------------------------------------------------ */

/* Run a child that exits with code, or dies of sig if sig > 0. */
static int
child_status(int code, int sig)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        sigset_t none;
        struct rlimit nocore = {0, 0};

        setrlimit(RLIMIT_CORE, &nocore);
        if (sig > 0) {
            /* cmocka's handlers are inherited: die of the real thing. */
            signal(sig, SIG_DFL);
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            raise(sig);
            _exit(200);
        }
        _exit(code);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void
exit_code_of_every_exit_status(void **state)
{
    for (int code = 0; code <= 255; code++) {
        int status = child_status(code, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(reap_exit_code(status), code);
    }
}

static void
exit_code_of_signal_is_128_plus_n(void **state)
{
    static const int sigs[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGILL,  SIGTRAP,
                               SIGABRT, SIGBUS,  SIGFPE,  SIGKILL, SIGUSR1,
                               SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM,
                               SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM,
                               SIGPROF, SIGIO,   SIGPWR,  SIGSYS};

    for (size_t i = 0; i < N(sigs); i++) {
        int status = child_status(0, sigs[i]);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != sigs[i])
            fail_msg("signal %d: child status 0x%x", sigs[i], status);
        assert_int_equal(reap_exit_code(status), 128 + sigs[i]);
    }
}

static void
exit_code_of_stopped_status_is_failure(void **state)
{
    /* Not a termination; it must not read as success. */
    assert_int_not_equal(reap_exit_code(0x137f), 0);
}

static void
describe_names_code_or_signal(void **state)
{
    char buf[64];

    assert_string_equal(reap_describe(child_status(3, 0), buf, sizeof(buf)),
                        "code=3");
    assert_string_equal(reap_describe(child_status(0, SIGTERM), buf,
                                      sizeof(buf)),
                        "signal=SIGTERM");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transition_table_covers_every_state_and_event),
        cmocka_unit_test(starting_becomes_active_when_all_ready),
        cmocka_unit_test(starting_fails_on_exit_or_timeout),
        cmocka_unit_test(starting_cannot_be_superseded),
        cmocka_unit_test(active_drains_when_superseded_or_stopped),
        cmocka_unit_test(active_survives_a_worker_exit),
        cmocka_unit_test(every_live_state_ends_done_when_all_exited),
        cmocka_unit_test(done_accepts_nothing),
        cmocka_unit_test(transition_rejects_invalid_enums),
        cmocka_unit_test(no_path_leads_back_to_starting),
        cmocka_unit_test(state_and_event_names),
        cmocka_unit_test(count_state_counts_workers_in_slots),
        cmocka_unit_test(count_state_of_empty_generation_is_zero),
        cmocka_unit_test(signal_actions_for_every_signal),
        cmocka_unit_test(signals_a_server_uses_are_forwarded),
        cmocka_unit_test(signals_pending_at_start_reach_their_handlers),
        cmocka_unit_test(signal_action_outside_range_is_none),
        cmocka_unit_test(exit_code_of_every_exit_status),
        cmocka_unit_test(exit_code_of_signal_is_128_plus_n),
        cmocka_unit_test(exit_code_of_stopped_status_is_failure),
        cmocka_unit_test(describe_names_code_or_signal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
