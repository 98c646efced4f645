/* test_metrics.c: the metrics text of a deployment's view, and the HTTP request parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "metrics.h"
#include "view.h"

static enum metrics_http
parse(const char *s)
{
    return metrics_http_parse(s, strlen(s));
}

static void
requests_get_metrics_only(void **state)
{
    static const struct {
        const char *req;
        enum metrics_http want;
    } cases[] = {
        {"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
         METRICS_HTTP_GET},
        {"GET /metrics HTTP/1.0\r\n\r\n", METRICS_HTTP_GET},
        {"GET /metrics HTTP/1.0\n\n", METRICS_HTTP_GET},
        {"GET /metrics?x=1 HTTP/1.1\r\n\r\n", METRICS_HTTP_GET},
        {"HEAD /metrics HTTP/1.1\r\n\r\n", METRICS_HTTP_HEAD},
        {"GET / HTTP/1.1\r\n\r\n", METRICS_HTTP_NOT_FOUND},
        {"GET /metricsx HTTP/1.1\r\n\r\n", METRICS_HTTP_NOT_FOUND},
        {"GET /metric HTTP/1.1\r\n\r\n", METRICS_HTTP_NOT_FOUND},
        {"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
         METRICS_HTTP_METHOD},
        {"get /metrics HTTP/1.1\r\n\r\n", METRICS_HTTP_METHOD},
        {"GET /metrics HTTP/2.0\r\n\r\n", METRICS_HTTP_BAD},
        {"GET /metrics\r\n\r\n", METRICS_HTTP_BAD},
        {"GET  /metrics HTTP/1.1\r\n\r\n", METRICS_HTTP_BAD},
        {" GET /metrics HTTP/1.1\r\n\r\n", METRICS_HTTP_BAD},
        {"G(T /metrics HTTP/1.1\r\n\r\n", METRICS_HTTP_BAD},
        {"GET /metrics HTTP/1.1 \r\n\r\n", METRICS_HTTP_BAD},
        {"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", METRICS_HTTP_BAD},
        {"\r\n\r\n", METRICS_HTTP_BAD},
        {"GET /metrics HTTP/1.1\r\n", METRICS_HTTP_MORE},
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n", METRICS_HTTP_MORE},
        {"GET /metr", METRICS_HTTP_MORE},
        {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", METRICS_HTTP_HEALTHZ},
        {"GET /healthz?verbose HTTP/1.1\r\n\r\n", METRICS_HTTP_HEALTHZ},
        {"GET /readyz HTTP/1.0\r\n\r\n", METRICS_HTTP_READYZ},
        {"HEAD /readyz HTTP/1.1\r\n\r\n", METRICS_HTTP_METHOD},
        {"POST /healthz HTTP/1.1\r\n\r\n", METRICS_HTTP_METHOD},
        {"GET /healthzz HTTP/1.1\r\n\r\n", METRICS_HTTP_NOT_FOUND},
        {"GET /ready HTTP/1.1\r\n\r\n", METRICS_HTTP_NOT_FOUND},
        {"", METRICS_HTTP_MORE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (parse(cases[i].req) != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, (int)parse(cases[i].req),
                     (int)cases[i].want);
}

static void
requests_split_across_reads_wait_for_the_blank_line(void **state)
{
    const char *req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"
                      "User-Agent: Prometheus/2\r\n\r\n";
    size_t n = strlen(req);

    /* Every prefix, as reads of any size would deliver it. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(metrics_http_parse(req, i), METRICS_HTTP_MORE);
    assert_int_equal(metrics_http_parse(req, n), METRICS_HTTP_GET);
}

static void
oversized_requests_are_refused(void **state)
{
    char *big = malloc(METRICS_REQUEST_MAX);
    size_t head = strlen("GET /metrics HTTP/1.1\r\nX: ");

    assert_non_null(big);
    memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", head);
    memset(big + head, 'a', METRICS_REQUEST_MAX - head);
    assert_int_equal(metrics_http_parse(big, METRICS_REQUEST_MAX - 1),
                     METRICS_HTTP_MORE);
    assert_int_equal(metrics_http_parse(big, METRICS_REQUEST_MAX),
                     METRICS_HTTP_TOO_LARGE);
    /* No newline at all: the same. */
    memset(big, 'G', METRICS_REQUEST_MAX);
    assert_int_equal(metrics_http_parse(big, METRICS_REQUEST_MAX),
                     METRICS_HTTP_TOO_LARGE);
    free(big);
}

