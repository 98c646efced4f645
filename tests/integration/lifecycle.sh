#!/usr/bin/env bash
# lifecycle.sh: the roll's states at their edges: queued rolls with their own
# canary, status after a return to a kept generation, SIGTTOU during a canary
# or keep_previous, a last worker gone before a rollback, a kept generation
# that loses processes or whose restart falls due while it is kept,
# guard_latency once the new one has every client.
# CASES="10 11" runs only those (each case is numbered as in issue 18).
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl
CTL="$T/ctl"
CASES=${CASES:-10 11 2 9 13 7 8 12 6}

want() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }

# start PORT ARGS...: handoff with a control socket, gen 1 promoted.
start() {
    local p=$1
    shift
    start_handoff --pass systemd --control "$CTL" --drain-timeout 5s \
        -l "127.0.0.1:$p" "$@"
    PORT=$p # what load_start uses, known before the log says it
    wait_log 'event=promote gen=1 ' 1 30
}
# raw LINE: send one request line to the control socket as any client may
# (the CLI checks a --canary before it sends it); prints the answer.
raw() {
    python3 - "$CTL" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.recv(4096).decode(), end="")
PY
}
# json EXPR: evaluate EXPR on handoff status --json (as s; g by generation).
json() {
    "$HANDOFF" status --json --control "$CTL" | python3 -c '
import json, sys
s = json.load(sys.stdin)
g = {x["id"]: x for x in s["generations"]}
print(eval(sys.argv[1]))' "$1"
}
# until_json EXPR [SECONDS]: until EXPR is True in status --json.
until_json() {
    local i
    for i in $(seq $((${2:-20} * 10))); do
        [ "$(json "$1" 2>/dev/null)" = True ] && return 0
        sleep 0.1
    done
    return 1
}
pids_of() { json "' '.join(str(p['pid']) for p in g[$1]['processes'] if p['pid'])"; }

# 10. Each queued roll keeps its own canary: an invalid "roll canary=" from
# another client leaves it be, a second --canary with other steps queues a
# roll of its own (it once replaced the first's silently).
if want 10; then
p=$(free_port)
start "$p" -- python3 "$SERVER" --bad-gens 2,4 --ready-after 2
kill -USR2 "$HPID"
wait_log 'event=roll gen=2 ' 1 10
timeout 60 "$HANDOFF" roll --canary 50%/60s --control "$CTL" >"$T/a" 2>&1 &
a=$!
wait_log 'event=roll_queued ' 1 10
bad=$(raw 'roll canary=200%/1s')
echo "$bad" | grep -q '^error: --canary' || fail "an invalid canary: $bad"
wait_log 'event=promote gen=2 ' 1 30
wait_log 'event=(canary|promote) gen=3 ' 1 30
grep -q 'event=canary gen=3 old=2 step=1/1 share_bps=5000 ' "$LOG" ||
    fail "gen 3 lost its queued canary after another client's invalid one: $(grep -E 'event=(canary|promote) gen=3 ' "$LOG"); its client: $(cat "$T/a")"
hc promote --control "$CTL"
wait "$a" || fail "the --canary roll: $(cat "$T/a")"
grep -q 'promoted gen=3' "$T/a" || fail "the --canary roll: $(cat "$T/a")"
ok "a queued roll --canary 50%/60s kept its steps after another client's invalid one ($bad)"
# A second --canary with other steps: a roll of its own, after the first's.
kill -USR2 "$HPID"
wait_log 'event=roll gen=4 ' 1 10
timeout 60 "$HANDOFF" roll --canary 30%/60s --control "$CTL" >"$T/a" 2>&1 &
a=$!
wait_log 'event=roll_queued ' 2 10
timeout 90 "$HANDOFF" roll --canary 20%/60s --control "$CTL" >"$T/b" 2>&1 &
b=$!
wait_log 'event=roll_queued ' 3 10
wait_log 'event=(canary|promote) gen=5 ' 1 30
grep -q 'event=canary gen=5 old=4 step=1/1 share_bps=3000 ' "$LOG" ||
    fail "gen 5 did not go through the first --canary: $(grep -E 'event=(canary|promote) gen=5 ' "$LOG")"
