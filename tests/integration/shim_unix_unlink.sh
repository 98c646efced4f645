# shim_unix_unlink.sh: a server that unlink()s its unix socket path before
# bind() (as node and many python servers do) and at exit (as gunicorn
# does) leaves handoff's socket file in place: rolled 3 times under load,
# no client gets ENOENT.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

SOCK="$T/web.sock"
cat >"$T/server.py" <<'PY'
import os, signal, socket, sys
path = sys.argv[1]
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
try:
    os.unlink(path)          # the "remove a stale socket" habit
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(64)
s.settimeout(0.1)
while not stop:
    try:
        c, _ = s.accept()
    except (socket.timeout, InterruptedError):
        continue
    c.settimeout(5)
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    except OSError:
        pass
    c.close()
s.close()
os.unlink(path)              # gunicorn's cleanup at exit
PY

# Clients: a new connection per request until $T/stop exists.
cat >"$T/client.py" <<'PY'
import errno, os, socket, sys, threading, time
path, stopfile = sys.argv[1], sys.argv[2]
counts = {}
lock = threading.Lock()
def note(k):
    with lock:
        counts[k] = counts.get(k, 0) + 1
def run():
    while not os.path.exists(stopfile):
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(10)
        try:
            c.connect(path)
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                b = c.recv(4096)
                if not b:
                    break
                data += b
            note("ok" if data.endswith(b"ok\n") else "short")
        except OSError as e:
            note(errno.errorcode.get(e.errno, str(e)))
        finally:
            c.close()
ts = [threading.Thread(target=run) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))
PY

start_handoff -l "unix:$SOCK" -- python3 "$T/server.py" "$SOCK"
wait_log 'event=promote' 1
python3 "$T/client.py" "$SOCK" "$T/stop" >"$T/client.out" 2>&1 &
CPID=$!
sleep 0.5
for i in 2 3 4; do roll_and_wait "$i"; sleep 0.3; done
touch "$T/stop"
wait "$CPID"
got=$(cat "$T/client.out")
echo "clients: $got"
[ -S "$SOCK" ] || fail "the socket file $SOCK is gone after 3 rolls"
case " $got " in *" ENOENT="*) fail "clients got ENOENT: $got" ;; esac
[ "$(count 'event=roll_failed')" -eq 0 ] || fail "a roll failed"
okn=$(printf '%s\n' "$got" | sed -n 's/.*ok=\([0-9]*\).*/\1/p')
[ "${okn:-0}" -gt 100 ] || fail "too few requests answered: $got"
ok "a server unlinking its unix path before bind and at exit: 3 rolls, $got"

# A removal the shim does not see (rm, here): the master makes a new
# socket at the path, at the next roll or within seconds on its own (and
# then rolls, so that a generation accepts from it).
once() {
    python3 - "$SOCK" <<'PY'
import socket, sys
c = socket.socket(socket.AF_UNIX)
c.settimeout(10)
c.connect(sys.argv[1])
c.sendall(b"GET / HTTP/1.0\r\n\r\n")
print(c.recv(4096).decode().split("\r\n")[-1].strip())
PY
}
lost=$(count 'event=unix_path_lost')
rm -f "$SOCK"
# Unreachable until a roll or the check every 2 s makes it again (the
# check may come first: then its log line is there before the answer).
if [ "$(once 2>&1)" = ok ] && [ "$(count 'event=unix_path_lost')" -eq "$lost" ]; then
    fail "a client reached the server through a removed path"
fi
roll_and_wait 5
# The check every 2 s may find it before the roll does: then the check
# made the socket and rolled, and this roll was queued behind it.
grep -qE 'event=unix_path_lost .*found=(roll|check) action=new_socket' "$LOG" ||
    fail "no unix_path_lost at the roll"
[ "$(once)" = ok ] || fail "after the roll the restored path does not answer"
ok "a path removed from outside: made again at the next roll, answers"
# Every roll begun has ended (a queued one included) before counting.
for i in $(seq 200); do
    [ "$(count 'event=roll gen=')" -eq "$(count 'event=(promote|roll_failed) ')" ] && break
    sleep 0.05
done
checks=$(count 'event=unix_path_lost .*found=check')
promotes=$(count 'event=promote ')
rm -f "$SOCK"
wait_log 'event=unix_path_lost .*found=check action=new_socket' $((checks + 1)) 10
wait_log 'event=promote ' $((promotes + 1)) 30 || fail "no roll after the path was restored"
[ "$(once)" = ok ] || fail "after the check the restored path does not answer"
ok "a path removed from outside between rolls: made again within seconds, rolled, answers"
stop_handoff
[ ! -e "$SOCK" ] || fail "handoff left $SOCK behind at stop"
ok "the socket file goes when handoff stops"
