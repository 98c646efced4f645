/* test_gens_state.c: generations, plans, workers rebuilt as after an exec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gens_state.h"
#include "handle.h"
#include "log.h"
#include "probe.h"
#include "readiness.h"
#include "source.h"
#include "steer.h"
#include "worker_state.h"

#define MAXARGS 16
#define MAXLS 8

struct fixture {
    char dir[64];
    char path[96];
    struct config_args args;
    uv_loop_t loop;
    struct reaper reaper;
    struct channel_ctx cc;
    struct readiness_ctx rc;
    struct worker_ctx wc;
    struct gens t; /* the old image's */
    pid_t pids[2]; /* gen 3 slot 3, gen 2 slot 0 */
    struct worker *exited[2];
    int nexited;
    char printed[3][4096]; /* config_print of plans 1..3 as loaded */
};

/* --- the workers' owner ------------------------------------------------- */

static void
ready(void *ctx, struct worker *w, enum ready_kind via)
{
    (void)ctx, (void)w, (void)via;
}

static void
exited(void *ctx, struct worker *w, int status, const char *desc)
{
    struct fixture *fx = ctx;

    (void)desc;
    assert_true(WIFSIGNALED(status));
    if (fx->nexited < 2)
        fx->exited[fx->nexited++] = w;
    channel_close(w->chan);
    free(w);
}

static int
not_stopping(void *ctx, uint64_t *stop_ms)
{
    (void)ctx, (void)stop_ms;
    return 0;
}

/* --- building the old image's table ------------------------------------- */

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void
parse_args(struct config_args *a, const char *const *flags)
{
    char *argv[MAXARGS] = {"handoff"};
    char err[CONFIG_ERRLEN];
    int argc = 1;

    for (; flags[argc - 1] != NULL; argc++) {
        assert_true(argc < MAXARGS - 1);
        argv[argc] = (char *)flags[argc - 1];
    }
    argv[argc] = NULL;
    if (config_args_parse(argc, argv, a, err, sizeof(err)) < 0)
        fail_msg("flags refused: %s", err);
}

static void
print_to(const struct config *c, char *buf, size_t size)
{
    FILE *f = fmemopen(buf, size, "w");

    assert_non_null(f);
    config_print(c, f);
    assert_true(ftell(f) < (long)size - 1);
    assert_int_equal(fclose(f), 0);
}

/* The file as the text says (%s: the fixture's directory), loaded as
 * master.c loads it: a reload keeps running's start-only keys. */
static struct plan *
load_plan(struct fixture *fx, const char *fmt, const struct config *running)
{
    struct plan *live[MAXLS], *p;
    char text[1024], err[CONFIG_ERRLEN], *src;
    const char *keys[3];
    struct config *cfg;
    size_t len, nlive;

    snprintf(text, sizeof(text), fmt, fx->dir, fx->dir);
    write_file(fx->path, text);
    if (source_load(&fx->args, &cfg, &src, &len, err, sizeof(err)) < 0)
        fail_msg("load: %s", err);
    if (running != NULL)
        assert_true(config_keep_start_keys(running, cfg, keys, 3) >= 0);
    nlive = gens_live_plans(&fx->t, live, MAXLS);
    if (plan_new(cfg, live, nlive, &p, err, sizeof(err)) < 0)
        fail_msg("plan_new: %s", err);
    plan_set_source(p, src, len);
    return p;
}

/* A child that waits to be killed, as the worker in slot of g, its
 * channel open. */
static struct worker *
add_worker(struct fixture *fx, struct gen *g, size_t slot)
{
    struct worker *w = calloc(1, sizeof(*w));
    int child_end;
    pid_t pid;

    assert_non_null(w);
    /* The child holds its end, as a worker does: the channel stays up. */
    assert_int_equal(channel_open(&fx->cc, w, &child_end), 0);
    if ((pid = fork()) == 0) {
        for (;;)
            pause();
    }
    assert_true(pid > 0);
    close(child_end);
    w->child.pid = pid;
    w->gen = g;
    w->ctx = &fx->wc;
    w->slot = slot;
    w->state = W_READY;
    w->started_ns = 1000 + g->id;
    w->ready_ns = 2000 + g->id;
    w->exec_report = -1;
    snprintf(w->status, sizeof(w->status), "gen %u serving", g->id);
    w->chan->requests = 10 + g->id;
    g->slots[slot].w = w;
    return w;
}

