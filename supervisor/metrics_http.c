/*
 * metrics_http.c: what an HTTP request to the metrics endpoint asks for.
 * Pure, apart from the endpoint in metrics.c, so that unit tests and the
 * fuzz target drive it alone. By hand, one request line and header names
 * within a fixed buffer, not with libhttp-parser: README.md, Libraries.
 */
#include "metrics.h"

#include <string.h>

/* The end of the line at s (its \n, or \r\n) within [s, end), or NULL. */
static const char *
line_end(const char *s, const char *end)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));

    return nl;
}

static int
is_tchar(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* Whether target (tlen bytes) is path; a query string changes nothing. */
static int
path_is(const char *target, size_t tlen, const char *path)
{
    size_t n = strlen(path);

    return tlen >= n && memcmp(target, path, n) == 0 &&
           (tlen == n || target[n] == '?');
}

enum metrics_http
metrics_http_parse(const char *buf, size_t len)
{
    const char *end = buf + len, *p = buf, *nl, *sp1, *sp2, *le;
    size_t mlen, tlen;

    /* The headers end at an empty line: find it before judging. */
    for (;;) {
        nl = line_end(p, end);
        if (nl == NULL)
            return len >= METRICS_REQUEST_MAX ? METRICS_HTTP_TOO_LARGE
                                              : METRICS_HTTP_MORE;
        if (p != buf && (nl == p || (nl == p + 1 && *p == '\r')))
            break;
        if (p != buf && memchr(p, ':', (size_t)(nl - p)) == NULL)
            return METRICS_HTTP_BAD; /* a header line without a name */
        p = nl + 1;
    }
    /* METHOD SP TARGET SP HTTP/1.x */
    le = line_end(buf, end);
    if (le > buf && le[-1] == '\r')
        le--;
    sp1 = memchr(buf, ' ', (size_t)(le - buf));
    if (sp1 == NULL || sp1 == buf)
        return METRICS_HTTP_BAD;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
    if (sp2 == NULL || sp2 == sp1 + 1)
        return METRICS_HTTP_BAD;
    if (le - sp2 - 1 != 8 || (memcmp(sp2 + 1, "HTTP/1.0", 8) != 0 &&
                              memcmp(sp2 + 1, "HTTP/1.1", 8) != 0))
        return METRICS_HTTP_BAD;
    mlen = (size_t)(sp1 - buf);
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar(buf[i]))
            return METRICS_HTTP_BAD;
    for (const char *t = sp1 + 1; t < sp2; t++)
        if ((unsigned char)*t <= ' ' || *t == 0x7f)
            return METRICS_HTTP_BAD;
    tlen = (size_t)(sp2 - sp1 - 1);
    /* An orchestrator's probes of handoff itself, GET only. */
    if (path_is(sp1 + 1, tlen, "/healthz") || path_is(sp1 + 1, tlen, "/readyz"))
        return mlen != 3 || memcmp(buf, "GET", 3) != 0 ? METRICS_HTTP_METHOD
               : sp1[2] == 'h'                         ? METRICS_HTTP_HEALTHZ
                                                       : METRICS_HTTP_READYZ;
    if (!path_is(sp1 + 1, tlen, "/metrics"))
        return METRICS_HTTP_NOT_FOUND;
    if (mlen == 3 && memcmp(buf, "GET", 3) == 0)
        return METRICS_HTTP_GET;
    if (mlen == 4 && memcmp(buf, "HEAD", 4) == 0)
        return METRICS_HTTP_HEAD;
    return METRICS_HTTP_METHOD;
}
