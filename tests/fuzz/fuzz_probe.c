/*
 * fuzz_probe.c: libFuzzer target for what an http: readiness or guard
 * probe reads of a response: its status line. The server under test may
 * answer anything, or be something else than an HTTP server.
 *
 * Beyond "no crash": a code is given only for "HTTP/1.x NNN", and it is
 * those three digits; nothing past the bytes given is read (ASan). The same
 * bytes as an http: URL (a configuration's ready = or guard =) split into a
 * NUL-terminated HOST:PORT and a path that starts with a slash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "readiness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    char hostport[64], path[64], *url;
    int code = readiness_http_status(buf, size);

    if (code != -1) {
        if (code < 0 || code > 999 || size < 12 ||
            memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' ||
            code !=
                (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'))
            abort();
    }
    if ((url = malloc(size + 1)) == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    memset(hostport, 0x55, sizeof(hostport));
    memset(path, 0x55, sizeof(path));
    if (readiness_parse_url(url, hostport, sizeof(hostport), path,
                            sizeof(path)) == 0 &&
        (memchr(hostport, '\0', sizeof(hostport)) == NULL ||
         strchr(hostport, ':') == NULL ||
         memchr(path, '\0', sizeof(path)) == NULL || path[0] != '/'))
        abort();
    free(url);
    return 0;
}
