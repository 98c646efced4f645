#!/usr/bin/env bash
# canary.sh: progressive delivery seen from 2,000 client addresses: a sticky
# weighted canary, canary_clients, guards that roll back (a crash, latency,
# an exec check), a return to a kept generation.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl
CLIENTS="$TOP_SRCDIR/tests/servers/manyclients.py"
CTL="$T/ctl"

# start PORT ARGS...: handoff with a control socket on 127.0.0.1:PORT.
start() {
    local p=$1
    shift
    start_handoff --pass systemd --control "$CTL" --drain-timeout 5s \
        -l "127.0.0.1:$p" "$@"
    wait_log 'event=promote gen=1 ' 1 30
}
# clients SECONDS OUT [ARGS...]: connections from many source addresses.
clients() {
    local secs=$1 out=$2
    shift 2
    python3 "$CLIENTS" --port "$PORT" --seconds "$secs" --threads 6 --out "$out" "$@"
}
# share OUT GEN: "addresses in_gen sticky_violations errors" of OUT.
share() {
    python3 - "$1" "$2" <<'PY'
import sys
by, errors = {}, 0
for line in open(sys.argv[1]):
    kv = dict(x.split("=", 1) for x in line.split())
    if kv["status"] != "200":
        errors += 1
        continue
    by.setdefault(kv["src"], set()).add(kv["gen"])
print(len(by), sum(1 for g in by.values() if sys.argv[2] in g),
      sum(1 for g in by.values() if len(g) > 1), errors)
PY
}
# after_mono OUT MONO_US: the generations that answered connections begun
# after MONO_US (CLOCK_MONOTONIC, as the log's mono_us).
after_mono() {
    awk -v t="$2" '{ split($1, a, "="); if (a[2] * 1e6 > t) print $5 }' "$1" | sort | uniq -c
}

# 1. canary = 10% then 25%: the share of 2,000 addresses, stickiness, and
# canary_clients (127.200.0.0/16) always on the new generation.
p=$(free_port)
start "$p" --canary "10%/60s 25%/60s" --canary-clients 127.200.0.0/16 \
    -- python3 "$SERVER"
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 &
roll=$!
wait_log 'event=canary gen=2 .*step=1/2' 1 30
clients 4 "$T/c10" --sources 2000
read -r n in10 both errs < <(share "$T/c10" 2)
echo "10%: $in10 of $n addresses on gen 2, $both saw both, $errs errors"
[ "$n" -ge 1900 ] || fail "only $n addresses seen"
[ "$errs" -eq 0 ] || fail "$errs errors during the canary"
[ "$both" -eq 0 ] || fail "$both addresses were answered by both generations"
[ $((in10 * 1000 / n)) -ge 80 ] && [ $((in10 * 1000 / n)) -le 120 ] ||
    fail "10% canary: $in10 of $n addresses ($((in10 * 1000 / n))‰)"
clients 1 "$T/cc" --sources 500 --net 127.200
read -r nc inc _ _ < <(share "$T/cc" 2)
[ "$inc" -eq "$nc" ] || fail "canary_clients: $inc of $nc on the new generation"
"$HANDOFF" status --control "$CTL" | grep -q 'gen 2: canary.*share=10.00% step=1/2' ||
    fail "status: $("$HANDOFF" status --control "$CTL")"
"$HANDOFF" status --json --control "$CTL" | python3 -c '
import json, sys
g = {x["id"]: x for x in json.load(sys.stdin)["generations"]}
assert g[2]["state"] == "canary" and g[2]["share_bps"] == 1000 and g[1]["share_bps"] == 9000, g
assert g[2]["canary_step"] == 1 and g[2]["canary_steps"] == 2, g' ||
    fail "status --json lacks the shares"
ok "canary 10%: $in10 of $n addresses ($((in10 * 1000 / n))‰) on the new generation, none answered by both; all $nc canary_clients on it"
kill "$roll" 2>/dev/null
stop_handoff

# The same, stepping to 25% on time: every client in at 10% stays in.
# Judged per connection, not per phase: on a busy machine the clients of
# the 10% phase may run past the step, and that is no violation. What is
# one: a connection begun after the same address was answered by the
# canary, answered by the old generation (the share only grew between).
p=$(free_port)
start "$p" --canary "10%/4s 25%/60s" -- python3 "$SERVER"
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 &
wait_log 'event=canary gen=2 .*step=1/2' 1 30
clients 2 "$T/s10" --sources 2000
wait_log 'event=canary gen=2 .*step=2/2' 1 30
clients 2 "$T/s25" --sources 2000
python3 - "$T/s10" "$T/s25" >"$T/sticky" <<'PY'
import sys
ok, failed = [], []
for path in sys.argv[1:]:
    for line in open(path):
        kv = dict(x.split("=", 1) for x in line.split())
        (ok if kv["status"] == "200" else failed).append(kv)