/* Non-UTF-8 bytes in a comment: the source is carried as bytes. */
static const char conf_a[] = "; caf\xe9 \xff\n"
                             "[handoff]\n"
                             "control = %s/a.sock\n"
                             "metrics = 127.0.0.1:0\n"
                             "probe_ports = 24000-24999\n"
                             "[listen web]\n"
                             "address = 127.0.0.1:0\n"
                             "[listen admin]\n"
                             "address = 127.0.0.1:0\n"
                             "traffic = shared\n"
                             "[worker]\n"
                             "command = /bin/sleep 100\n"
                             "processes = 2\n";

/* A reload naming another control socket, metrics and probe ports. */
static const char conf_b[] = "[handoff]\n"
                             "control = %s/b.sock\n"
                             "metrics = 127.0.0.1:1\n"
                             "probe_ports = 25000-25999\n"
                             "[listen web]\n"
                             "address = 127.0.0.1:0\n"
                             "[worker]\n"
                             "command = /bin/sleep 101\n"
                             "processes = 3\n"
                             "drain_timeout = 9s\n";

static const char conf_c[] = "[handoff]\n"
                             "control = %s/c.sock\n"
                             "[listen api]\n"
                             "address = 127.0.0.3:0\n"
                             "traffic = shared\n"
                             "[listen web]\n"
                             "address = 127.0.0.1:0\n"
                             "[worker]\n"
                             "command = /bin/sleep 102\n"
                             "processes = 1\n";

/* What the file says when the new image starts. */
static const char conf_now[] = "[handoff]\n"
                               "control = %s/now.sock\n"
                               "[listen other]\n"
                               "address = 127.0.0.1:0\n"
                               "[worker]\n"
                               "command = /bin/echo edited\n"
                               "processes = 9\n";

/*
 * Plan 1 (web, admin) runs gen 1, kept; plan 2 (web, shared with plan 1)
 * runs gen 2, active, and gen 3, a canary of the same plan; plan 3 (api,
 * web) is reloaded, waiting for its roll. Workers: gen 2 slot 0 and gen 3
 * slot 3 (a slot added past processes); gen 2 slot 1 retired.
 */
static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct gen *g1, *g2, *g3;
    struct plan *p;

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_gens_state.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/handoff.conf", fx->dir);
    parse_args(&fx->args, (const char *[]){"-c", fx->path, NULL});
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    fx->cc = (struct channel_ctx){&fx->loop, ready, fx};
    fx->wc =
        (struct worker_ctx){&fx->loop, &fx->reaper,  &fx->cc, &fx->rc, "",  "",
                            exited,    not_stopping, fx,      NULL,    NULL};

    fx->t.plan = load_plan(fx, conf_a, NULL);
    fx->t.plan->id = ++fx->t.next_id;
    g1 = gens_add(&fx->t, &fx->loop, 1, fx->t.plan, 111111111111111111ULL);
    assert_non_null(g1);

    gens_set_next(&fx->t, load_plan(fx, conf_b, fx->t.plan->cfg));
    g2 = gens_add(&fx->t, &fx->loop, 2, fx->t.next, 222222222222222222ULL);
    assert_non_null(g2);
    plan_unref(fx->t.next); /* the generation holds it now */
    fx->t.next = NULL;
    plan_unref(fx->t.plan); /* gen 2 promoted */
    fx->t.plan = plan_ref(g2->plan);
    g3 = gens_add(&fx->t, &fx->loop, 3, fx->t.plan, 333333333333333333ULL);
    assert_non_null(g3);
    assert_int_equal(gen_reserve(g3, 4), 0);

    p = load_plan(fx, conf_c, fx->t.plan->cfg);
    gens_set_next(&fx->t, p);

    g1->state = GEN_KEPT;
    g1->join_failed = 1;
    g2->state = GEN_ACTIVE;
    g2->bypassed = 1;
    g3->state = GEN_CANARY;
    g3->killed = 1;
    g2->slots[1].retired = 1;
    fx->pids[0] = add_worker(fx, g3, 3)->child.pid;
    fx->pids[1] = add_worker(fx, g2, 0)->child.pid;

    print_to(g1->plan->cfg, fx->printed[0], sizeof(fx->printed[0]));
    print_to(g2->plan->cfg, fx->printed[1], sizeof(fx->printed[1]));
    print_to(fx->t.next->cfg, fx->printed[2], sizeof(fx->printed[2]));
    /* The file changes on disk: what runs is what was loaded. */
    {
        char text[1024];
        snprintf(text, sizeof(text), conf_now, fx->dir);
        write_file(fx->path, text);
    }
    *state = fx;
    return 0;
}

