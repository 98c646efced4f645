# faults.sh: faults around handoff while it serves under load: workers
# killed with SIGKILL during rolls, a crash loop, a worker that ignores
# drain_signal, workers that misuse their control channel, the master out of
# fds, 1,000 children exiting at once. Each ends with handoff serving and no
# connection refused (the master never closes its listeners); requests lost
# in a worker killed with SIGKILL are printed, not asserted.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3 prlimit
PY=$(python3 -c 'import sys; print(sys.executable)') # not a version manager's shim
TICK=$(getconf CLK_TCK)

# refused: connections hey saw refused in this load run.
refused() { grep -Eo '[0-9]+\]?[^0-9]*connection refused' "$T/hey.out" | grep -Eo '^[0-9]+' | awk '{s+=$1} END {print s+0}'; }
# cpu_ms PID: user+system time the process has used.
cpu_ms() { awk -v t="$TICK" '{print int(($14 + $15) * 1000 / t)}' "/proc/$1/stat"; }
nfds() { ls "/proc/$HPID/fd" | wc -l; }
# workers: children of handoff.
workers() { pgrep -P "$HPID" | paste -sd' '; }
# end_checks WHAT: still serving, nothing refused, no zombie.
end_checks() {
    kill -0 "$HPID" 2>/dev/null || fail "$1: handoff died"
    local i
    for i in 1 2 3; do [ -n "$(pid_serving)" ] && break; done # a loaded machine is slow
    [ -n "$(pid_serving)" ] || fail "$1: not serving"
    load_stop
    [ "$(refused)" -eq 0 ] || fail "$1: $(refused) connections refused"
    [ "$(zombies_of "$HPID")" -eq 0 ] || fail "$1: zombies under handoff"
}

