/*
 * notify_msg.c: decode one sd_notify datagram. Pure, apart from the socket
 * in notify.c, so that unit tests and the fuzz target drive it alone.
 */
#include "notify.h"

#include <string.h>

void
notify_parse(const char *buf, size_t len, struct notify_msg *out)
{
    const char *p = buf, *end = buf + len;

    memset(out, 0, sizeof(*out));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (n == 7 && memcmp(p, "READY=1", 7) == 0)
            out->ready = 1;
        else if (n == 10 && memcmp(p, "STOPPING=1", 10) == 0)
            out->stopping = 1;
        else if (n >= 7 && memcmp(p, "STATUS=", 7) == 0) {
            size_t sl = n - 7 < sizeof(out->status) - 1 ? n - 7
                                                         : sizeof(out->status) - 1;
            memcpy(out->status, p + 7, sl);
            out->status[sl] = '\0';
            for (size_t i = 0; i < sl; i++)
                if ((unsigned char)out->status[i] < ' ')
                    out->status[i] = ' ';
            out->has_status = 1;
        }
        if (nl == NULL)
            break; /* not p += n + 1: that points past the end, undefined */
        p = nl + 1;
    }
}