static void
histograms_count_into_buckets(void **state)
{
    struct metrics_hist h = {0};

    metrics_hist_observe(&h, 0.3);
    metrics_hist_observe(&h, 7);
    metrics_hist_observe(&h, 1000);
    metrics_hist_observe(&h, 0.01); /* on a bound: in it */
    assert_int_equal(h.count, 4);
    assert_int_equal(h.bucket[0], 1);
    assert_int_equal(h.bucket[5], 1);  /* 0.5 */
    assert_int_equal(h.bucket[9], 1);  /* 10 */
    assert_int_equal(h.bucket[METRICS_NBUCKETS], 1);
    assert_true(h.sum > 1007.30 && h.sum < 1007.32);
}

static int
fake_proc(pid_t pid, struct metrics_proc *out)
{
    out->rss_bytes = pid == 0 ? 5000 : 1000 * (uint64_t)pid;
    out->cpu_seconds = 0.5;
    out->open_fds = pid == 0 ? 9 : -1;
    return 0;
}

static void
expect(const char *text, const char *line)
{
    char *want = malloc(strlen(line) + 3);

    sprintf(want, "\n%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("no line \"%s\" in:\n%s", line, text);
    free(want);
}

/* A TCP listener's queue counts connections; a UDP one's, bytes and drops,
 * each in its own family. */
static void
listeners_by_kind(void **state)
{
    struct view_listener ls[2] = {
        {.name = "web",
         .backlog = 511,
         .nqueues = 2,
         .queues = {{.gen = 3, .length = 4, .drops = -1},
                    {.gen = 2, .length = 0, .drops = -1}}},
        {.name = "dns",
         .dgram = 1,
         .backlog = 511,
         .nqueues = 2,
         .queues = {{.gen = 3, .length = 768, .drops = 0},
                    {.gen = 2, .length = 0, .drops = 12}}},
    };
    struct view v = {.listeners = ls, .nlisteners = 2};
    struct control_buf b = {0};

    (void)state;
    metrics_render(&v, &b, NULL);
    assert_false(b.failed);
    expect(b.s, "handoff_listener_backlog{listener=\"web\"} 511");
    expect(
        b.s,
        "handoff_listener_queue_length{listener=\"web\",generation=\"3\"} 4");
    expect(b.s, "handoff_listener_receive_queue_bytes{listener=\"dns\","
                "generation=\"3\"} 768");
    expect(b.s, "handoff_listener_receive_queue_bytes{listener=\"dns\","
                "generation=\"2\"} 0");
    expect(b.s, "handoff_listener_receive_drops_total{listener=\"dns\","
                "generation=\"2\"} 12");
    expect(b.s, "# TYPE handoff_listener_receive_drops_total counter");
    assert_null(strstr(b.s, "handoff_listener_backlog{listener=\"dns\"}"));
    assert_null(strstr(b.s, "queue_length{listener=\"dns\""));
    assert_null(strstr(b.s, "receive_queue_bytes{listener=\"web\""));
    assert_null(strstr(b.s, "drops_total{listener=\"web\""));
    free(b.s);
}