# When each address was first answered by the canary (its connection
# accepted by then).
inside = {}
for c in ok:
    if c["gen"] == "2":
        inside[c["src"]] = min(inside.get(c["src"], 9e99), float(c["t1"]))
left = [c for c in ok if c["gen"] != "2" and float(c["t0"]) > inside.get(c["src"], 9e99)]
# The share at 25%: every connection of s25 began after the step.
at25 = {}
for line in open(sys.argv[2]):
    kv = dict(x.split("=", 1) for x in line.split())
    if kv["status"] == "200":
        at25.setdefault(kv["src"], set()).add(kv["gen"])
in25 = sum(1 for g in at25.values() if "2" in g)
print(f"{len(ok)} answered, {len(failed)} failed; {len(inside)} addresses reached the canary; "
      f"at 25%: {in25} of {len(at25)} addresses; back on gen 1 after the canary: {len(left)}")
for c in left[:5]:
    print(f"  {c['src']}: canary by {inside[c['src']]:.6f}, then gen {c['gen']} for t0={c['t0']} t1={c['t1']}")
for c in failed[:5]:
    print(f"  failed: {' '.join(k + '=' + v for k, v in c.items())}")
sys.exit(1 if left else 2 if failed else 3 if not 0.21 <= in25 / max(1, len(at25)) <= 0.29 else 0)
PY
case $? in
0) ;;
1) fail "a client in the canary left it: $(cat "$T/sticky")" ;;
2) fail "connections failed during the canary steps: $(cat "$T/sticky")" ;;
*) fail "the canary at 25% is off its share: $(cat "$T/sticky")" ;;
esac
"$HANDOFF" promote --control "$CTL" | grep -q 'promoted gen=2' || fail "handoff promote"
wait_log 'event=promote gen=2 ' 1 10
ok "a step from 10% to 25% keeps every client that was in the canary ($(head -n1 "$T/sticky")); handoff promote ends it"
stop_handoff

