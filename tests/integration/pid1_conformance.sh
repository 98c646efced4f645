# pid1_conformance.sh: what an init owes its child, checked as PID 1 of a
# new pid namespace and as a subreaper outside one: exit statuses pass
# through (0-255, 128+N for signal N, 127 and 126 when the command cannot
# run); every forwardable signal reaches the worker, in order; the worker
# starts with no blocked or ignored signal, no fd and no directory it did
# not ask for, even when handoff itself was started with them; Ctrl-C on a
# terminal ends with 130.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3 timeout
# The interpreter itself, not a version manager's shell shim: its
# dispositions and fds are what the checks below look at.
PY=$(python3 -c 'import sys; print(sys.executable)')
ulimit -c 0 # the deaths by SIGSEGV and friends below leave no core file
MODES=sub
if command -v unshare >/dev/null && unshare --pid --fork --mount-proc true 2>/dev/null; then
    MODES="sub ns"
else
    echo "note: no pid namespaces here: checking the subreaper only"
fi

# hrun MODE ARGS...: run handoff to its end (bounded); RC is its status.
# In ns it is PID 1 of a new pid namespace, with a private /run.
hrun() {
    local mode=$1
    shift
    if [ "$mode" = ns ]; then
        timeout -s KILL 30 unshare --pid --fork --mount-proc sh -c \
            'mount -t tmpfs tmpfs /run 2>/dev/null; exec "$@"' sh \
            "$HANDOFF" "$@" >>"$T/stdout" 2>"$LOG"
    else
        timeout -s KILL 30 "$HANDOFF" "$@" >>"$T/stdout" 2>"$LOG"
    fi
    RC=$?
}

# hstart MODE ARGS...: the same in the background; HPID is the process to
# wait for, INNER handoff's pid as seen from here (what to signal).
hstart() {
    local mode=$1 i
    shift
    if [ "$mode" = ns ]; then
        unshare --pid --fork --mount-proc sh -c \
            'mount -t tmpfs tmpfs /run 2>/dev/null; exec "$@"' sh \
            "$HANDOFF" "$@" >>"$T/stdout" 2>"$LOG" &
        HPID=$!
        INNER=
        for i in $(seq 100); do
            INNER=$(pgrep -P "$HPID" | head -n1)
            [ -n "$INNER" ] && break
            sleep 0.05
        done
        [ -n "$INNER" ] || fail "no handoff under unshare"
    else
        "$HANDOFF" "$@" >>"$T/stdout" 2>"$LOG" &
        HPID=$!
        INNER=$HPID
    fi
    STARTED="$STARTED $HPID"
}

# worker_pid: the pid, seen from here, of handoff's one worker.
worker_pid() {
    local i w
    for i in $(seq 100); do
        w=$(pgrep -P "$INNER" | head -n1)
        [ -n "$w" ] && { echo "$w"; return; }
        sleep 0.05
    done
}

# --- exit status -----------------------------------------------------------
# The worker is ready at once and exits with N: restart = never ends the
# service with its status. All 256 codes as a subreaper, a dense sample
# with the edges as PID 1 (each run costs a namespace).
sample="0 1 2 3 63 64 125 126 127 128 129 130 143 191 192 254 255"
for n in $(seq 5 23 250); do sample="$sample $n"; done
# codes_check MODE EXPECT CMD...: run handoff (8 at a time, each with its
# own log) for each "N EXPECTED" line on stdin, CMD with @N@ replaced.
codes_check() {
    local mode=$1 i=0 n want
    shift
    : >"$T/codes.out"
    while read -r n want; do
        (
            LOG="$T/code-$n.log"
            hrun "$mode" --pass systemd --restart never --ready delay:1ms -l 127.0.0.1:0 -- \
                sh -c "${1//@N@/$n}"
            echo "$n $want $RC" >>"$T/codes.out"
        ) &
        i=$((i + 1))
        [ $((i % 8)) -eq 0 ] && wait
    done
    wait
    BAD=$(awk '$2 != $3 {printf " %s->%s", $1, $3}' "$T/codes.out")
    COUNT=$(wc -l <"$T/codes.out")
}
for mode in $MODES; do
    codes=$(seq 0 255)
    [ "$mode" = ns ] && codes=$sample
    codes_check "$mode" "exit @N@" < <(for n in $codes; do echo "$n $n"; done)
    [ -z "$BAD" ] || fail "$mode: exit codes not passed through:$BAD"
    [ "$COUNT" -eq $(echo $codes | wc -w) ] || fail "$mode: only $COUNT runs ended"
    ok "$mode: $COUNT exit codes passed through"

    # Death by signal N: 128+N. Every signal whose default action ends a
    # process, sent by the worker to itself.
    sigs="HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT XCPU XFSZ VTALRM PROF IO PWR SYS"
    [ "$mode" = ns ] && sigs="HUP INT QUIT KILL SEGV TERM STKFLT SYS"
    codes_check "$mode" 'kill -@N@ $$; sleep 5' < <(for s in $sigs; do
        n=$(kill -l "$s")
        echo "$n $((128 + n))"
    done)
    [ -z "$BAD" ] || fail "$mode: deaths by signal N not passed as 128+N:$BAD"
    ok "$mode: $COUNT deaths by signal N exit 128+N ($sigs)"

    # A command that cannot run: 127 if missing, 126 if not executable.
    : >"$T/not-executable"
    chmod 644 "$T/not-executable"
    for c in "/nonexistent/cmd:127" "no-such-command-handoff-test:127" \
        "$T/not-executable:126" "$T:126"; do
        hrun "$mode" --pass systemd -l 127.0.0.1:0 -- "${c%:*}"
        [ "$RC" -eq "${c##*:}" ] || fail "$mode: '${c%:*}' exited $RC, expected ${c##*:}"
        grep -q 'event=exec_failed ' "$LOG" || fail "$mode: exec_failed not logged for ${c%:*}"
    done
    ok "$mode: a missing command exits 127, one that is not executable 126"

    # Stopped by SIGTERM: the active worker's status, whatever it is.
    for n in 0 3 255 143; do
        if [ "$n" = 143 ]; then
            w="exec sleep 300" # killed by the drain signal itself
        else
            w="trap 'exit $n' TERM; while :; do sleep 0.05; done"
        fi
        hstart "$mode" --pass systemd --ready delay:50ms -l 127.0.0.1:0 -- sh -c "$w"
        wait_log 'event=promote' 1
        kill -TERM "$INNER"
        wait_exit
        [ "$STATUS" -eq "$n" ] || fail "$mode: stopped with a worker exiting $n, handoff exited $STATUS"
        grep -q "event=exit_master code=$n " "$LOG" || fail "$mode: exit_master code=$n not logged"
    done
    ok "$mode: stopped by SIGTERM, handoff exits with the worker's 0, 3, 255, 143"