hc promote --control "$CTL"
wait "$a" || fail "the first --canary roll: $(cat "$T/a")"
grep -q 'promoted gen=5' "$T/a" || fail "the first --canary roll: $(cat "$T/a")"
wait_log 'event=(canary|promote) gen=6 ' 1 30
grep -q 'event=canary gen=6 old=5 step=1/1 share_bps=2000 ' "$LOG" ||
    fail "gen 6 did not go through the second --canary: $(grep -E 'event=(canary|promote) gen=6 ' "$LOG")"
hc promote --control "$CTL"
wait "$b" || fail "the second --canary roll: $(cat "$T/b")"
grep -q 'promoted gen=6' "$T/b" || fail "the second --canary roll: $(cat "$T/b")"
ok "a second --canary with other steps got a roll of its own: gen 5 at 30%, then gen 6 at 20%, each client told its own"
stop_handoff
fi

# 11. After a return to the kept generation, status says so.
if want 11; then
p=$(free_port)
start "$p" --keep-previous 60s -- python3 "$SERVER"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: $OUT $ERR"
wait_log 'event=kept gen=1 ' 1 10
hc rollback --control "$CTL"
[ "$RC" -eq 0 ] || fail "rollback: $OUT $ERR"
hc status --control "$CTL"
last=$(echo "$OUT" | grep '^last roll:')
echo "$last" | grep -q 'promoted gen=2' && fail "status after the rollback: $last"
echo "$last" | grep -q 'failed gen=2 .*rolled back from generation 2 to 1' ||
    fail "status after the rollback: $last"
[ "$(json "s['last_roll']['outcome']")" = failed ] || fail "status --json: $(json "s['last_roll']")"
ok "after a keep_previous rollback: $last"
stop_handoff
fi

# 2. SIGTTOU during a canary and during keep_previous takes a process the
# operator asked to take: no rollback, no guard=crash.
if want 2; then
p=$(free_port)
start "$p" --processes 3 --canary 50%/60s -- python3 "$SERVER"
timeout 60 "$HANDOFF" roll --control "$CTL" >"$T/a" 2>&1 &
a=$!
wait_log 'event=canary gen=2 ' 1 30
kill -TTOU "$HPID"
wait_log 'event=exit gen=2 ' 1 10
wait_log 'event=exit gen=1 ' 1 10
[ "$(count 'event=rollback ')" -eq 0 ] || fail "SIGTTOU during a canary: $(grep 'event=rollback ' "$LOG")"
[ "$(json "g[2]['state']")" = canary ] || fail "gen 2 is $(json "g[2]['state']") after SIGTTOU"
hc promote --control "$CTL"
wait "$a" || fail "the canary after SIGTTOU: $(cat "$T/a")"
ok "SIGTTOU during a canary: one process fewer in each generation, canary on, promoted"
stop_handoff

p=$(free_port)
start "$p" --processes 3 --keep-previous 60s -- python3 "$SERVER"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: $OUT $ERR"
wait_log 'event=kept gen=1 ' 1 10
kill -TTOU "$HPID"
wait_log 'event=exit gen=2 ' 1 10
sleep 0.2 # the exit is handled in the same loop pass as its log line
[ "$(count 'event=rollback ')" -eq 0 ] || fail "SIGTTOU during keep_previous: $(grep 'event=rollback ' "$LOG")"
hc metrics --control "$CTL"
echo "$OUT" | grep -q 'handoff_rollbacks_total{guard="crash"} 0' ||
    fail "rollbacks: $(echo "$OUT" | grep rollbacks_total)"
[ "$(json "s['active']")" = 2 ] || fail "active after SIGTTOU: $(json "s['active']")"
# The operator's count holds for the kept one too, should traffic return.
hc rollback --control "$CTL"
[ "$RC" -eq 0 ] || fail "rollback: $OUT $ERR"
until_json "len(g[1]['processes']) == 2" 10 ||
    fail "the kept gen 1 came back with $(json "len(g[1]['processes'])") processes after SIGTTOU (2 asked)"
ok "SIGTTOU during keep_previous: no rollback, guard=crash 0; handoff rollback brings gen 1 back with 2 processes"
stop_handoff
fi

# 9. restart = never: the active generation's last worker exits during a
# canary, then the canary is rolled back: nothing serves, handoff exits with
# that worker's status (128+9).
if want 9; then
p=$(free_port)
start "$p" --restart never --canary 50%/60s -- python3 "$SERVER"
timeout 60 "$HANDOFF" roll --control "$CTL" >"$T/a" 2>&1 &
wait_log 'event=canary gen=2 ' 1 30
kill -KILL $(pids_of 1)
wait_log 'event=exit gen=1 ' 1 10
hc rollback --control "$CTL"
for i in $(seq 100); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$HPID" 2>/dev/null &&
    fail "still running 10 s after the rollback with nothing serving: $("$HANDOFF" status --control "$CTL" | grep '^gen ')"
