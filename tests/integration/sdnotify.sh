# sdnotify.sh: under systemd (Type=notify) handoff tells its own NOTIFY_SOCKET
# READY=1 once generation 1 is promoted, RELOADING=1 with MONOTONIC_USEC ...
# READY=1 around each roll, STATUS= with the active generation, STOPPING=1;
# its workers get handoff's own socket, never systemd's.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3
unset NOTIFY_SOCKET # this script's own, if it runs under systemd

RECV=
cleanup_recv() { [ -n "$RECV" ] && kill "$RECV" 2>/dev/null; cleanup; }
trap cleanup_recv EXIT

# listen ADDRESS: a datagram socket standing in for systemd; each message is
# one line of $T/msgs, its newlines written as '|'.
listen() {
    : >"$T/msgs"
    python3 - "$1" "$T/msgs" <<'EOF' &
import socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
with open(sys.argv[2], "a", buffering=1) as f:
    print("listening", file=f)
    while True:
        f.write(s.recv(4096).decode().replace("\n", "|") + "\n")
EOF
    RECV=$!
    for _ in $(seq 100); do [ -s "$T/msgs" ] && break; sleep 0.05; done
    [ -s "$T/msgs" ] || fail "the test's notify socket did not start"
}
# line_of PATTERN: the line number of the first message matching it, or 0.
line_of() { grep -nE -- "$1" "$T/msgs" | head -n1 | cut -d: -f1 | grep . || echo 0; }
wait_msg() {
    for _ in $(seq 400); do grep -qE -- "$1" "$T/msgs" && return 0; sleep 0.05; done
    fail "no message /$1/: $(cat "$T/msgs")"
}

NS="$T/systemd-notify"
listen "$NS"
worker="echo \"\$NOTIFY_SOCKET\" > $T/worker_ns; exec python3 $SERVER --bad-gens 3 --exit-at-start 1"
NOTIFY_SOCKET="$NS" start_handoff --pass systemd -l 127.0.0.1:0 -- sh -c "$worker"
wait_msg '^READY=1\|STATUS=gen 1 active, 1 process; last roll promoted$'
ws=$(cat "$T/worker_ns")
[ -n "$ws" ] && [ "$ws" != "$NS" ] || fail "the worker's NOTIFY_SOCKET is '$ws'"
ok "READY=1 once gen 1 is promoted; the worker has its own NOTIFY_SOCKET ($ws)"

roll_and_wait 2
wait_msg '^READY=1\|STATUS=gen 2 active, 1 process; last roll promoted$'
roll_and_wait 3 # gen 3 exits at start
wait_msg '^READY=1\|STATUS=gen 2 active, 1 process; last roll failed \(gen 3: worker exited before it was ready \(code=1\)\)$'
stop_handoff
wait_msg '^STOPPING=1'
cat "$T/msgs"

ready1=$(line_of '^READY=1\|STATUS=gen 1 active')
reload2=$(line_of '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|STATUS=gen 1 active, 1 process; rolling to gen 2$')
ready2=$(line_of '^READY=1\|STATUS=gen 2 active, 1 process; last roll promoted')
reload3=$(line_of '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|STATUS=gen 2 active, 1 process; rolling to gen 3$')
ready3=$(line_of '^READY=1\|STATUS=gen 2 active, 1 process; last roll failed')
stopping=$(line_of '^STOPPING=1\|STATUS=stopping$')
for v in ready1 reload2 ready2 reload3 ready3 stopping; do
    [ "${!v}" -gt 0 ] || fail "no $v message"
done
[ "$ready1" -lt "$reload2" ] && [ "$reload2" -lt "$ready2" ] && [ "$ready2" -lt "$reload3" ] &&
    [ "$reload3" -lt "$ready3" ] && [ "$ready3" -lt "$stopping" ] ||
    fail "out of order: $ready1 $reload2 $ready2 $reload3 $ready3 $stopping"
[ "$(grep -c '^READY=1' "$T/msgs")" -eq 3 ] || fail "expected 3 READY=1"
# MONOTONIC_USEC is CLOCK_MONOTONIC, the clock of python's time.monotonic().
usec=$(grep -o 'MONOTONIC_USEC=[0-9]*' "$T/msgs" | tail -n1 | cut -d= -f2)
python3 -c 'import sys,time; d=time.monotonic()*1e6-int(sys.argv[1]); sys.exit(not 0 <= d < 120e6)' "$usec" ||
    fail "MONOTONIC_USEC=$usec is not CLOCK_MONOTONIC"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
ok "READY=1, RELOADING=1 + MONOTONIC_USEC, READY=1 (promoted), again (failed), STOPPING=1"
kill "$RECV"; wait "$RECV" 2>/dev/null; RECV=

# An abstract address ('@'), as systemd gives.
ABS="@handoff-test-$$-$RANDOM"
listen "$ABS"
NOTIFY_SOCKET="$ABS" start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER"
wait_msg '^READY=1\|'
stop_handoff
wait_msg '^STOPPING=1'
kill "$RECV"; wait "$RECV" 2>/dev/null; RECV=
ok "an abstract NOTIFY_SOCKET ($ABS)"

# Without NOTIFY_SOCKET nothing is sent, and the master does not mind.
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote' 1
! grep -q 'sdnotify' "$LOG" || fail "sdnotify without NOTIFY_SOCKET: $(grep sdnotify "$LOG")"
stop_handoff
ok "no NOTIFY_SOCKET: nothing sent"