done

# --- signals forwarded, in order ---------------------------------------------
# The worker records each signal it catches. The forwardable ones are sent
# in an order that is not their numeric one (a receiver with several
# pending takes the lowest first, which would hide a reordering), 0.1 s
# apart; the ones handoff keeps (man/handoff.8 SIGNALS) must not arrive.
cat >"$T/sigworker.py" <<'EOF'
import os, signal, sys, time
out = sys.argv[1]
def record(sig, frame):
    if sig == signal.SIGTERM:
        os._exit(0)
    with open(out, "a") as f:
        f.write(f"{sig}\n")
for s in range(1, 32):
    if s not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(s, record)
open(out + ".ready", "w").close()
for _ in range(3000):
    time.sleep(0.1)
EOF
fwd="PWR USR1 WINCH QUIT IO ALRM TSTP URG CONT STKFLT PROF XCPU VTALRM XFSZ"
kept="PIPE CHLD"
for mode in $MODES; do
    rm -f "$T/sigs" "$T/sigs.ready"
    hstart "$mode" --pass systemd --ready "exec:test -e $T/sigs.ready" --ready-interval 20ms \
        -l 127.0.0.1:0 -- "$PY" "$T/sigworker.py" "$T/sigs"
    wait_log 'event=promote' 1
    want=
    for s in $fwd; do
        kill -s "$s" "$INNER"
        want="$want $(kill -l "$s")"
        sleep 0.1
    done
    for s in $kept; do kill -s "$s" "$INNER"; done
    n=$(echo $want | wc -w)
    for _ in $(seq 100); do [ "$(wc -l <"$T/sigs" 2>/dev/null || echo 0)" -ge "$n" ] && break; sleep 0.05; done
    sleep 0.3 # time for a signal that should not come
    got=$(paste -sd' ' "$T/sigs" 2>/dev/null)
    [ "$got" = "${want# }" ] || fail "$mode: worker got '$got', sent '${want# }'"
    kill -0 "$INNER" || fail "$mode: handoff died of a forwarded signal"
    kill -TERM "$INNER"
    wait_exit
    [ "$STATUS" -eq 0 ] || fail "$mode: exit $STATUS after the signals"
    ok "$mode: $n forwardable signals arrived in order ($got); $kept kept"
done

# --- a clean start for the worker --------------------------------------------
# handoff is started the way a careless parent might: signals blocked and
# ignored, stray fds open (not close-on-exec), in some directory. Its worker
# must start with none of it; handoff itself must still roll, reap and stop.
cat >"$T/launch.py" <<'EOF'
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGUSR2,
                       signal.SIGCHLD, signal.SIGHUP, signal.SIGUSR1, signal.SIGINT])
for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGWINCH,
          signal.SIGTTOU, signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_IGN)
for fd in (7, 9):
    os.set_inheritable(fd, True)
