# protocol.sh: pass = protocol: the worker asks for its socket over
# HANDOFF_FD, reports readiness there, and is rolled under load.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

start_handoff --pass protocol -l web=127.0.0.1:0 -- python3 "$SERVER" --protocol --no-notify
wait_log 'event=ready gen=1 .*via=listen' 1
wait_log 'event=promote' 1
load_start 8
for i in 2 3 4 5 6; do roll_and_wait "$i"; done
load_stop
[ "$(count 'event=promote ')" -eq 6 ] || fail "not every roll was promoted"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed"
ok "protocol: socket by name over HANDOFF_FD, ready over the channel, 5 rolls, 0 failed of $REQS"

stop_handoff

# An empty packet is a message shorter than the header: answered ERROR
# EPROTO with id 0, the channel stays (handoff-protocol(7)). The worker
# then asks for its socket over the same channel, says READY, and serves.
cat >"$T/empty.py" <<'PY'
import os, select, socket, struct, sys
HDR = struct.Struct("=HHIII")
out = open(sys.argv[1], "w", buffering=1)
chan = socket.socket(fileno=int(os.environ["HANDOFF_FD"]))
def reply():
    if not select.select([chan], [], [], 10)[0]:
        return "no reply in 10 s"
    data, fds, _f, _a = socket.recv_fds(chan, 4096, 1)
    if not data:
        return "end-of-file"
    _v, t, rid, _l, _r = HDR.unpack_from(data)
    kv = dict(l.split("=", 1) for l in data[HDR.size:].decode().splitlines())
    return "type=%d id=%d errno=%s fds=%d" % (t, rid, kv.get("errno", "-"), len(fds)), fds
chan.send(b"")
r = reply()
print("empty:", r if isinstance(r, str) else r[0], file=out)
if isinstance(r, str):
    sys.exit(1)
p = b"name=web\n"
chan.send(HDR.pack(1, 3, 7, len(p), 0) + p)
r = reply()
print("get:", r if isinstance(r, str) else r[0], file=out)
if isinstance(r, str) or not r[1]:
    sys.exit(1)
s = socket.socket(fileno=r[1][0])
chan.send(HDR.pack(1, 6, 8, 0, 0))
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    c.close()
PY
start_handoff --pass protocol -l web=127.0.0.1:0 -- python3 "$T/empty.py" "$T/empty.out"
wait_log 'event=(promote|roll_failed) gen=1 ' 1
grep -q '^empty: type=5 id=0 errno=71 ' "$T/empty.out" ||
    fail "an empty packet: '$(cat "$T/empty.out")', want ERROR (5) id 0 errno 71 (EPROTO)"
grep -q '^get: type=4 id=7 .*fds=1' "$T/empty.out" ||
    fail "GET after an empty packet: '$(cat "$T/empty.out")'"
[ "$(get /)" = ok ] || fail "the worker does not serve after an empty packet"
[ "$(count 'event=channel_closed')" -eq 0 ] || fail "the channel was closed: $(grep channel_closed "$LOG")"
ok "an empty packet: ERROR EPROTO id 0, the channel stays: GET, READY over it, serves"
stop_handoff
