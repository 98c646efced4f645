#!/usr/bin/env bash
# dns_probe.sh: dns: readiness and guards against a DNS responder the
# workers run: a roll waits for its answer; silence, another id or another
# source never pass; a guard rolls a canary back once it stops answering;
# on a steered udp: listener, a probe reaches only the generation it checks;
# a liveness check of dns: kind replaces an active generation that stops
# answering.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3
RESPONDER="$TOP_SRCDIR/tests/servers/dnsresponder.py"
CTL="$T/ctl"
QLOG="$T/queries"

# A UDP port the kernel chose on 127.0.0.1 and free on 127.0.0.2 too: each
# generation G answers on 127.0.0.G (the responder's --bind), so that a
# probe of one cannot be answered by another.
DP=$(python3 - <<'PY'
import socket
for _ in range(50):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    port = a.getsockname()[1]
    try:
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b.bind(("127.0.0.2", port))
    except OSError:
        continue
    print(port)
    break
PY
)
[ -n "$DP" ] || fail "no UDP port free on 127.0.0.1 and 127.0.0.2"

# ask HOST [PORT]: one A query to HOST:PORT (DP by default); prints
# "answered" (a reply with the query's id from there) or "silent" after 2 s.
ask() {
    python3 - "$1" "${2:-$DP}" <<'PY'
import os, socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
qid = struct.unpack("!H", os.urandom(2))[0]
s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + b"\0\0\1\0\1", (host, port))
try:
    while True:
        r, src = s.recvfrom(512)
        if src == (host, port) and r[:2] == struct.pack("!H", qid) and r[2] & 0x80:
            print("answered")
            break
except socket.timeout:
    print("silent")
PY
}

# start ARGS... -- RESPONDER-ARGS...: handoff probing its workers with dns:,
# gen 1 promoted.
start() {
    local hargs=()
    while [ "$1" != -- ]; do
        hargs+=("$1")
        shift
    done
    shift
    rm -f "$QLOG"
    start_handoff --pass systemd --control "$CTL" --log-level debug \
        --ready-interval 100ms --ready "dns:127.0.0.%g:$DP" \
        -l 127.0.0.1:0 "${hargs[@]}" \
        -- python3 "$RESPONDER" --bind "127.0.0.{gen}:$DP" --log "$QLOG" "$@"
    wait_log 'event=promote gen=1 ' 1 30
}

# roll: a roll by the control client, in the foreground; sets RC and
# ROLL_MS (how long the client waited).
roll() {
    local t0
    t0=$(date +%s%N)
    "$HANDOFF" roll --control "$CTL" >"$T/roll.out" 2>&1
    RC=$?
    ROLL_MS=$((($(date +%s%N) - t0) / 1000000))
}

# gen_pid G: the pid of generation G's worker.
gen_pid() { grep -Eo "event=spawn gen=$1 pid=[0-9]+" "$LOG" | head -n1 | grep -Eo '[0-9]+$'; }

