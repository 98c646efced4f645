# worker_tree.sh: a worker's own children go with it. A pre-forking server
# whose parent exits on drain_signal, leaving children that ignore it, has
# its whole process group killed at drain_timeout: nothing of the old
# generation is left and it answers no request. A handoff killed by SIGKILL
# leaves no worker behind, and a new one starts on the same port.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

PREFORK="$TOP_SRCDIR/tests/servers/prefork.py"
# alive PID: it runs (a zombie does not count).
alive() {
    local line
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    line=${line##*) }
    [ "${line%% *}" != Z ]
}

start_handoff --pass systemd --ready notify --drain-timeout 1s --stop-timeout 2s \
    -l 127.0.0.1:0 -- \
    python3 "$PREFORK" 2 "$T/kids"
wait_log 'event=promote gen=1 ' 1
old=$(cat "$T/kids.1")
[ -n "$old" ] || fail "the server wrote no children"
get / | grep -q '^gen=1 ' || fail "gen 1 does not answer"
roll_and_wait 2
wait_log 'event=promote gen=2 ' 1
# Its children had drain_timeout (1 s) after the drain; then 3 s for the
# kill to land and handoff to reap them.
left=
for _ in $(seq 80); do
    left=
    for p in $old; do alive "$p" && left="$left $p"; done
    [ -z "$left" ] && break
    sleep 0.05
done
[ -z "$left" ] || fail "children of gen 1 still run 4 s after its drain:$left"
grep -q 'event=kill gen=1 pgid=[0-9]* reason=drain_timeout' "$LOG" ||
    fail "the kill of gen 1's group at drain_timeout is not logged"
ok "the children of a drained pre-forking worker are gone after drain_timeout"
for i in $(seq 30); do
    g=$(get / | sed -n 's/^gen=\([0-9]*\) .*/\1/p')
    [ "$g" = 2 ] || fail "request $i answered by gen '${g:-none}', not 2"
done
ok "30 requests, all answered by the new generation"
stop_handoff

# kill -9 of handoff: its worker dies with it (PR_SET_PDEATHSIG), so a new
# handoff can bind the same port at once.
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote gen=1 ' 1
w=$(grep -Eo 'event=spawn gen=1 pid=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
port=$PORT
kill -KILL "$HPID"
wait "$HPID" 2>/dev/null
for _ in $(seq 60); do alive "$w" || break; sleep 0.05; done
alive "$w" && fail "worker $w outlived a handoff killed by SIGKILL"
ok "handoff killed by SIGKILL: its worker $w is gone"
start_handoff --pass systemd -l "127.0.0.1:$port" -- python3 "$SERVER"
wait_log 'event=(promote|listen_failed|exit_master) ' 1
grep -q 'event=promote gen=1 ' "$LOG" || fail "a new handoff on port $port did not start: $(grep -E 'listen_failed|error' "$LOG" | head -n 2)"
stop_handoff
ok "a new handoff on the same port starts"