# --- SIGKILL of random workers during rolls ---------------------------------
start_handoff --pass systemd -n 3 --ready-timeout 20s --drain-timeout 5s -l 127.0.0.1:0 -- "$PY" "$SERVER"
wait_log 'event=promote' 1 60
load_start 8
killed=0
for i in $(seq 2 7); do
    kill -USR2 "$HPID"
    sleep "0.$((RANDOM % 4))"
    set -- $(workers)
    [ $# -gt 0 ] && victim=$(eval echo "\${$((RANDOM % $# + 1))}") && kill -KILL "$victim" && killed=$((killed + 1))
    wait_log 'event=(promote|roll_failed) ' "$i" 60
done
# A loaded machine may see every one of those rolls fail (a kill within
# 0.3 s mostly hits a worker not yet ready): the clean roll at the end must
# be promoted.
kill -USR2 "$HPID"
wait_log 'event=(promote|roll_failed) gen=8 ' 1 60
grep -q 'event=promote gen=8 ' "$LOG" || fail "the clean roll after the kills was not promoted"
end_checks "SIGKILL during rolls"
ok "SIGKILL of $killed random workers during 7 rolls ($(count 'event=promote ') promoted, $(count 'event=roll_failed ') failed, $(count 'event=restart ') restarts): serving, 0 refused of $REQS, $FAILED lost in killed workers"
stop_handoff

# --- a crash loop ----------------------------------------------------------------
# One healthy worker serves; a second slot (SIGTTIN) exits at start again
# and again. Its restarts back off (100 ms doubling) and cost handoff little.
start_handoff --pass systemd -l 127.0.0.1:0 -- "$PY" "$SERVER" --exit-if "$T/crash"
wait_log 'event=promote' 1 60
load_start 8
touch "$T/crash"
cpu0=$(cpu_ms "$HPID") t0=$(date +%s%N)
kill -TTIN "$HPID"
wait_log 'event=restart gen=1 slot=1 delay_ms=1600' 1 60
cpu1=$(cpu_ms "$HPID") t1=$(date +%s%N)
window=$(((t1 - t0) / 1000000)) used=$((cpu1 - cpu0))
delays=$(grep -Eo 'event=restart gen=1 slot=1 delay_ms=[0-9]+' "$LOG" | grep -Eo '[0-9]+$' | paste -sd' ')
[ "$delays" = "100 200 400 800 1600" ] || fail "crash loop delays '$delays'"
# Generous: handoff forks and logs each restart, nothing more.
[ $((used * 100)) -le $((window * 20)) ] || fail "handoff used $used ms of CPU in $window ms of crash loop"
kill -TTOU "$HPID" # retire the crashing slot
end_checks "crash loop"
[ "$FAILED" -eq 0 ] || fail "crash loop: $FAILED of $REQS requests failed"
ok "crash loop: restarts after $delays ms; handoff CPU $used ms in $window ms ($((used * 1000 / window))‰); 0 failed of $REQS"
stop_handoff

# --- a worker that ignores drain_signal, under load ----------------------------
start_handoff --pass systemd --drain-timeout 1s -l 127.0.0.1:0 -- "$PY" "$SERVER" --bad-gens 1 --ignore-drain
wait_log 'event=promote' 1 60
load_start 8
roll_and_wait 2
wait_log 'event=kill gen=1 .*reason=drain_timeout' 1 20
wait_log 'event=gone gen=1 ' 1 20
end_checks "ignores drain_signal"
ok "a worker ignoring SIGTERM killed at drain_timeout: serving, 0 refused of $REQS, $FAILED lost in it"
stop_handoff

# --- control channel misuse ----------------------------------------------------------
# Generations 2-5 each misuse their channel once ready. The master answers
# what it can, drops the channel when it must, closes every fd a worker sent
# and keeps serving and rolling; its own fds come back to what they were.
start_handoff --pass protocol --log-level debug -l 127.0.0.1:0 -- "$PY" "$SERVER" --protocol \
    --abuse 2:close,3:garbage,4:oversized,5:flood
wait_log 'event=promote' 1 60
load_start 8
fds0=$(nfds)
for g in 2 3 4 5; do
    roll_and_wait "$g"
    wait_log "event=promote gen=$g " 1 10
    wait_log "event=gone gen=$((g - 1)) " 1 20
done
roll_and_wait 6 # the flood's generation drains like any other
wait_log 'event=gone gen=5 ' 1 20
fds1=$(nfds)
grep -q 'event=channel_closed gen=2 .*closed by the worker' "$LOG" || fail "close: not seen"
[ "$(count 'event=channel_bad_message gen=3 ')" -ge 8 ] || fail "garbage: $(count 'event=channel_bad_message gen=3 ') bad messages logged"
grep -q 'event=channel_closed gen=3 .*malformed' "$LOG" || fail "garbage: 3 fds in one message did not close the channel"
grep -q 'event=channel_closed gen=4 .*oversized' "$LOG" || fail "oversized: channel not closed"
grep -q 'event=channel_closed gen=5 .*does not read its replies' "$LOG" || fail "flood: channel not closed"
[ "$fds1" -eq "$fds0" ] || fail "master fds $fds0 before, $fds1 after the misuse"
end_checks "control channel misuse"
[ "$FAILED" -eq 0 ] || fail "control channel misuse: $FAILED of $REQS failed"
ok "control channel closed, garbage, oversized, flooded: each logged, master fds $fds0 -> $fds1, 0 failed of $REQS"
stop_handoff

# --- the master out of fds ---------------------------------------------------------
# prlimit lowers the master's own limit (not its workers'): limit_new K
# leaves room for exactly K new fds.
limit_new() {
    local want=$(($1 + 1)) n=0 fd
    for fd in $(seq 0 65535); do
        [ -e "/proc/$HPID/fd/$fd" ] && continue
        n=$((n + 1))
        [ "$n" -eq "$want" ] && break
    done
    prlimit --pid "$HPID" --nofile="$fd:" # the hard limit stays
}
start_handoff --pass systemd -n 2 --control "$T/ctl" -l 127.0.0.1:0 -- "$PY" "$SERVER"
wait_log 'event=promote' 1 60
load_start 8
fds0=$(nfds)
nofile=$(prlimit --pid "$HPID" --nofile --noheadings --output SOFT,HARD | awk '{print $1 ":" $2}')
limit_new 0 # socketpair fails
roll_and_wait 2
grep -q 'event=roll_failed gen=2 reason="cannot start a worker: Too many open files"' "$LOG" ||
    fail "no fd for the channel: roll_failed not logged"
[ "$(count 'event=roll_failed gen=2 ')" -eq 1 ] || fail "one failed roll logged $(count 'event=roll_failed gen=2 ') times"
[ "$(nfds)" -eq "$fds0" ] || fail "a failed roll left $(nfds) fds, was $fds0"
limit_new 2 # socketpair passes, the exec report pipe fails
roll_and_wait 3
grep -q 'event=spawn_failed gen=3 .*Too many open files' "$LOG" || fail "no fd for the pipe: spawn_failed not logged"
[ "$(nfds)" -eq "$fds0" ] || fail "a failed spawn left $(nfds) fds, was $fds0"
# A worker dies while no fd is left: its restart fails, and is tried again.
limit_new 0
set -- $(workers)
kill -KILL "$1"
wait_log 'event=restart_failed gen=1 ' 2 20
# The control socket cannot accept either: handoff must not spin on it.
cpu0=$(cpu_ms "$HPID")
timeout 3 "$HANDOFF" status --control "$T/ctl" >/dev/null 2>&1
sleep 1
used=$(($(cpu_ms "$HPID") - cpu0))
[ "$used" -lt 1000 ] || fail "handoff used $used ms of CPU in 4 s with a control client it cannot accept"
prlimit --pid "$HPID" --nofile="$nofile"
wait_log 'event=spawn gen=1 .*slot=' 3 30 # the slot is back
kill -USR2 "$HPID"
wait_log 'event=promote gen=4 ' 1 60
end_checks "out of fds"
ok "out of fds: rolls failed cleanly (fds $fds0 -> $(nfds)), a restart retried until fds came back, control client cost $used ms; 0 refused of $REQS, $FAILED lost in the killed worker"
stop_handoff

# --- 1,000 children exiting at once --------------------------------------------------
start_handoff --pass systemd --ready-timeout 60s -l 127.0.0.1:0 -- "$PY" "$SERVER" --bad-gens 2 --burst 1000
wait_log 'event=promote' 1 60
load_start 8
roll_and_wait 2
grep -q 'event=promote gen=2 ' "$LOG" || fail "the roll with 1,000 children failed"
# They exit 0.5 s after the last is made; until reaped, each is a child of
# handoff (pgrep counts zombies too): wait for the worker to be the only one.
for i in $(seq 200); do [ "$(pgrep -P "$HPID" | wc -l)" -le 1 ] && break; sleep 0.1; done
left=$(pgrep -P "$HPID" | wc -l)
[ "$left" -le 1 ] || fail "$left children of handoff 20 s after the burst, $(zombies_of "$HPID") of them zombies"
[ "$(zombies_of "$HPID")" -eq 0 ] || fail "zombies after the burst"
end_checks "1,000 children"
[ "$FAILED" -eq 0 ] || fail "1,000 children: $FAILED of $REQS failed"
stop_handoff
reaped=$(grep -Eo 'orphans_reaped=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ "${reaped:-0}" -ge 1000 ] || fail "reaped ${reaped:-0} orphans, expected 1000"
ok "1,000 children exiting at once: $reaped reaped, no zombie, 0 failed of $REQS"
