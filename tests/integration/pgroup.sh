# pgroup.sh: every worker has a process group of its own: the terminal's
# job-control signals reach handoff alone. A worker reading the terminal
# while handoff runs in the background does not make handoff scale (its
# SIGTTIN), and Ctrl-C drains the workers (drain_signal) instead of
# reaching them directly, and still ends with 130.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

# stat_of PID N: field N of /proc/PID/stat (after the command, which may
# hold blanks).
stat_of() { local pid=$1 n=$2 line rest; read -r line <"/proc/$pid/stat" || return 1
    rest=${line##*) }; set -- $rest; eval echo "\${$((n - 2))}"; }

start_handoff --pass systemd --ready delay:50ms -n 2 -l 127.0.0.1:0 -- sleep 300
wait_log 'event=promote gen=1 ' 1
for w in $(grep -Eo 'event=spawn gen=1 pid=[0-9]+' "$LOG" | grep -Eo '[0-9]+$'); do
    hp=$(stat_of "$HPID" 5) wp=$(stat_of "$w" 5)
    [ "$wp" != "$hp" ] || fail "worker $w is in handoff's process group $hp"
    [ "$wp" = "$w" ] || fail "worker $w's process group is $wp, not its own"
done
stop_handoff
ok "each worker leads a process group of its own, not handoff's ($hp)"

# A pseudo-terminal: its session leader waits in the foreground process
# group while handoff runs in a background one, as after "handoff &" at an
# interactive shell. Its worker reads the terminal once active: the kernel
# stops the reader's process group with SIGTTIN, which was handoff's too.
cat >"$T/bg.py" <<'EOF'
import os, pty, sys, time
log, secs = sys.argv[1], float(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    h = os.fork()
    if h == 0:
        os.setpgid(0, 0)
        lf = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(lf, 2)
        os.execvp(sys.argv[3], sys.argv[3:])
    deadline = time.time() + 20
    while time.time() < deadline and "event=promote" not in open(log).read():
        time.sleep(0.05)
    time.sleep(secs)
    os.kill(h, 15)
    os.waitpid(h, 0)
    os._exit(0)
# The terminal's other end: read whatever comes until the session ends.
while True:
    try:
        if not os.read(fd, 1024):
            break
    except OSError:
        break
os.waitpid(pid, 0)
EOF
timeout 60 python3 "$T/bg.py" "$LOG" 2 "$HANDOFF" --pass systemd --ready delay:50ms \
    --stop-timeout 2s -l 127.0.0.1:0 -- sh -c 'sleep 0.5; exec cat'
grep -q 'event=promote gen=1 ' "$LOG" || fail "handoff in the background never promoted"
scales=$(count 'event=scale ')
[ "$scales" -eq 0 ] || fail "a worker reading the terminal made handoff scale $scales times"
ok "a worker reading the terminal from the background: no scale event"

# Ctrl-C: the terminal's SIGINT goes to handoff alone, which drains. The
# worker records the signals it gets and dies of SIGTERM soon after it.
cat >"$T/w.py" <<'EOF'
import os, signal, sys, time
term = []
def got(sig, frame):
    with open(sys.argv[1], "a") as f:
        f.write(signal.Signals(sig).name + "\n")
    if sig == signal.SIGTERM:
        term.append(time.time())
signal.signal(signal.SIGINT, got)
signal.signal(signal.SIGTERM, got)
while not term or time.time() < term[0] + 0.3:  # a SIGINT would be in by then
    time.sleep(0.05)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGTERM)
EOF
cat >"$T/ctrlc.py" <<'EOF'
import os, pty, select, sys, time
log = sys.argv[1]
lf = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
pid, fd = pty.fork()
if pid == 0:
    os.dup2(lf, 2)
    os.execvp(sys.argv[2], sys.argv[2:])
deadline = time.time() + 20
while time.time() < deadline and "event=promote" not in open(log).read():
    time.sleep(0.05)
time.sleep(0.3)  # the worker's handlers are in place
os.write(fd, b"\x03")
while time.time() < deadline + 10:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            os.read(fd, 1024)
        except OSError:
            pass
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print(os.waitstatus_to_exitcode(status))
        sys.exit(0)
os.kill(pid, 9)
print("timeout")
EOF
rc=$(python3 "$T/ctrlc.py" "$LOG" "$HANDOFF" --pass systemd --ready delay:50ms \
    -l 127.0.0.1:0 -- python3 "$T/w.py" "$T/sigs")
got=$(paste -sd' ' "$T/sigs" 2>/dev/null)
[ "$got" = SIGTERM ] || fail "Ctrl-C: the worker got '$got', expected SIGTERM (the drain) only; exit $rc"
grep -q 'event=drain gen=1 .*signal=SIGTERM' "$LOG" || fail "Ctrl-C: no drain logged"
[ "$rc" = 130 ] || fail "Ctrl-C on a terminal: exit $rc, expected 130"
ok "Ctrl-C: SIGINT to handoff only, the worker drained with SIGTERM, exit 130"
