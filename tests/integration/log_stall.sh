# log_stall.sh: a log reader that stops reading never freezes the master: a
# roll still completes while stderr is a full pipe, the workers' stderr keeps
# its blocking mode, and the lines dropped meanwhile are counted once
# reading resumes (event=log_dropped lines=N).
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3 timeout

CTL="$T/ctl.sock"
# On SIGUSR1 (forwarded by handoff) generation 1 floods the master with
# STATUS= changes, each an info line, far more than a 64 KiB pipe holds;
# every generation says READY=1 and
# exits on SIGTERM. It also records whether its stderr is non-blocking.
cat >"$T/worker.py" <<'EOF'
import fcntl, os, signal, socket, sys, time
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
gen = os.environ["HANDOFF_GENERATION"]
fl = fcntl.fcntl(2, fcntl.F_GETFL)
with open(os.path.join(sys.argv[1], "stderr_flags.%s" % gen), "w") as f:
    f.write("nonblock" if fl & os.O_NONBLOCK else "block")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.send(b"READY=1")
flood = []
signal.signal(signal.SIGUSR1, lambda *a: flood.append(1))
while True:
    time.sleep(0.05)
    if flood and gen == "1":
        flood.clear()
        for i in range(4000):
            s.send(("STATUS=flooding the log with line %d of 4000" % i).encode())
EOF
cat >"$T/h.conf" <<EOF
[handoff]
log_level = debug
control = $CTL
[listen web]
address = 127.0.0.1:0
[worker]
command = python3 $T/worker.py $T
pass = systemd
ready = notify
drain_timeout = 5s
EOF

# handoff's stderr is a fifo read by a cat that will stop reading.
mkfifo "$T/fifo"
cat "$T/fifo" >"$LOG" &
CATPID=$!
"$HANDOFF" -c "$T/h.conf" 2>"$T/fifo" &
HPID=$!
STARTED="$STARTED $HPID"
# The cat goes before handoff at the end (cleanup only knows handoff).
trap 'kill -CONT $CATPID 2>/dev/null; cleanup; kill $CATPID 2>/dev/null' EXIT
wait_log 'event=promote gen=1 ' 1
kill -STOP "$CATPID"
kill -USR1 "$HPID"
# The flood fills the pipe: wait (bounded) until it holds 60 KiB unread.
pipe_full() {
    python3 - "$T/fifo" <<'EOF'
import fcntl, os, struct, sys, termios, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
for _ in range(400):
    n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    if n >= 60 * 1024:
        sys.exit(0)
    time.sleep(0.05)
sys.exit("the log pipe holds only %d bytes" % n)
EOF
}
pipe_full || fail "the log pipe did not fill"
ok "the log pipe is full"

t0=$SECONDS
timeout 20 "$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "roll with a stalled log: exit $rc after $((SECONDS - t0))s: $(cat "$T/roll")"
ok "a roll completes with the log stalled ($((SECONDS - t0))s)"
[ "$(cat "$T/stderr_flags.2")" = block ] ||
    fail "a worker's stderr is $(cat "$T/stderr_flags.2"): the master changed its mode"
ok "the workers' stderr stays blocking"
timeout 10 "$HANDOFF" status --control "$CTL" >"$T/st" 2>&1 ||
    fail "the master stopped answering with its log stalled: $(cat "$T/st")"
grep -q '^gen 2: active' "$T/st" || fail "status after the roll: $(cat "$T/st")"
ok "status answers with the log stalled"

kill -CONT "$CATPID"
wait_log 'event=log_dropped lines=[1-9][0-9]*' 1 20
ok "$(grep -Eo 'event=log_dropped lines=[0-9]+' "$LOG" | head -n1) once reading resumed"
# Lines go out whole: every line of the log is one event.
bad=$(grep -Evc '^ts=[^ ]+ level=[a-z]+ event=' "$LOG")
[ "$bad" -eq 0 ] || fail "$bad lines of the log are not whole events"
stop_handoff
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
wait_log 'event=exit_master ' 1 10
ok "whole lines only, and the stop after the stall is logged"