/* --- what an exec leaves ------------------------------------------------- */

/* The listeners of t's live plans, each once. */
static void
collect(struct listener *l, void *arg)
{
    struct listener **ls = arg;
    size_t i = 0;

    while (ls[i] != NULL)
        i++;
    assert_true(i < MAXLS - 1);
    ls[i] = l;
}

static void
listeners_of(const struct gens *t, struct listener **ls)
{
    struct plan *live[MAXLS];
    size_t n = gens_live_plans(t, live, MAXLS);

    memset(ls, 0, MAXLS * sizeof(*ls));
    plan_each_listener(live, n, collect, ls);
}

/*
 * t's memory freed without closing a descriptor or reaping a process:
 * what an exec does to the old image, whose descriptors and children the
 * new one now holds (the same process here).
 */
static void
forget(struct gens *t)
{
    struct listener *ls[MAXLS];
    struct plan *live[MAXLS];
    size_t n;

    listeners_of(t, ls);
    n = gens_live_plans(t, live, MAXLS);
    for (struct gen *g = t->list; g; g = g->next)
        for (size_t i = 0; i < g->nslots; i++) {
            struct worker *w = g->slots[i].w;
            if (w == NULL)
                continue;
            handle_close(w->chan->poll);
            free(w->chan);
            free(w);
            g->slots[i].w = NULL;
        }
    for (size_t i = 0; i < n; i++)
        if (live[i] != NULL)
            live[i]->nls = 0; /* their listeners are not unreferenced */
    gens_free(t);
    for (size_t i = 0; ls[i] != NULL; i++) {
        free(ls[i]->steer); /* not steer_close: the sockets live on */
        free(ls[i]);
    }
}

static void
count_open(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        ++*(int *)arg;
}

/* Handles open on the loop once those closed are gone. */
static int
open_handles(uv_loop_t *loop)
{
    int n = 0;

    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, count_open, &n);
    return n;
}

