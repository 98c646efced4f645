# shim.sh: unmodified servers that bind their own sockets, rolled through
# the LD_PRELOAD shim under load: python3 -m http.server, busybox httpd.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3


# roll_server NAME ROLLS: roll the running handoff ROLLS times under load.
roll_server() {
    local name=$1 rolls=$2 i
    load_start 8
    for i in $(seq 2 $((rolls + 1))); do roll_and_wait "$i"; done
    load_stop
    [ "$(count 'event=roll_failed')" -eq 0 ] || fail "$name: a roll failed"
    [ "$(count 'event=ready .*via=listen')" -ge $((rolls + 1)) ] || fail "$name: readiness not reported by the shim"
}

PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" --drain-signal INT -- \
    python3 -m http.server --bind 127.0.0.1 "$PORT" --directory "$T"
wait_log 'event=promote' 1
grep -q 'event=start .*pass=shim ready=listen' "$LOG" || fail "shim is not the default"
[ "$(count 'event=shim_bypassed')" -eq 0 ] || fail "python3 taken for a program the shim cannot reach"
roll_server "python http.server" 10
refused=$(grep -c 'connection refused' "$T/hey.out")
reset=$(grep -Ec 'connection reset|EOF' "$T/hey.out")
echo "python http.server: $REQS requests, $FAILED failed (refused lines $refused, reset/EOF lines $reset)"
[ "$refused" -eq 0 ] || fail "connections refused during rolls"
# http.server drops the requests it is serving when SIGINT ends it (its
# handler threads are daemons): counted, and never more than were in
# flight: one per client per roll.
[ "$FAILED" -le $((8 * 10)) ] || fail "$FAILED of $REQS requests failed"
ok "python3 -m http.server unchanged: 10 rolls, $FAILED of $REQS lost in flight at SIGINT, none refused"
stop_handoff

if command -v busybox >/dev/null 2>&1; then
    echo hello >"$T/index.html"
    PORT=$(free_port)
    start_handoff -l "127.0.0.1:$PORT" -- busybox httpd -f -p "127.0.0.1:$PORT" -h "$T"
    wait_log 'event=promote' 1
    get /index.html | grep -q hello || fail "busybox httpd does not serve"
    roll_server "busybox httpd" 10
    refused=$(grep -c 'connection refused' "$T/hey.out")
    [ "$refused" -eq 0 ] || fail "busybox httpd: connections refused during rolls"
    # busybox httpd dies at once on SIGTERM: a connection it accepted but
    # had not yet handed to a child is reset. The server's loss, counted.
    [ "$FAILED" -le $((8 * 10)) ] || fail "busybox httpd: $FAILED of $REQS requests failed"
    ok "busybox httpd unchanged: 10 rolls, none refused, $FAILED of $REQS lost in flight at SIGTERM"
    stop_handoff
fi

# A bind the master does not manage passes through untouched.
PORT=$(free_port)
other=$(free_port)
start_handoff -l "127.0.0.1:$PORT" --ready delay:300ms -- python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(30)' "$other"
wait_log 'event=promote' 1
for _ in $(seq 100); do [ -s "$T/stdout" ] && break; sleep 0.05; done
[ "$(cat "$T/stdout")" = "$other" ] || fail "unmanaged bind: got '$(cat "$T/stdout")'"
ok "a bind of an unmanaged address passes through"
stop_handoff

# Stock nginx through the shim: nginx.sh (20 rolls under wrk, keep-alive,
# throughput).