wait_exit
[ "$STATUS" -eq 137 ] || fail "exit status $STATUS, not 137 (the last worker's SIGKILL)"
grep -q 'event=no_worker_left gen=1' "$LOG" || fail "no event=no_worker_left"
ok "restart = never: a canary rolled back with gen 1 gone: handoff exits 137 (event=no_worker_left)"
fi

# 13. restart = never: the active generation's last worker exits during a
# canary, then the canary is promoted: with nothing left to return to, the
# old generation is not kept, and a rollback is refused (it returned the
# traffic to a generation without a process, and handoff served nothing).
if want 13; then
p=$(free_port)
start "$p" --restart never --canary 50%/60s --keep-previous 60s -- python3 "$SERVER"
timeout 60 "$HANDOFF" roll --control "$CTL" >"$T/a" 2>&1 &
wait_log 'event=canary gen=2 ' 1 30
kill -KILL $(pids_of 1)
wait_log 'event=exit gen=1 ' 1 10
hc promote --control "$CTL"
[ "$RC" -eq 0 ] || fail "promote: $OUT $ERR"
wait_log 'event=promote gen=2 ' 1 10
hc rollback --control "$CTL"
[ "$RC" -ne 0 ] || fail "a rollback to gen 1, which has no process left: '$OUT'; $("$HANDOFF" status --control "$CTL" | grep '^gen ' | tr '\n' ';')"
curl -s "http://127.0.0.1:$p/" | grep -q 'gen=2' || fail "gen 2 does not answer after the refused rollback"
ok "restart = never: gen 1 gone before the promotion is not kept; rollback refused ($ERR)"
# The stop ends once gen 2 is gone: gen 1, retired with no process left,
# holds nothing (it held the stop until stop_timeout, 30 s, then SIGKILL).
stop_handoff
[ "$(count 'event=stop_timeout ')" -eq 0 ] ||
    fail "the stop waited for stop_timeout with nothing running: $(grep -E 'event=(stop|gone|retired|stop_timeout|stop_abandoned) ' "$LOG" | cut -d' ' -f1,3- | tr '\n' ';')"
ok "the stop after it ends with gen 2: $(grep -Eo 'event=gone gen=2 [^ ]*' "$LOG"), no stop_timeout"
fi

# 7. A kept generation that dies ends keep_previous: kept_end, its guard
# stops, status shows no guard.
if want 7; then
p=$(free_port)
start "$p" --keep-previous 60s --guard "http://127.0.0.1:$p/health" \
    --guard-interval 100ms -- python3 "$SERVER"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: $OUT $ERR"
wait_log 'event=kept gen=1 ' 1 10
for i in $(seq 100); do
    line=$("$HANDOFF" status --control "$CTL" | grep '^guard ')
    echo "$line" | grep -Eq '\([0-9]+ of [1-9][0-9]* passed, 0 failed in a row\)' && break
    sleep 0.1
done
echo "$line" | grep -Eq 'passed, 0 failed in a row\)' || fail "status's guard line: $line"
kill -KILL $(pids_of 1)
wait_log 'event=exit gen=1 ' 1 10
for i in $(seq 50); do [ "$(count 'event=kept_end gen=1 ')" -ge 1 ] && break; sleep 0.1; done
[ "$(count 'event=kept_end gen=1 ')" -ge 1 ] || fail "no kept_end 5 s after the kept generation died"
wait_log 'event=guard_stop gen=2 ' 1 5
hc status --control "$CTL"
echo "$OUT" | grep -q '^guard ' && fail "status still shows the guard: $(echo "$OUT" | grep '^guard ')"
hc rollback --control "$CTL"
[ "$RC" -ne 0 ] || fail "a rollback to a dead generation: $OUT"
ok "a kept generation killed: $(grep -Eo 'event=kept_end gen=1 [^ ]*' "$LOG"), guard stopped, status without it, rollback refused"
stop_handoff
fi