static void
wait_exits(struct fixture *fx, int n)
{
    for (int i = 0; i < 5000 && fx->nexited < n; i++) {
        reap_all(&fx->reaper);
        if (fx->nexited < n) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    assert_int_equal(fx->nexited, n);
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    for (int i = 0; i < 2; i++)
        if (fx->pids[i] > 0) {
            kill(fx->pids[i], SIGKILL);
            waitpid(fx->pids[i], NULL, 0);
        }
    if (fx->t.plan != NULL)
        gens_free(&fx->t); /* the only owner: closes everything */
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    config_args_free(&fx->args);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* What an exec carries: the object as text, read back. */
static json_t *
through_text(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_t *back;

    assert_non_null(s);
    back = json_loads(s, 0, NULL);
    assert_non_null(back);
    free(s);
    json_decref(o);
    return back;
}

static int
cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    assert_true(fl >= 0);
    return (fl & FD_CLOEXEC) != 0;
}

/* Every descriptor of t's listeners and workers, into fds; how many. */
static size_t
fds_of(const struct gens *t, int *fds, size_t cap)
{
    struct listener *ls[MAXLS];
    size_t n = 0;

    listeners_of(t, ls);
    for (size_t i = 0; ls[i] != NULL; i++) {
        if (ls[i]->fd >= 0 && n < cap)
            fds[n++] = ls[i]->fd;
        for (size_t j = 0; ls[i]->steer != NULL && j < ls[i]->steer->n; j++)
            if (n < cap)
                fds[n++] = ls[i]->steer->m[j].fd;
    }
    for (const struct gen *g = t->list; g; g = g->next)
        for (size_t i = 0; i < g->nslots; i++)
            if (g->slots[i].w != NULL && n < cap)
                fds[n++] = g->slots[i].w->chan->fd;
    return n;
}

static struct gen *
nth(const struct gens *t, int n)
{
    struct gen *g = t->list;

    while (g != NULL && n-- > 0)
        g = g->next;
    assert_non_null(g);
    return g;
}

/* l's shared socket, or the first of its group. */
static int
a_fd(const struct listener *l)
{
    if (l->steer != NULL)
        return l->steer->n > 0 ? l->steer->m[0].fd : -1;
    return l->fd;
}

static struct gens_adopt
adopt_args(struct fixture *fx)
{
    return (struct gens_adopt){&fx->loop, &fx->args, &fx->wc};
}

/* --- the round trip ------------------------------------------------------ */

static void
round_trip_rebuilds_the_same_table(void **state)
{
    struct fixture *fx = *state;
    struct gens_adopt a = adopt_args(fx);
    struct gens t2 = {0};
    struct gen *o1 = nth(&fx->t, 2), *o2 = nth(&fx->t, 1), *n1, *n2, *n3;
    struct listener *web, *admin, *api;
    char err[1024] = "", buf[4096], sock[128];
    int fds[32], cfds[3];
    size_t nfds;
    const char *src_a = o1->plan->source, *src_c = fx->t.next->source;
    char *copy_a, *copy_c;
    size_t len_a = o1->plan->source_len, len_c = fx->t.next->source_len;
    int web_fd = a_fd(o1->plan->ls[0]);
    char web_bound[ADDR_STRLEN], admin_bound[ADDR_STRLEN];
    json_t *o;

    snprintf(web_bound, sizeof(web_bound), "%s", o1->plan->ls[0]->bound_text);
    snprintf(admin_bound, sizeof(admin_bound), "%s",
             o1->plan->ls[1]->bound_text);
    copy_a = malloc(len_a);
    copy_c = malloc(len_c);
    assert_non_null(copy_a);
    assert_non_null(copy_c);
    memcpy(copy_a, src_a, len_a);
    memcpy(copy_c, src_c, len_c);
    cfds[0] = o2->slots[0].w->chan->fd;
    cfds[1] = nth(&fx->t, 0)->slots[3].w->chan->fd;

    o = gens_state_write(&fx->t);
    assert_non_null(o);
    nfds = fds_of(&fx->t, fds, 32);
    assert_true(nfds >= 5); /* web, admin, api, two channels */
    assert_int_equal(gens_state_inherit(&fx->t, 1), 0);
    for (size_t i = 0; i < nfds; i++)
        if (cloexec(fds[i]))
            fail_msg("fd %d is still close-on-exec", fds[i]);
    o = through_text(o);
    forget(&fx->t);
    memset(&fx->t, 0, sizeof(fx->t));

    if (gens_state_adopt(&t2, o, &a, err, sizeof(err)) != 0)
        fail_msg("adopt: %s", err);
    json_decref(o);

    /* the plans: ids, the same struct shared, what refers to them */
    assert_int_equal(t2.next_id, 3);
    assert_non_null(t2.plan);
    assert_non_null(t2.next);
    assert_int_equal(t2.plan->id, 2);
    assert_int_equal(t2.next->id, 3);
    n3 = nth(&t2, 0);
    n2 = nth(&t2, 1);
    n1 = nth(&t2, 2);
    assert_null(n1->next);
    assert_int_equal(n3->id, 3);
    assert_int_equal(n2->id, 2);
    assert_int_equal(n1->id, 1);
    assert_ptr_equal(n3->plan, t2.plan);
    assert_ptr_equal(n2->plan, t2.plan);
    assert_int_equal(n1->plan->id, 1);
    assert_int_equal(n1->plan->refs, 1);
    assert_int_equal(t2.plan->refs, 3); /* gens 2 and 3, active */
    assert_int_equal(t2.next->refs, 1);

    /* the listeners: adopted, shared by the same struct */
    assert_int_equal(n1->plan->nls, 2);
    assert_int_equal(t2.plan->nls, 1);
    assert_int_equal(t2.next->nls, 2);
    web = n1->plan->ls[0];
    admin = n1->plan->ls[1];
    api = t2.next->ls[0];
    assert_ptr_equal(t2.plan->ls[0], web);
    assert_ptr_equal(t2.next->ls[1], web);
    assert_true(web_fd >= 0);
    assert_string_equal(web->bound_text, web_bound);
    assert_string_equal(admin->bound_text, admin_bound);
    assert_string_equal(api->name, "api");
    assert_int_equal(a_fd(web), web_fd);
    assert_int_equal(web->refs, 3);
    assert_int_equal(admin->refs, 1);
    assert_int_equal(api->refs, 1);

    /* the configurations: as loaded, not as the file now says */
    assert_non_null(memchr(copy_a, 0xe9, len_a)); /* not UTF-8 */
    assert_int_equal(n1->plan->source_len, len_a);
    assert_memory_equal(n1->plan->source, copy_a, len_a);
    assert_int_equal(t2.next->source_len, len_c);
    assert_memory_equal(t2.next->source, copy_c, len_c);
    print_to(n1->plan->cfg, buf, sizeof(buf));
    assert_string_equal(buf, fx->printed[0]);
    print_to(t2.plan->cfg, buf, sizeof(buf));
    assert_string_equal(buf, fx->printed[1]);
    print_to(t2.next->cfg, buf, sizeof(buf));
    assert_string_equal(buf, fx->printed[2]);
    assert_int_equal(t2.plan->cfg->processes, 3);
    assert_int_equal(t2.plan->cfg->drain_timeout, 9000);
    /* start-only keys: the ones handoff started with, whatever the
     * reloaded files said */
    snprintf(sock, sizeof(sock), "%s/a.sock", fx->dir);
    assert_string_equal(t2.plan->cfg->control, sock);
    assert_string_equal(t2.next->cfg->control, sock);
    assert_string_equal(t2.next->cfg->metrics, "127.0.0.1:0");
    assert_int_equal(t2.plan->cfg->probe_lo, 24000);
    assert_int_equal(t2.next->cfg->probe_hi, 24999);

    /* the generations */
    assert_int_equal(n3->state, GEN_CANARY);
    assert_int_equal(n2->state, GEN_ACTIVE);
    assert_int_equal(n1->state, GEN_KEPT);
    assert_int_equal(n3->started_ns, 333333333333333333ULL);
    assert_int_equal(n2->started_ns, 222222222222222222ULL);
    assert_int_equal(n1->started_ns, 111111111111111111ULL);
    assert_int_equal(n3->killed, 1);
    assert_int_equal(n3->bypassed + n3->join_failed, 0);
    assert_int_equal(n2->bypassed, 1);
    assert_int_equal(n2->killed + n2->join_failed, 0);
    assert_int_equal(n1->join_failed, 1);
    assert_int_equal(n1->killed + n1->bypassed, 0);
    assert_non_null(n1->timer);
    assert_non_null(n2->timer);
    assert_non_null(n3->timer);

    /* the slots and workers */
    assert_int_equal(n3->nslots, 4);
    assert_int_equal(n2->nslots, 3);
    assert_int_equal(n1->nslots, 2);
    assert_int_equal(n2->slots[1].retired, 1);
    assert_int_equal(n2->slots[0].retired + n2->slots[2].retired, 0);
    assert_null(n2->slots[1].w);
    assert_null(n2->slots[2].w);
    assert_null(n3->slots[0].w);
    assert_null(n1->slots[0].w);
    assert_non_null(n3->slots[3].w);
    assert_non_null(n2->slots[0].w);
    assert_int_equal(n3->slots[3].w->child.pid, fx->pids[0]);
    assert_int_equal(n3->slots[3].w->slot, 3);
    assert_ptr_equal(n3->slots[3].w->gen, n3);
    assert_int_equal(n3->slots[3].w->chan->fd, cfds[1]);
    assert_int_equal(n3->slots[3].w->chan->requests, 13);
    assert_string_equal(n3->slots[3].w->status, "gen 3 serving");
    assert_int_equal(n2->slots[0].w->child.pid, fx->pids[1]);
    assert_int_equal(n2->slots[0].w->slot, 0);
    assert_ptr_equal(n2->slots[0].w->gen, n2);
    assert_int_equal(n2->slots[0].w->chan->fd, cfds[0]);
    assert_int_equal(n2->slots[0].w->ready_ns, 2002);

    /* Adopted: close-on-exec again, and the workers' exits reach the new
     * owner. */
    for (size_t i = 0; i < nfds; i++)
        if (!cloexec(fds[i]))
            fail_msg("fd %d is not close-on-exec after adoption", fds[i]);
    kill(fx->pids[0], SIGKILL);
    kill(fx->pids[1], SIGKILL);
    wait_exits(fx, 2);
    fx->pids[0] = fx->pids[1] = 0;
    assert_null(n3->slots[3].w);
    assert_null(n2->slots[0].w);

    free(copy_a);
    free(copy_c);
    fx->t = t2; /* freed, and everything closed, by teardown */
}

/* --- busy and inherit ---------------------------------------------------- */

static unsigned
no_port(void *ctx, struct gen *g)
{
    (void)ctx, (void)g;
    return 0;
}

static void
busy_names_the_worker(void **state)
{
    struct fixture *fx = *state;
    struct worker *w = nth(&fx->t, 1)->slots[0].w;
    struct probe_host host = {&fx->loop, &fx->reaper};
    char why[256] = "", want[128];
    const char *arg;
    uint64_t interval;
    enum ready_kind was;
    struct config *c;
    int rc;

    assert_int_equal(gens_state_busy(&fx->t, why, sizeof(why)), 0);
    w->exec_report = dup(2); /* not read: only its presence counts */
    assert_true(w->exec_report >= 0);
    assert_int_equal(gens_state_busy(&fx->t, why, sizeof(why)), 1);
    snprintf(want, sizeof(want), "gen 2 pid %d: its exec is not reported yet",
             (int)w->child.pid);
    assert_string_equal(why, want);
    close(w->exec_report);
    w->exec_report = -1;
    /* A readiness check: between its probes only a timer, which the next
     * image starts again; busy while a probe (here a command) runs. */
    c = w->gen->plan->cfg;
    was = c->ready;
    arg = c->ready_arg;
    interval = c->ready_interval;
    c->ready = READY_EXEC;
    c->ready_arg = "sleep 5";
    c->ready_interval = 60000;
    fx->rc = (struct readiness_ctx){&host, no_port, ready, fx};
    assert_int_equal(readiness_start(&fx->rc, w), 0);
    assert_int_equal(gens_state_busy(&fx->t, why, sizeof(why)), 0);
    for (int i = 0; i < 100 && !readiness_busy(w); i++)
        uv_run(&fx->loop, UV_RUN_ONCE); /* its first probe: after 50 ms */
    rc = gens_state_busy(&fx->t, why, sizeof(why));
    readiness_stop(w); /* before any assertion: teardown frees w */
    c->ready = was;
    c->ready_arg = arg;
    c->ready_interval = interval;
    assert_int_equal(rc, 1);
    assert_non_null(strstr(why, "readiness check's command is running"));
    assert_int_equal(gens_state_busy(&fx->t, why, sizeof(why)), 0);
}

static void
inherit_both_ways_and_all_or_nothing(void **state)
{
    struct fixture *fx = *state;
    struct worker *w = nth(&fx->t, 1)->slots[0].w; /* gen 2's */
    int fds[32], chan = w->chan->fd, closed;
    size_t n = fds_of(&fx->t, fds, 32);

    for (size_t i = 0; i < n; i++)
        assert_true(cloexec(fds[i]));
    assert_int_equal(gens_state_inherit(&fx->t, 1), 0);
    for (size_t i = 0; i < n; i++)
        assert_false(cloexec(fds[i]));
    assert_int_equal(gens_state_inherit(&fx->t, 0), 0);
    for (size_t i = 0; i < n; i++)
        assert_true(cloexec(fds[i]));

    /* One descriptor that cannot be kept: all left as they were. */
    closed = dup(chan);
    assert_true(closed >= 0);
    close(closed);
    w->chan->fd = closed;
    assert_int_equal(gens_state_inherit(&fx->t, 1), -EBADF);
    w->chan->fd = chan;
    for (size_t i = 0; i < n; i++)
        if (!cloexec(fds[i]))
            fail_msg("fd %d left inheritable after a failure", fds[i]);
}

/* --- refusals ------------------------------------------------------------ */

/* The index in o's plans of plan id. */
static size_t
plan_index(const json_t *o, unsigned id)
{
    const json_t *plans = json_object_get(o, "plans");

    for (size_t i = 0; i < json_array_size(plans); i++)
        if (json_integer_value(
                json_object_get(json_array_get(plans, i), "id")) == id)
            return i;
    fail_msg("no plan %u", id);
    return 0;
}

static json_t *
at(json_t *o, const char *path)
{
    /* "plans.1.listeners": keys and indexes */
    char buf[128], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        o = json_is_array(o) ? json_array_get(o, strtoul(k, NULL, 10))
                             : json_object_get(o, k);
    assert_non_null(o);
    return o;
}

static json_t *
hex(const char *s)
{
    char buf[512];
    size_t n = strlen(s);

    assert_true(2 * n < sizeof(buf));
    for (size_t i = 0; i < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", (unsigned char)s[i]);
    buf[2 * n] = '\0';
    return json_string(buf);
}

static int
nfds_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* o with path's key set to v (taken) is refused: rc and want in err;
 * nothing adopted, nothing closed. */
static void
refused(struct fixture *fx, const json_t *o, const char *path, const char *key,
        json_t *v, const char *want, int check_too)
{
    struct gens_adopt a = adopt_args(fx);
    json_t *c = json_deep_copy(o), *where = at(c, path);
    struct gens t2 = {0};
    char err[1024] = "";
    int fds[32], handles = open_handles(&fx->loop), open = nfds_open(), rc;
    size_t n = fds_of(&fx->t, fds, 32);

    if (json_is_array(where))
        assert_int_equal(json_array_set_new(where, strtoul(key, NULL, 10), v),
                         0);
    else
        assert_int_equal(json_object_set_new(where, key, v), 0);
    rc = gens_state_adopt(&t2, c, &a, err, sizeof(err));
    if (rc != -EINVAL || strstr(err, want) == NULL)
        fail_msg("%d \"%s\", not -EINVAL \"%s\"", rc, err, want);
    assert_null(t2.list);
    assert_null(t2.plan);
    assert_null(t2.next);
    assert_null(fx->reaper.children);
    assert_int_equal(open_handles(&fx->loop), handles);
    for (size_t i = 0; i < n; i++)
        if (fcntl(fds[i], F_GETFD) < 0)
            fail_msg("fd %d closed by a refused adoption", fds[i]);
    assert_int_equal(nfds_open(), open); /* nor any opened */
    /* and the check, which has no descriptors, when it can tell */
    err[0] = '\0';
    if (check_too &&
        (gens_state_check(c, &fx->args, err, sizeof(err)) != -EINVAL ||
         strstr(err, want) == NULL))
        fail_msg("check: \"%s\", not \"%s\"", err, want);
    json_decref(c);
}

static void
bad_objects_are_refused_naming_the_field(void **state)
{
    struct fixture *fx = *state;
    struct gens_adopt a = adopt_args(fx);
    json_t *o = through_text(gens_state_write(&fx->t));
    char path[64], want[CONFIG_ERRLEN], err[1024] = "";
    size_t pa = plan_index(o, 1), pb = plan_index(o, 2), pc;
    struct gens t2 = {0};

    assert_int_equal(gens_state_inherit(&fx->t, 1), 0);
    /* As after the exec: the old image watches its channels no more (one
     * loop takes one watcher per descriptor). */
    for (struct gen *g = fx->t.list; g; g = g->next)
        for (size_t i = 0; i < g->nslots; i++)
            if (g->slots[i].w != NULL) {
                handle_close(g->slots[i].w->chan->poll);
                g->slots[i].w->chan->poll = NULL;
            }
    refused(fx, o, "list.1", "plan", json_integer(9),
            "gens.list[1].plan: 9 is not a plan's id", 1);
    snprintf(path, sizeof(path), "plans.%zu.listeners", pa);
    snprintf(want, sizeof(want),
             "gens.plans[%zu].listeners[1]: 7 is not one of 0..2", pa);
    refused(fx, o, path, "1", json_integer(7), want, 1);
    /* api and web swapped in plan 3: not the sockets of its sections */
    pc = plan_index(o, 3);
    snprintf(path, sizeof(path), "plans.%zu.listeners", pc);
    snprintf(want, sizeof(want),
             "gens.plans[%zu].listeners[0]: listener web (%s) is not the "
             "configuration's api (127.0.0.3:0)",
             pc, fx->t.plan->ls[0]->bound_text);
    {
        const json_t *ls = at(o, path);
        json_t *swapped =
            json_pack("[I,I]", json_integer_value(json_array_get(ls, 1)),
                      json_integer_value(json_array_get(ls, 0)));
        snprintf(path, sizeof(path), "plans.%zu", pc);
        refused(fx, o, path, "listeners", swapped, want, 0);
    }
    snprintf(path, sizeof(path), "plans.%zu", pb);
    snprintf(want, sizeof(want), "gens.plans[%zu].source: not hex", pb);
    refused(fx, o, path, "source", json_string("5b7z"), want, 1);
    refused(fx, o, path, "source", json_string("5b6"), want, 1);
    snprintf(want, sizeof(want),
             "gens.plans[%zu].source: %s:5: processes: ", pb, fx->path);
    refused(fx, o, path, "source",
            hex("[listen web]\naddress = 127.0.0.1:0\n[worker]\n"
                "command = /bin/true\nprocesses = many\n"),
            want, 1);
    /* A configuration whose listeners are not those recorded: refused,
     * no socket opened for it. */
    snprintf(want, sizeof(want),
             "gens.plans[%zu].listeners: 1 recorded, the configuration has 2",
             pb);
    refused(fx, o, path, "source",
            hex("[listen web]\naddress = 127.0.0.1:0\n"
                "[listen more]\naddress = 127.0.0.4:0\n"
                "[worker]\ncommand = /bin/true\n"),
            want, 1);
    snprintf(want, sizeof(want),
             "gens.plans[%zu].listeners[0]: listener web (%s) is not the "
             "configuration's web (127.0.0.5:0)",
             pb, nth(&fx->t, 1)->plan->ls[0]->bound_text);
    refused(fx, o, path, "source",
            hex("[listen web]\naddress = 127.0.0.5:0\n"
                "[worker]\ncommand = /bin/true\n"),
            want, 0);
    snprintf(want, sizeof(want),
             "gens.list[1].slots[0].w.pid: %d is list[0].slots[3].w's too",
             (int)fx->pids[0]);
    refused(fx, o, "list.1.slots.0.w", "pid", json_integer(fx->pids[0]), want,
            1);
    snprintf(want, sizeof(want),
             "gens.list[1].slots[0].w.pid: %d is not a child of handoff",
             (int)getppid());
    refused(fx, o, "list.1.slots.0.w", "pid", json_integer(getppid()), want, 0);

    /* After every refusal, the object itself is adopted whole. */
    if (gens_state_adopt(&t2, o, &a, err, sizeof(err)) != 0)
        fail_msg("adopt after refusals: %s", err);
    forget(&fx->t);
    fx->t = t2;
    kill(fx->pids[0], SIGKILL);
    kill(fx->pids[1], SIGKILL);
    wait_exits(fx, 2);
    fx->pids[0] = fx->pids[1] = 0;
    json_decref(o);
}

/* --- the check ----------------------------------------------------------- */

static void
check_reads_without_the_descriptors(void **state)
{
    struct fixture *fx = *state;
    json_t *o = through_text(gens_state_write(&fx->t)), *c;
    char err[1024] = "", want[CONFIG_ERRLEN];
    size_t pb = plan_index(o, 2);
    int handles = open_handles(&fx->loop), before = nfds_open();

    if (gens_state_check(o, &fx->args, err, sizeof(err)) != 0)
        fail_msg("check: %s", err);
    assert_int_equal(nfds_open(), before);
    assert_int_equal(open_handles(&fx->loop), handles);
    assert_null(fx->reaper.children);
    /* as handoff --upgrade-check runs it: a child that holds none of the
     * listeners, channels or workers */
    {
        pid_t pid = fork();
        int status;

        if (pid == 0) {
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
            _exit(gens_state_check(o, &fx->args, err, sizeof(err)) == 0 ? 0
                                                                        : 1);
        }
        assert_true(pid > 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    c = json_deep_copy(o);
    json_object_set_new(json_array_get(at(c, "plans"), pb), "source",
                        hex("[worker]\nprocesses = 0x\n"));
    assert_int_equal(gens_state_check(c, &fx->args, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want),
             "gens.plans[%zu].source: %s:2: processes: ", pb, fx->path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("\"%s\", not \"%s...\"", err, want);
    json_decref(c);

    c = json_deep_copy(o);
    json_object_set_new(c, "next", json_integer(8));
    assert_int_equal(gens_state_check(c, &fx->args, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "gens.next: 8 is not a plan's id"));
    json_decref(c);

    /* A plan nothing holds would be dropped, its listeners closed, as
     * soon as it was adopted. */
    c = json_deep_copy(o);
    json_object_set_new(c, "next", json_integer(0));
    assert_int_equal(gens_state_check(c, &fx->args, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want),
             "gens.plans[%zu].id: 3 is neither the active plan, the next one "
             "nor a generation's",
             plan_index(o, 3));
    assert_string_equal(err, want);
    json_decref(c);
    json_decref(o);
}

/* A field added to these structs must be carried (gens_state.c) or said
 * there to be rebuilt; then the size here changes with it. */
static void
every_field_is_carried(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_int_equal(sizeof(struct gens), 32);
    assert_int_equal(sizeof(struct gen), 72);
    assert_int_equal(sizeof(struct plan), 48);
    assert_int_equal(sizeof(struct slot), 16);
#else
    skip();
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_rebuilds_the_same_table,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(busy_names_the_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(inherit_both_ways_and_all_or_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            bad_objects_are_refused_naming_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(check_reads_without_the_descriptors,
                                        setup, teardown),
        cmocka_unit_test(every_field_is_carried),
    };

    log_setup(LOG_ERROR, LOG_LOGFMT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