# harmful_rolls FLAG ROLLS [HANDOFF FLAGS]: a server that harms its
# listening socket (actserver.py FLAG) rolled ROLLS times under load; with
# no handoff flags it binds the socket itself, through the shim. Sets
# FAILED and REQS.
harmful_rolls() {
    local flag=$1 rolls=$2 i
    shift 2
    PORT=$(free_port)
    if [ $# -gt 0 ]; then
        start_handoff "$@" -l "127.0.0.1:$PORT" -- python3 "$SERVER" "$flag"
    else
        start_handoff -l "127.0.0.1:$PORT" -- python3 "$SERVER" --bind-self "$PORT" "$flag"
    fi
    wait_log 'event=promote' 1
    load_start 8
    for i in $(seq 2 $((rolls + 1))); do roll_and_wait "$i"; done
    sleep 0.5
    load_stop
    stop_handoff
}

# The shared socket survives a server's harmful habits: a second listen()
# with a tiny backlog and shutdown() of the listening socket when draining.
harmful_rolls --harmful 10
[ "$FAILED" -eq 0 ] || fail "harmful server: $FAILED of $REQS requests failed"
ok "listen() twice and shutdown() on drain absorbed: 10 rolls, 0 failed of $REQS"

# connect(AF_UNSPEC) of the listening socket when draining. Without the
# shim (the socket from LISTEN_FDS) and with one shared socket, the first
# drain stops that socket listening, for every generation after it:
# connections are refused. (Steered, each generation has a socket of its
# own and the harm is the drained one's: whether a client meets it is a
# matter of timing, so the test's own check is made shared.) Through the
# shim the call is absorbed, steered or shared.
harmful_rolls --disconnect 2 --pass systemd --traffic shared
[ "$FAILED" -gt 0 ] || fail "without the shim, connect(AF_UNSPEC) broke nothing: the test cannot tell"
without=$FAILED
harmful_rolls --disconnect 10
[ "$FAILED" -eq 0 ] || fail "connect(AF_UNSPEC) through the shim: $FAILED of $REQS requests failed"
grep -q 'connect(AF_UNSPEC)' "$T/stdout" "$LOG" && fail "connect(AF_UNSPEC) failed in the server"
ok "connect(AF_UNSPEC) on drain absorbed: 10 rolls, 0 failed of $REQS (without the shim: $without failed in 2 rolls)"

# No master to answer: bind fails loudly and binds nothing private.
python3 - "$HANDOFF" <<'PY' >"$T/orphan.out" 2>&1 || fail "unanswered bind: $(cat "$T/orphan.out")"
import os, socket, subprocess, sys
shim = os.path.join(os.path.dirname(sys.argv[1]), ".libs", "handoff-shim.so")
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
b.close()  # the master's end: gone
env = dict(os.environ, LD_PRELOAD=shim, HANDOFF_FD=str(a.fileno()))
code = r"""
import errno, socket
s = socket.socket()
try:
    s.bind(("127.0.0.1", 8))
    print("bound")
except OSError as e:
    print("refused", errno.errorcode[e.errno])
"""
r = subprocess.run([sys.executable, "-c", code], env=env, pass_fds=[a.fileno()],
                   capture_output=True, text=True, timeout=30)
assert r.stdout.strip() == "refused ECONNREFUSED", (r.stdout, r.stderr)
assert "handoff-shim: bind 127.0.0.1:8: the master did not answer" in r.stderr, r.stderr
print("ok")
PY
ok "no master: bind fails with ECONNREFUSED and says so on stderr"

# A worker that closes the shared socket without taking it out of its epoll
# set gets no more events for it (the master still holds it open), whether
# by close() or by close_range() (os.closerange, closefrom...).
for how in close close_range; do
rm -f "$T/events" "$T/events.closed"
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" -- python3 -c '
import ctypes, select, signal, socket, sys, time
port, out, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
ep = select.epoll()
ep.register(s.fileno(), select.EPOLLIN)
asked = []
signal.signal(signal.SIGUSR1, lambda *a: asked.append(1))
while not asked:
    ep.poll(0.1)
if how == "close":
    s.close()  # no unregister: the habit of many servers
else:
    ctypes.CDLL(None).close_range(s.fileno(), s.fileno(), 0)
    s.detach()
open(out + ".closed", "w").close()
time.sleep(0.5)
n, end = 0, time.time() + 1
while time.time() < end:
    n += len(ep.poll(0.1))
open(out, "w").write(str(n))
time.sleep(30)' "$PORT" "$T/events" "$how"
wait_log 'event=promote' 1
kill -USR1 "$HPID"
for _ in $(seq 100); do [ -e "$T/events.closed" ] && break; sleep 0.05; done
python3 -c 'import socket,sys,time; c=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(2.5)' "$PORT" &
CLIENT=$!
for _ in $(seq 100); do [ -s "$T/events" ] && break; sleep 0.05; done
# Counted with the connection queued: it has done its part.
kill "$CLIENT" 2>/dev/null
wait "$CLIENT"
[ "$(cat "$T/events")" = 0 ] || fail "$how: closed socket still reported $(cat "$T/events") epoll events"
ok "$how() of the shared socket takes it out of the process's epoll set: 0 events with a connection queued"
stop_handoff
done

# A program the shim cannot reach never asks for its socket: the log says
# what to do instead.
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" --ready-timeout 1s -- sleep 30
wait_exit
grep -q 'event=roll_failed gen=1 .*never asked for a managed address.*use pass = systemd' "$LOG" ||
    fail "no hint for a worker that bypasses the shim"
ok "a worker that never asks for its socket: roll failed with a hint to use pass = systemd"

# A statically linked server: LD_PRELOAD cannot reach it. handoff says so
# when the roll starts, and again when the server exits on EADDRINUSE.
CC=${CC:-cc}
if printf '#include <stdio.h>\nint main(void){return 0;}\n' |
    "$CC" -static -x c -o "$T/probe" - 2>/dev/null; then
    cat >"$T/static.c" <<'C'
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) { perror("bind"); return 1; }
    listen(s, 16);
    pause();
    return 0;
}
C
    "$CC" -static -o "$T/static" "$T/static.c" || fail "cannot build the static server"
    PORT=$(free_port)
    start_handoff -l "127.0.0.1:$PORT" -- "$T/static" "$PORT"
    wait_exit
    grep -q 'event=shim_bypassed gen=1 reason=".*/static is statically linked" hint="LD_PRELOAD cannot reach it: use pass = systemd or inherit"' "$LOG" ||
        fail "no shim_bypassed warning for a static binary"
    grep -q 'event=roll_failed gen=1 reason="worker exited before it was ready (code=1); a worker never asked for a managed address.*use pass = systemd' "$LOG" ||
        fail "the failed start does not say the shim was bypassed"
    [ "$STATUS" -eq 1 ] || fail "static server: handoff exited $STATUS, not the server's 1"
    grep -q 'Address already in use' "$T/stdout" "$LOG" || fail "the static server did not get EADDRINUSE"
    ok "a static binary: shim_bypassed at the roll, EADDRINUSE, roll_failed with the hint, exit 1"
