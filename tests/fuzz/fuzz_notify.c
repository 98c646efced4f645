/*
 * fuzz_notify.c: libFuzzer target for the sd_notify datagram decoder. Any
 * process that can reach NOTIFY_SOCKET can send it anything.
 *
 * Beyond "no crash": the STATUS= text it keeps is NUL-terminated, within
 * its buffer and free of control characters (it goes to logs and status).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct notify_msg m;
    size_t sl;

    /* Poison the output: the decoder must set every field itself. */
    memset(&m, 0x55, sizeof(m));
    notify_parse((const char *)data, size, &m);
    if ((m.ready != 0 && m.ready != 1) || (m.stopping != 0 && m.stopping != 1) ||
        (m.has_status != 0 && m.has_status != 1) ||
        (m.watchdog != 0 && m.watchdog != 1) ||
        (m.trigger != 0 && m.trigger != 1))
        abort();
    /* A watchdog line is only ever one of its two exact forms. */
    if ((m.watchdog && !memmem(data, size, "WATCHDOG=1", 10)) ||
        (m.trigger && !memmem(data, size, "WATCHDOG=trigger", 16)))
        abort();
    sl = strnlen(m.status, sizeof(m.status));
    if (sl == sizeof(m.status) || (!m.has_status && sl != 0))
        abort();
    for (size_t i = 0; i < sl; i++)
        if ((unsigned char)m.status[i] < ' ')
            abort();
    return 0;
}
