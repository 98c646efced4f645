/*
 * fuzz_protocol.c: libFuzzer target for the control-protocol decoder, the
 * first code to see a packet a worker (any program the operator runs) sends.
 *
 * Beyond "no crash": a packet proto_decode accepts must encode back to the
 * same bytes (header but its reserved field, then payload), so decoder and
 * encoder agree on every message either side may send.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct proto_msg m, again;
    static char buf[PROTO_MAX_MSG];
    int n;

    if (proto_decode(data, size, &m) < 0)
        return 0;
    if (m.nkv > PROTO_MAX_KEYS)
        abort();
    for (size_t i = 0; i < m.nkv; i++)
        if (proto_get(&m, m.kv[i].key) == NULL)
            abort();
    n = proto_encode(buf, sizeof(buf), m.hdr.type, m.hdr.id, m.kv, m.nkv);
    if (n < 0 || (size_t)n != size)
        abort();
    /* version, type, id, len: the 12 bytes before reserved. */
    if (memcmp(buf, data, 12) != 0 ||
        memcmp(buf + PROTO_HDR_LEN, data + PROTO_HDR_LEN,
               size - PROTO_HDR_LEN) != 0)
        abort();
    if (proto_decode(buf, (size_t)n, &again) != 0 || again.nkv != m.nkv)
        abort();
    return 0;
}