# 1. A responder that binds only after 2 s: probes fail until it answers;
# the roll is promoted after that, and from the probe ports of its
# generation.
start -- --gens 2 --delay-start 2
roll
[ "$RC" -eq 0 ] || fail "the roll exited $RC: $(cat "$T/roll.out")"
[ "$ROLL_MS" -ge 2000 ] || fail "the roll ended after ${ROLL_MS} ms, before the responder bound (2 s)"
bound=$(sed -n 's/^gen=2 bound=.* mono_us=\([0-9]*\)$/\1/p' "$QLOG")
ready=$(sed -n 's/.*event=ready gen=2 .*via=dns .*mono_us=\([0-9]*\).*/\1/p' "$LOG")
[ -n "$bound" ] && [ -n "$ready" ] || fail "no bind ($bound) or ready ($ready) of gen 2"
[ "$ready" -gt "$bound" ] || fail "gen 2 ready at $ready us, before its responder bound at $bound us"
early=$(count 'event=probe gen=2 .*err=ECONNREFUSED')
[ "$early" -ge 1 ] || fail "no probe of gen 2 failed before its responder bound"
range=$(sed -n 's/.*event=steer gen=2 probe_ports=\([0-9]*-[0-9]*\).*/\1/p' "$LOG")
[ -n "$range" ] || fail "no probe ports for gen 2"
lo=${range%-*} hi=${range#*-}
srcs=$(grep -c '^gen=2 src=' "$QLOG")
outside=$(sed -n 's/^gen=2 src=127\.0\.0\.[0-9]*:\([0-9]*\) .*/\1/p' "$QLOG" |
    awk -v lo="$lo" -v hi="$hi" '$1 < lo || $1 > hi' | wc -l)
[ "$srcs" -ge 1 ] && [ "$outside" -eq 0 ] ||
    fail "$outside of $srcs queries to gen 2 came from outside its probe ports $range"
ok "dns: a roll waits for the answer: exit 0 after ${ROLL_MS} ms (responder bound after 2 s, $early refused probes before), $srcs queries from gen 2's probe ports $range"
stop_handoff
sanitizers_quiet

# 2. Silence, another id, another source port: never ready; the roll
# fails at ready_timeout and gen 1 keeps answering.
for bad in --silent --wrong-id --wrong-source; do
    start --ready-timeout 2s -- --gens 2 "$bad"
    roll
    [ "$RC" -ne 0 ] || fail "$bad: the roll succeeded"
    grep -q 'event=roll_failed gen=2 .*not ready within ready_timeout' "$LOG" ||
        fail "$bad: no roll_failed at ready_timeout"
    [ "$(count 'event=promote gen=2 ')" -eq 0 ] || fail "$bad: gen 2 was promoted"
    seen=$(grep -c '^gen=2 src=' "$QLOG")
    [ "$seen" -ge 3 ] || fail "$bad: gen 2's responder saw $seen queries, expected 3 or more"
    [ "$(ask 127.0.0.1)" = answered ] || fail "$bad: gen 1 no longer answers"
    ok "dns: $bad never passes: $seen queries to gen 2, roll exit $RC after ${ROLL_MS} ms, gen 1 answers"
    stop_handoff
    sanitizers_quiet
done

# 3. A guard of dns: kind: passes while the canary answers, rolls it back
# once it stops (guard_failures in a row); gen 1 serves on.
start --canary 50%/60s --guard "dns:127.0.0.%g:$DP" --guard-interval 100ms \
    --guard-failures 3 --
"$HANDOFF" roll --control "$CTL" >"$T/roll.out" 2>&1 &
rollc=$!
wait_log 'event=canary gen=2 ' 1 30
wait_log 'event=guard gen=2 ok=1 rcode=0' 5
passed=$(count 'event=guard gen=2 ok=1 ')
kill -USR1 "$(gen_pid 2)"
wait_log 'event=guard_failed gen=2 ' 1
wait "$rollc"
RC=$?
[ "$RC" -ne 0 ] || fail "the roll exited 0 after its guard failed"
failed=$(count 'event=guard gen=2 ok=0 ')
[ "$failed" -ge 3 ] || fail "guard_failed after $failed failed probes, expected 3"
grep -q "event=guard_failed gen=2 guard=\"\?dns:127.0.0.%g:$DP\"\? " "$LOG" ||
    fail "guard_failed does not name the guard"
[ "$(ask 127.0.0.1)" = answered ] || fail "gen 1 no longer answers after the rollback"
ok "dns: guard: $passed probes passed, then $failed failed and the canary was rolled back (roll exit $RC); gen 1 answers"
stop_handoff
sanitizers_quiet

# 4. A steered udp: listener shared by the generations on one address: a
# probe leaves from its generation's probe ports, and only that
# generation's socket gets it. Gen 3 is silent: it never passes although
# gen 2, active on the same address, answers everyone else.
DU=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -f "$QLOG"
start_handoff --pass systemd --control "$CTL" --log-level debug \
    --ready-interval 100ms --ready-timeout 2s --ready "dns:127.0.0.1:$DU" \
    -l "udp:127.0.0.1:$DU" \
    -- python3 "$RESPONDER" --bind listen-fds --log "$QLOG" --gens 3 --silent
wait_log 'event=promote gen=1 ' 1 30
roll
[ "$RC" -eq 0 ] || fail "udp: the roll to gen 2 exited $RC: $(cat "$T/roll.out")"
roll
[ "$RC" -ne 0 ] || fail "udp: the roll to silent gen 3 succeeded: its probes reached another generation"
grep -q 'event=roll_failed gen=3 .*not ready within ready_timeout' "$LOG" ||
    fail "udp: no roll_failed of gen 3 at ready_timeout"
# by_block G: "queries from G's probe ports: to G, to others".
by_block() {
    local r lo hi
    r=$(sed -n "s/.*event=steer gen=$1 probe_ports=\([0-9]*-[0-9]*\).*/\1/p" "$LOG" | head -n1)
    [ -n "$r" ] || fail "udp: no probe ports for gen $1"
    lo=${r%-*} hi=${r#*-}
    sed -n 's/^gen=\([0-9]*\) src=127\.0\.0\.1:\([0-9]*\) .*/\1 \2/p' "$QLOG" |
        awk -v g="$1" -v lo="$lo" -v hi="$hi" \
            '$2 >= lo && $2 <= hi { if ($1 == g) m++; else o++ } END { print m + 0, o + 0 }'
}
read -r to2 else2 < <(by_block 2)
read -r to3 else3 < <(by_block 3)
[ "$to2" -ge 1 ] && [ "$else2" -eq 0 ] || fail "udp: gen 2's probes: $to2 to gen 2, $else2 to another"
[ "$to3" -ge 3 ] && [ "$else3" -eq 0 ] || fail "udp: gen 3's probes: $to3 to gen 3, $else3 to another"
[ "$(ask 127.0.0.1 "$DU")" = answered ] || fail "udp: gen 2 no longer answers after gen 3's failed roll"
ok "dns: on a steered udp: listener, probes reach only their generation: gen 2 $to2 of $to2, silent gen 3 $to3 of $to3 (roll exit $RC at ready_timeout); gen 2 answers"
stop_handoff
sanitizers_quiet

# 5. liveness = dns: on a steered udp: listener: gen 1 answers its checks,
# then stops answering (SIGUSR1, a server that hangs): after 3 failed
# checks in a row it is replaced by gen 2, which answers clients.
DU=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -f "$QLOG"
start_handoff --pass systemd --log-level debug --ready-interval 100ms \
    --ready "dns:127.0.0.1:$DU" --liveness "dns:127.0.0.1:$DU/www.example" \
    --liveness-interval 200ms --liveness-failures 3 --liveness-timeout 200ms \
    --drain-timeout 2s -l "udp:127.0.0.1:$DU" \
    -- python3 "$RESPONDER" --bind listen-fds --log "$QLOG"
wait_log 'event=promote gen=1 ' 1 30
wait_log 'event=liveness gen=1 ok=1 rcode=0' 3
passed=$(count 'event=liveness gen=1 ok=1 ')
kill -USR1 "$(gen_pid 1)"
wait_log 'event=liveness_failed gen=1 reason=liveness' 1
wait_log 'event=promote gen=2 ' 1 30
failed=$(count 'event=liveness gen=1 ok=0 ')
[ "$failed" -ge 3 ] || fail "liveness: gen 1 failed after $failed failed checks, expected 3"
grep -q 'event=replace gen=1 reason=liveness action=roll' "$LOG" || fail "liveness: no replace of gen 1"
[ "$(ask 127.0.0.1 "$DU")" = answered ] || fail "liveness: gen 2 does not answer"
tail -n 1 "$QLOG" | grep -q '^gen=2 ' || fail "liveness: the last query went to: $(tail -n 1 "$QLOG")"
ok "dns: liveness: $passed checks passed, gen 1 silent, $failed failed and gen 2 replaced it; a client's query answered by gen 2"
stop_handoff
sanitizers_quiet
