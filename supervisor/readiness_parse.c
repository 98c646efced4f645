/*
 * readiness_parse.c: the readiness checks' text: a target's %p and %g, an
 * http: URL, an HTTP response's status line. Pure, apart from the probes
 * in readiness.c and probe.c, so that unit tests and the fuzz target drive
 * them alone.
 */
#include "readiness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
readiness_expand(const char *in, pid_t pid, unsigned gen, char *out,
                 size_t size)
{
    size_t o = 0;

    for (; *in; in++) {
        char num[24];
        const char *add = num;

        if (in[0] == '%' && in[1] == 'p') {
            snprintf(num, sizeof(num), "%d", (int)pid);
            in++;
        } else if (in[0] == '%' && in[1] == 'g') {
            snprintf(num, sizeof(num), "%u", gen);
            in++;
        } else if (in[0] == '%' && in[1] == '%') {
            add = "%";
            in++;
        } else {
            num[0] = *in;
            num[1] = '\0';
        }
        size_t n = strlen(add);
        if (o + n + 1 > size)
            return -ENOSPC;
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

int
readiness_parse_url(const char *url, char *hostport, size_t hsize, char *path,
                    size_t psize)
{
    const char *h, *slash;
    size_t n;

    if (strncmp(url, "http://", 7) != 0)
        return -EINVAL;
    h = url + 7;
    slash = strchr(h, '/');
    n = slash ? (size_t)(slash - h) : strlen(h);
    if (n == 0 || n + 4 > hsize)
        return -EINVAL;
    memcpy(hostport, h, n);
    hostport[n] = '\0';
    /* No port: 80, as a browser would. */
    if (hostport[n - 1] == ']' || strrchr(hostport, ':') == NULL ||
        (hostport[0] == '[' && strstr(hostport, "]:") == NULL))
        strcat(hostport, ":80");
    if (snprintf(path, psize, "%s", slash ? slash : "/") >= (int)psize)
        return -EINVAL;
    return 0;
}

/*
 * Only the status line: the code is the verdict, and a probe needs no
 * header nor body (it reads at most 255 bytes and closes). Twelve bytes
 * need no HTTP library: README.md, Libraries.
 */
int
readiness_http_status(const char *buf, size_t len)
{
    int code = 0;

    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' ||
        buf[7] > '9' || buf[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        code = code * 10 + (buf[i] - '0');
    }
    return code;
}
