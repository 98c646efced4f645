/*
 * fuzz_metrics.c: libFuzzer target for the metrics endpoint's request
 * parser, which sees whatever a client of the port sends.
 *
 * Beyond "no crash": the verdict is one of the enum's; "more" only within
 * METRICS_REQUEST_MAX; GET and HEAD only for a request line that asks for
 * /metrics, healthz and readyz only for a GET of their path; and the endpoint, which judges each time a line ends, gets at
 * the first line with a verdict the verdict of the whole request, so that
 * how the bytes arrive changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    enum metrics_http all, first = METRICS_HTTP_MORE;

    /* The endpoint never hands it more than its buffer. */
    if (size > METRICS_REQUEST_MAX)
        size = METRICS_REQUEST_MAX;
    all = metrics_http_parse(buf, size);
    if (all > METRICS_HTTP_READYZ)
        abort();
    if (all == METRICS_HTTP_MORE && size >= METRICS_REQUEST_MAX)
        abort();
    if (all == METRICS_HTTP_GET &&
        (size < 13 || memcmp(buf, "GET /metrics", 12) != 0))
        abort();
    if (all == METRICS_HTTP_HEAD &&
        (size < 14 || memcmp(buf, "HEAD /metrics", 13) != 0))
        abort();
    if (all == METRICS_HTTP_HEALTHZ &&
        (size < 13 || memcmp(buf, "GET /healthz", 12) != 0))
        abort();
    if (all == METRICS_HTTP_READYZ &&
        (size < 12 || memcmp(buf, "GET /readyz", 11) != 0))
        abort();
    for (size_t i = 0; i < size && first == METRICS_HTTP_MORE; i++)
        if (buf[i] == '\n')
            first = metrics_http_parse(buf, i + 1);
    if (first != METRICS_HTTP_MORE && first != all)
        abort();
    return 0;
}
