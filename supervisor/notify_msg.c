/*
 * notify_msg.c: decode one sd_notify datagram. Pure, apart from the socket
 * in notify.c, so that unit tests and the fuzz target drive it alone.
 */
#include "notify.h"

#include <string.h>

/* The length of the UTF-8 sequence at s, or 0 if there is none. */
static size_t
utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
               : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                              : 0;

    for (size_t i = 1; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/*
 * A worker's STATUS= goes to terminals (handoff status, the log): every
 * control becomes a blank, C0 (a byte below 0x20) as C1, which is U+0080
 * to U+009F in UTF-8 and a byte 0x80-0x9f alone to a terminal of 8 bits
 * (0x9b or U+009B: a CSI, as ESC [ is). The rest is kept as it is.
 */
static void
blank_controls(char *status)
{
    unsigned char *r = (unsigned char *)status, *w = r;

    while (*r != '\0') {
        size_t n = *r >= 0x80 ? utf8_len(r) : 1;
        if (*r < ' ' || (n == 0 && *r <= 0x9f) ||
            (n == 2 && r[0] == 0xc2 && r[1] <= 0x9f)) {
            *w++ = ' ';
            r += n == 2 ? 2 : 1;
        } else if (n == 0) {
            *w++ = *r++; /* not UTF-8, not a control: the JSON's U+FFFD */
        } else {
            memmove(w, r, n);
            w += n;
            r += n;
        }
    }
    *w = '\0';
}

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
        else if (n == 10 && memcmp(p, "WATCHDOG=1", 10) == 0)
            out->watchdog = 1;
        else if (n == 16 && memcmp(p, "WATCHDOG=trigger", 16) == 0)
            out->trigger = 1;
        else if (n >= 7 && memcmp(p, "STATUS=", 7) == 0) {
            size_t sl = n - 7 < sizeof(out->status) - 1 ? n - 7
                                                         : sizeof(out->status) - 1;
            memcpy(out->status, p + 7, sl);
            out->status[sl] = '\0';
            blank_controls(out->status);
            out->has_status = 1;
        }
        if (nl == NULL)
            break; /* not p += n + 1: that points past the end, undefined */
        p = nl + 1;
    }
}