os.execvp(sys.argv[1], sys.argv[1:])
EOF
mkdir -p "$T/cwd" "$T/workdir"
# check_clean MODE PASS EXPECTED-FDS [ARGS...]
check_clean() {
    local mode=$1 pass=$2 want=$3 w fds hfd
    shift 3
    if [ "$mode" = ns ]; then
        (cd "$T/cwd" && exec unshare --pid --fork --mount-proc sh -c \
            'mount -t tmpfs tmpfs /run 2>/dev/null; exec "$@"' sh \
            "$PY" "$T/launch.py" "$HANDOFF" --pass "$pass" --ready delay:50ms \
            -l 127.0.0.1:0 "$@" -- sleep 300 7<"$T/launch.py" 9>"$T/stray" >>"$T/stdout" 2>"$LOG") &
        HPID=$!
        for _ in $(seq 100); do INNER=$(pgrep -P "$HPID" | head -n1); [ -n "$INNER" ] && break; sleep 0.05; done
    else
        (cd "$T/cwd" && exec "$PY" "$T/launch.py" "$HANDOFF" --pass "$pass" --ready delay:50ms \
            -l 127.0.0.1:0 "$@" -- sleep 300 7<"$T/launch.py" 9>"$T/stray" >>"$T/stdout" 2>"$LOG") &
        HPID=$!
        INNER=$HPID
    fi
    STARTED="$STARTED $HPID"
    wait_log 'event=promote' 1
    w=$(worker_pid)
    [ -n "$w" ] || fail "$mode/$pass: no worker"
    for f in SigBlk SigIgn; do
        v=$(sed -n "s/^$f:[[:space:]]*//p" "/proc/$w/status")
        [ "$(printf '%d' "0x$v")" -eq 0 ] || fail "$mode/$pass: worker starts with $f $v"
    done
    # Descriptors: 0-2, the sockets (systemd) and HANDOFF_FD, nothing else.
    hfd=$(tr '\0' '\n' <"/proc/$w/environ" | sed -n 's/^HANDOFF_FD=//p')
    fds=$(ls "/proc/$w/fd" | sort -n | paste -sd' ')
    [ "$fds" = "$want" ] || fail "$mode/$pass: worker fds '$fds', expected '$want'"
    [ "$hfd" = "${want##* }" ] || fail "$mode/$pass: HANDOFF_FD=$hfd is not the last fd ${want##* }"
    [ "$(stat -L -c %F "/proc/$w/fd/$hfd")" = socket ] || fail "$mode/$pass: HANDOFF_FD is not a socket"
    CWD=$(readlink "/proc/$w/cwd")
    # handoff still answers what it was started with blocked.
    kill -USR2 "$INNER"
    wait_log 'event=promote gen=2 ' 1 10
    wait_log 'event=exit gen=1 ' 1 10 # reaped: SIGCHLD reaches handoff
    kill -TERM "$INNER"
    wait_exit
    [ "$STATUS" -eq 143 ] || fail "$mode/$pass: stop gave $STATUS, expected 143 (sleep killed by SIGTERM)"
}
for mode in $MODES; do
    check_clean "$mode" systemd "0 1 2 3 4"
    [ "$CWD" = "$T/cwd" ] || fail "$mode: worker's directory $CWD, expected handoff's own $T/cwd"
    check_clean "$mode" protocol "0 1 2 3" -C "$T/workdir"
    [ "$CWD" = "$T/workdir" ] || fail "$mode: worker's directory $CWD, expected -C $T/workdir"
    # The shim adds nothing either (once is enough: it is the same spawn).
    [ "$mode" = sub ] && check_clean "$mode" shim "0 1 2 3"
    ok "$mode: workers start with no blocked or ignored signal, fds 0-2 + sockets + HANDOFF_FD only, the directory asked for; handoff started with blocked signals still rolls, reaps and stops"
done

# --- Ctrl-C on a terminal ------------------------------------------------------
# A real pseudo-terminal: handoff and its worker are its foreground process
# group, so ^C sends SIGINT to both, as at a shell prompt.
cat >"$T/ctrlc.py" <<'EOF'
import os, pty, select, sys, time
log = sys.argv[1]
lf = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
pid, fd = pty.fork()
if pid == 0:
    os.dup2(lf, 2)
    os.execvp(sys.argv[2], sys.argv[2:])
deadline = time.time() + 20
while time.time() < deadline:
    if "event=promote" in open(log).read():
        break
    time.sleep(0.05)
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
rc=$("$PY" "$T/ctrlc.py" "$LOG" "$HANDOFF" --pass systemd --ready delay:50ms -l 127.0.0.1:0 -- sleep 300)
[ "$rc" = 130 ] || fail "Ctrl-C on a terminal: exit $rc, expected 130"
grep -q 'event=stop signal=SIGINT' "$LOG" || fail "Ctrl-C: no stop on SIGINT logged"
ok "Ctrl-C on a terminal: handoff drains and exits 130"
if [ "$MODES" = "sub ns" ]; then
    # As PID 1 behind unshare, whose own status is its own: read handoff's.
    "$PY" "$T/ctrlc.py" "$LOG" unshare --pid --fork --mount-proc sh -c \
        'mount -t tmpfs tmpfs /run 2>/dev/null; exec "$@"' sh \
        "$HANDOFF" --pass systemd --ready delay:50ms -l 127.0.0.1:0 -- sleep 300 >/dev/null
    grep -q 'event=exit_master code=130 ' "$LOG" || fail "Ctrl-C as PID 1: $(grep -o 'event=exit_master code=[0-9]*' "$LOG")"
    ok "Ctrl-C on a terminal as PID 1: handoff exits 130"
fi