# 2. A canary that crashes 3 s after it starts, under load: rolled back,
# handoff roll exits 1 naming the crash, later answers all from gen 1.
p=$(free_port)
start "$p" --canary "50%/60s" -- python3 "$SERVER" --bad-gens 2 --crash-after 3
clients 6 "$T/crash" --sources 2000 &
cl=$!
sleep 0.5
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1
rc=$?
wait "$cl"
[ "$rc" -eq 1 ] || fail "handoff roll of a crashing canary: exit $rc"
grep -q 'a process of the canary exited' "$T/roll" || fail "handoff roll did not name the crash: $(cat "$T/roll")"
back=$(grep -Eo 'event=rollback gen=2 .*mono_us=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ -n "$back" ] || fail "no rollback logged"
after=$(after_mono "$T/crash" "$back")
echo "after the rollback: $after"
echo "$after" | grep -qv ' gen=1$' && fail "answers after the rollback not from gen 1: $after"
refused=$(grep -c 'ConnectionRefusedError' "$T/crash")
lost=$(grep -vc 'status=200' "$T/crash")
[ "$refused" -eq 0 ] || fail "$refused connections refused"
ok "a canary crashing 3 s in: rolled back, handoff roll exit 1 ($(head -c 120 "$T/roll")), answers after it from gen 1 only, 0 refused of $(wc -l <"$T/crash") ($lost in flight in the crashed process)"
stop_handoff

# 3. guard_latency: a version 60 ms slower is rolled back; one as fast as
# the old is not, over 5 canaries. A verdict takes 20 fresh pairs of probes
# (2 s at 100 ms, up to 4 s on a loaded host), and 3 in a row roll back:
# each equal version is promoted by hand once its third verdict is logged
# (debug), so it has had the 3 that could roll it back, however slow the
# host; the slower one gets 30 s to be found (it ends at its rollback).
p=$(free_port)
start "$p" --canary "10%/120s" --guard "http://127.0.0.1:$p/health" \
    --guard-latency 1.2 --guard-interval 100ms --log-level debug \
    -- python3 "$SERVER" --bad-gens 2 --delay-ms 60
"$HANDOFF" roll --canary "10%/30s" --control "$CTL" >"$T/roll" 2>&1 && fail "a 60 ms slower canary was promoted"
grep -q 'guard_latency: p95' "$T/roll" || fail "not rolled back for latency: $(cat "$T/roll")"
for i in 3 4 5 6 7; do
    "$HANDOFF" roll --control "$CTL" >"$T/roll.$i" 2>&1 &
    rl=$!
    # Until its third verdict, or the roll's end (a rollback), 60 s at most.
    for _ in $(seq 1200); do
        [ "$(count "event=guard_latency gen=$i ")" -ge 3 ] && break
        kill -0 "$rl" 2>/dev/null || break
        sleep 0.05
    done
    # A rollback at the third verdict races the promote: the roll says which.
    if [ "$(count "event=guard_latency gen=$i ")" -ge 3 ] &&
        ! "$HANDOFF" promote --control "$CTL" >"$T/promote.$i" 2>&1; then
        wait "$rl" || fail "false rollback of an equally fast version (roll $i): $(cat "$T/roll.$i")"
        fail "handoff promote of gen $i: $(cat "$T/promote.$i")"
    fi
    wait "$rl" || fail "false rollback of an equally fast version (roll $i): $(cat "$T/roll.$i")"
    [ "$(count "event=guard_latency gen=$i ")" -ge 3 ] ||
        fail "gen $i promoted after $(count "event=guard_latency gen=$i ") latency verdicts, not 3"
done
ok "guard_latency 1.2: the 60 ms slower version rolled back ($(grep -Eo 'p95 of gen 2 [0-9.]+ms > [0-9.]+ x gen 1.s [0-9.]+ms' "$T/roll")); 5 equally fast canaries promoted, each after $(for i in 3 4 5 6 7; do count "event=guard_latency gen=$i "; done | paste -sd/) latency verdicts"
stop_handoff

# 4. An exec guard that fails from its second run: rolled back after
# guard_failures (2) failures in a row.
p=$(free_port)
start "$p" --canary "10%/10s" --guard-interval 200ms --guard-failures 2 \
    --guard "exec:test ! -e $T/ran.%g && touch $T/ran.%g && test \"\$HANDOFF_GUARD_GENERATION\" = %g" \
    -- python3 "$SERVER"
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 && fail "promoted despite the exec guard"
grep -q 'failed 2 times in a row' "$T/roll" || fail "exec guard: $(cat "$T/roll")"
[ -e "$T/ran.2" ] || fail "the guard never ran for gen 2"
ok "an exec guard failing from its second run: rolled back after 2 failures ($(cut -c1-100 "$T/roll"))"
stop_handoff

# 5. keep_previous: handoff rollback returns new connections to the kept
# generation in one swap, no process started, 0 failed throughout. Judged
# from the swap (the rollback event's mono_us, taken after it), not from
# when the command was typed: on a busy machine starting the client alone
# can take longer than any bound one would guess.
p=$(free_port)
start "$p" --keep-previous 60s -- python3 "$SERVER"
clients 5 "$T/keep" --sources 2000 &
cl=$!
"$HANDOFF" roll --control "$CTL" | grep -q 'promoted gen=2' || fail "roll"
wait_log 'event=kept gen=1 ' 1 10
spawns=$(count 'event=spawn ')
sleep 1
t0=$(python3 -c 'import time; print(int(time.monotonic() * 1e6))')
"$HANDOFF" rollback --control "$CTL" >"$T/rb" || fail "handoff rollback: $(cat "$T/rb")"
wait "$cl"
[ "$(count 'event=spawn ')" -eq "$spawns" ] || fail "a process was started by the rollback"
back=$(grep -Eo 'event=rollback gen=2 .*mono_us=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ -n "$back" ] || fail "no rollback logged"
python3 - "$T/keep" "$t0" "$back" <<'PY' || fail "a connection after the rollback reached gen 2"
import sys
t0, swap = int(sys.argv[2]) / 1e6, int(sys.argv[3]) / 1e6
after, late = 0, []
for line in open(sys.argv[1]):
    kv = dict(x.split("=", 1) for x in line.split())
    if float(kv["t0"]) > swap and kv["status"] == "200":
        after += 1
        if kv["gen"] != "1":
            late.append(line.strip())
print(f"command to swap {(swap - t0) * 1000:.1f} ms; {after} connections begun after the swap, "
      f"{len(late)} of them answered by gen 2 {late[:3]}")
sys.exit(0 if after > 0 and not late else 1)
PY
failed=$(grep -vc 'status=200' "$T/keep")
[ "$failed" -eq 0 ] || fail "$failed of $(wc -l <"$T/keep") failed across roll and rollback"
"$HANDOFF" rollback --control "$CTL" >"$T/rb2" 2>&1 && fail "a second rollback found something to return to"
ok "keep_previous: handoff rollback ($(cat "$T/rb")) in one swap, no process started, 0 failed of $(wc -l <"$T/keep"); a second one exits 1"
stop_handoff

# 6. handoff roll on a terminal shows how the roll goes (readiness, each
# canary step, a guard's failures); elsewhere only its outcome.
p=$(free_port)
start "$p" --canary "10%/1s 50%/1s" -- python3 "$SERVER"
python3 - "$HANDOFF" "$CTL" >"$T/tty.out" <<'PY' || fail "handoff roll under a pty: $(cat "$T/tty.out")"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "roll", "--control", sys.argv[2]])
out, end = b"", time.monotonic() + 30
while time.monotonic() < end:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
print(out.decode(errors="replace").replace("\r", "\n"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
for want in "gen 2: pid [0-9]+ ready, 1 of 1" "generation 2 gets 10.00% of client addresses \(step 1 of 2\)" \
    "generation 2 gets 50.00% of client addresses \(step 2 of 2\)" "^promoted gen=2"; do
    grep -Eq "$want" "$T/tty.out" || fail "on a terminal, no /$want/: $(cat "$T/tty.out")"
done
"$HANDOFF" roll --control "$CTL" >"$T/notty.out" 2>&1 || fail "roll 3"
[ "$(wc -l <"$T/notty.out")" -eq 1 ] && grep -q '^promoted gen=3' "$T/notty.out" ||
    fail "not on a terminal: $(cat "$T/notty.out")"
ok "handoff roll on a terminal: readiness and both canary steps shown, then the outcome; elsewhere one line"
stop_handoff

# 7. handoff roll --canary SPEC: that canary for one roll only; a bad one is
# refused naming the flag, and nothing rolls.
p=$(free_port)
start "$p" -- python3 "$SERVER"
"$HANDOFF" roll --canary "200%/1s" --control "$CTL" >"$T/bad" 2>&1
[ $? -eq 2 ] && grep -q -- '--canary: .*below 100%' "$T/bad" || fail "a bad --canary: $(cat "$T/bad")"
[ "$(count 'event=roll ')" -eq 1 ] || fail "a bad --canary started a roll"
"$HANDOFF" roll --canary "20%/1s" --control "$CTL" | grep -q 'promoted gen=2' || fail "roll --canary"
grep -q 'event=canary gen=2 old=1 step=1/1 share_bps=2000 for_ms=1000' "$LOG" || fail "no canary step logged for gen 2"
"$HANDOFF" roll --control "$CTL" | grep -q 'promoted gen=3' || fail "the next roll"
grep -q 'event=canary gen=3 ' "$LOG" && fail "the canary of one roll applied to the next"
ok "handoff roll --canary 20%/1s: one roll through that canary, the next without; a bad spec refused (exit 2, the flag named)"
stop_handoff

# 8. An exec guard that hangs: each run is killed with its process group
# (the shell and its sleep) at its timeout and counts as a failure, so the
# canary is rolled back and nothing is left running.
HANG="sleep 1000.$$" # a marker no other process has
trap 'for q in $(pgrep -fx "$HANG"); do kill -KILL "$q"; done; cleanup' EXIT
# hung: how many processes of $HANG are alive, after a bounded wait for 0.
hung() {
    local n i
    for i in $(seq 50); do
        n=$(pgrep -cfx "$HANG")
        [ "$n" -eq 0 ] && break
        sleep 0.1
    done
    echo "$n"
}
p=$(free_port)
start "$p" --canary "10%/8s" --guard-interval 200ms --guard-failures 2 \
    --guard "exec:sh -c '$HANG'" -- python3 "$SERVER"
timeout 60 "$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "a canary whose guard hangs: handoff roll exit $rc ($(cat "$T/roll"))"
grep -q "guard exec:sh -c '$HANG' failed 2 times in a row (last: err=timeout" "$T/roll" ||
    fail "handoff roll did not name the hung guard: $(cat "$T/roll")"
n=$(hung)
[ "$n" -eq 0 ] || fail "$n '$HANG' processes of the guard left running"
ok "an exec guard that hangs: killed at its timeout, rolled back after 2 ($(cut -c1-120 "$T/roll")), no process left"
stop_handoff