static void
the_text_follows_the_deployments_view(void **state)
{
    struct view_proc p3[2] = {{.slot = 0, .w = DW_READY, .pid = 100},
                              {.slot = 1, .w = DW_STARTING, .pid = 101}};
    struct metrics_data data = {0};
    struct view v = {
        .rolls_ok = 2, .rolls_failed = 1, .restarts = 1,
        .rollbacks = {[DEPLOY_CRASH] = 3, [DEPLOY_OPERATOR] = 1},
        .ngens = 2,
        .gens = {{.id = 3, .state = GEN_ACTIVE, .routed = 1,
                  .share_bps = 10000, .restarts = 1, .procs = p3, .nprocs = 2},
                 {.id = 2, .state = GEN_DRAINING}},
        .data = &data,
    };
    struct control_buf b = {0};

    (void)state;
    metrics_hist_observe(&data.roll, 0.3);
    metrics_hist_observe(&data.roll, 7);
    metrics_hist_observe(&data.ready, 0.02);
    metrics_render(&v, &b, fake_proc);
    assert_false(b.failed);
    expect(b.s, "handoff_build_info{version=\"" PACKAGE_VERSION "\"} 1");
    expect(b.s, "handoff_rolls_total{outcome=\"promoted\"} 2");
    expect(b.s, "handoff_rolls_total{outcome=\"failed\"} 1");
    expect(b.s, "handoff_rollbacks_total{guard=\"crash\"} 3");
    expect(b.s, "handoff_rollbacks_total{guard=\"operator\"} 1");
    /* A cause that never happened is a 0, not a missing series. */
    expect(b.s, "handoff_rollbacks_total{guard=\"probe\"} 0");
    expect(b.s, "handoff_rollbacks_total{guard=\"latency\"} 0");
    expect(b.s, "# TYPE handoff_roll_seconds histogram");
    expect(b.s, "handoff_roll_seconds_bucket{le=\"0.25\"} 0");
    expect(b.s, "handoff_roll_seconds_bucket{le=\"0.5\"} 1");
    expect(b.s, "handoff_roll_seconds_bucket{le=\"10\"} 2");
    expect(b.s, "handoff_roll_seconds_bucket{le=\"+Inf\"} 2");
    expect(b.s, "handoff_roll_seconds_sum 7.300000");
    expect(b.s, "handoff_roll_seconds_count 2");
    expect(b.s, "handoff_ready_seconds_count 1");
    expect(b.s, "handoff_drain_seconds_count 0");
    expect(b.s, "handoff_generation_state{generation=\"3\",state=\"active\"} 1");
    expect(b.s, "handoff_generation_state{generation=\"3\",state=\"draining\"} 0");
    expect(b.s, "handoff_generation_state{generation=\"2\",state=\"draining\"} 1");
    expect(b.s, "handoff_generation_share_ratio{generation=\"3\"} 1");
    expect(b.s, "handoff_generation_processes{generation=\"3\",state=\"ready\"} 1");
    expect(b.s, "handoff_generation_processes{generation=\"3\",state=\"starting\"} 1");
    expect(b.s, "handoff_generation_restarts_total{generation=\"3\"} 1");
    expect(b.s, "handoff_generation_resident_memory_bytes{generation=\"3\"} 201000");
    expect(b.s, "handoff_generation_resident_memory_bytes{generation=\"2\"} 0");
    expect(b.s, "handoff_generation_cpu_seconds_total{generation=\"3\"} 1.00");
    expect(b.s, "process_resident_memory_bytes 5000");
    expect(b.s, "process_open_fds 9");
    /* gen 2 is in no steering plan: no share, rather than a made-up 0. */
    assert_null(strstr(b.s, "share_ratio{generation=\"2\"}"));
    /* Every sample line: NAME[{LABELS}] VALUE, and a family's TYPE first. */
    for (char *line = b.s; *line; line = strchr(line, '\n') + 1) {
        size_t len = strcspn(line, "\n");
        if (line[0] != '#')
            assert_non_null(memchr(line, ' ', len));
        assert_int_equal(line[len], '\n');
    }
    free(b.s);

    /* Without /proc: no process metrics at all. */
    memset(&b, 0, sizeof(b));
    metrics_render(&v, &b, NULL);
    assert_null(strstr(b.s, "process_resident_memory_bytes"));
    assert_null(strstr(b.s, "handoff_generation_cpu_seconds_total"));
    free(b.s);
}

static void
proc_reads_the_master_itself(void **state)
{
    struct metrics_proc p;

    assert_int_equal(metrics_proc_read(0, &p), 0);
    assert_true(p.rss_bytes > 100000);
    assert_true(p.open_fds >= 3);
    assert_true(p.cpu_seconds >= 0);
    assert_true(metrics_proc_read(0x7ffffff0, &p) < 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_get_metrics_only),
        cmocka_unit_test(requests_split_across_reads_wait_for_the_blank_line),
        cmocka_unit_test(oversized_requests_are_refused),
        cmocka_unit_test(histograms_count_into_buckets),
        cmocka_unit_test(the_text_follows_the_deployments_view),
        cmocka_unit_test(listeners_by_kind),
        cmocka_unit_test(proc_reads_the_master_itself),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