else
    echo "no static libc: static binary case not run"
fi

# A worker's own helpers: one executed without the shim, one with the shim
# but without the channel (closed by subprocess), and an orphan that the
# master reaps. None is taken for a worker: one readiness report, no exit
# logged, the worker keeps serving.
PORT=$(free_port)
start_handoff --log-level debug -l "127.0.0.1:$PORT" -- python3 -c '
import os, socket, subprocess, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
noshim = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
r1 = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get(\"LD_PRELOAD\", \"none\"))"],
                    env=noshim, capture_output=True, text=True)
r2 = subprocess.run([sys.executable, "-c", """
import errno, socket, sys
p = socket.socket(); p.bind(("127.0.0.1", 0)); p.listen()
m = socket.socket()
try:
    m.bind(("127.0.0.1", int(sys.argv[1]))); print("bound")
except OSError as e:
    print(errno.errorcode[e.errno])
""", str(port)], capture_output=True, text=True, timeout=20)
if os.fork() == 0:
    if os.fork() == 0:
        time.sleep(0.3); os._exit(7)
    os._exit(0)
os.wait()
with open(out, "w") as f:
    f.write(f"noshim={r1.stdout.strip()} rc={r1.returncode}\nchannel-less={r2.stdout.strip()} err={r2.stderr.strip()!r}\n")
while True:
    c, _ = s.accept()
    c.recv(4096); c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"); c.close()
' "$PORT" "$T/helpers"
wait_log 'event=promote' 1
for _ in $(seq 100); do [ -s "$T/helpers" ] && break; sleep 0.05; done
# The orphan exits 0.3 s after it is made, the last of the helpers.
wait_log 'event=reap .*code=7' 1 10
cat "$T/helpers"
grep -q '^noshim=none rc=0$' "$T/helpers" || fail "a helper run without the shim did not run cleanly"
grep -q "^channel-less=EADDRINUSE err=''$" "$T/helpers" ||
    fail "a helper with the shim but no channel: $(sed -n 2p "$T/helpers")"
[ "$(get /)" = ok ] || fail "the worker stopped serving after its helpers ran"
[ "$(count 'event=ready ')" -eq 1 ] || fail "readiness reported $(count 'event=ready ') times"
[ "$(count 'event=exit ')" -eq 0 ] || fail "a helper was taken for a worker: $(grep 'event=exit ' "$LOG")"
[ "$(count 'event=reap .*code=7')" -eq 1 ] || fail "the orphaned helper was not reaped by the master"
ok "helpers with and without the shim run as usual; an orphan is reaped, not taken for a worker"
stop_handoff