# 8. After a rollback, a kept generation that lost a worker gets it back.
if want 8; then
p=$(free_port)
start "$p" --processes 2 --keep-previous 60s -- python3 "$SERVER"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: $OUT $ERR"
wait_log 'event=kept gen=1 ' 1 10
kill -KILL $(pids_of 1 | cut -d' ' -f1)
wait_log 'event=exit gen=1 ' 1 10
hc rollback --control "$CTL"
[ "$RC" -eq 0 ] || fail "rollback: $OUT $ERR"
until_json "len(g[1]['processes']) == 2 and all(x['ready'] for x in g[1]['processes'])" 15 ||
    fail "gen 1 has $(json "len(g[1]['processes'])") of 2 processes after the rollback"
ok "a kept generation that lost one of 2 processes: back to 2 after the rollback"
stop_handoff
fi

# 12. A restart of the previous generation still pending when the new one
# is promoted falls due while it is kept, when nothing is started: after a
# rollback, that process comes back too.
if want 12; then
p=$(free_port)
start "$p" --processes 2 --keep-previous 60s --metrics 127.0.0.1:0 -- python3 "$SERVER"
MPORT=$(grep -o 'event=metrics address=[^ ]*' "$LOG" | head -n1 | sed 's/.*://')
restarting() {
    curl -s "http://127.0.0.1:$MPORT/metrics" |
        awk '/^handoff_generation_processes[{]generation="1",state="restarting"[}]/ { print $2 }'
}
slot0() { grep -Eo 'event=spawn gen=1 pid=[0-9]+ slot=0' "$LOG" | tail -n1 | grep -Eo 'pid=[0-9]+' | cut -d= -f2; }
# Slot 0 crashes 7 times in a row: its restart backoff doubles from 100 ms
# to 6.4 s, long enough for the roll below to promote gen 2 first.
for i in 1 2 3 4 5 6 7; do
    kill -KILL "$(slot0)"
    wait_log 'event=restart gen=1 slot=0 ' "$i" 20
    [ "$i" -lt 7 ] && wait_log 'event=spawn gen=1 .*slot=0' $((i + 1)) 20
done
grep -q 'event=restart gen=1 slot=0 delay_ms=6400' "$LOG" || fail "the last restart of slot 0: $(grep -o 'event=restart gen=1 .*' "$LOG" | tail -n1)"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: $OUT $ERR"
wait_log 'event=kept gen=1 ' 1 10
[ "$(restarting)" = 1 ] || fail "the restart fell due before gen 2 was promoted (restarting=$(restarting)): the case was not reached"
for i in $(seq 150); do [ "$(restarting)" = 0 ] && break; sleep 0.1; done
[ "$(restarting)" = 0 ] || fail "the restart of gen 1's slot 0 never fell due"
hc rollback --control "$CTL"
[ "$RC" -eq 0 ] || fail "rollback: $OUT $ERR"
until_json "len(g[1]['processes']) == 2 and all(x['ready'] for x in g[1]['processes'])" 15 ||
    fail "gen 1 has $(json "len(g[1]['processes'])") of 2 processes after the rollback (its restart fell due while kept)"
ok "a kept generation whose restart fell due while kept: back to 2 processes after the rollback"
stop_handoff
fi

# 6. guard_latency during keep_previous: two identical versions, the new one
# under load (it has every client), the kept one idle: no rollback.
if want 6; then
need hey
p=$(free_port)
start "$p" --keep-previous 60s --guard "http://127.0.0.1:$p/health" \
    --guard-interval 100ms --guard-latency 1.5 -- python3 "$SERVER"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: $OUT $ERR"
wait_log 'event=kept gen=1 ' 1 10
load_start 8
# Three latency windows of the guard, or a rollback.
for i in $(seq 300); do
    [ "$(count 'event=rollback ')" -ge 1 ] && break
    n=$("$HANDOFF" status --control "$CTL" | sed -n 's/^guard gen=2 .*(\([0-9]*\) of \([0-9]*\) passed.*/\2/p')
    [ "${n:-0}" -ge 60 ] && break
    sleep 0.1
done
load_stop
[ "$(count 'event=rollback ')" -eq 0 ] ||
    fail "identical versions rolled back during keep_previous: $(grep -Eo 'guard_latency: p95 [^)]*' "$LOG" | tail -n1)"
[ "${n:-0}" -ge 60 ] || fail "only ${n:-0} guard probes in 30 s"
[ "$FAILED" -eq 0 ] || fail "$FAILED requests failed"
ok "guard_latency 1.5 during keep_previous: $n probes of the loaded gen 2, not rolled back"
stop_handoff
fi
