# upgrade.sh: handoff upgrade: the master executes another build of itself in
# the same process under load: no request fails, the same pid and workers,
# the new version answers; every refusal changes nothing.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

upgrade_setup
STATE0="$BUILD/tests/upgrade/handoff-state0"
CRASH="$BUILD/tests/upgrade/crash-check"
BADADOPT="$BUILD/tests/upgrade/handoff-badadopt"
for b in "$STATE0" "$CRASH" "$BADADOPT"; do
    [ -x "$b" ] || make -C "$BUILD" -s "${b#"$BUILD"/}" >/dev/null 2>&1 ||
        fail "cannot build $b"
done
[ "$V1" != "$V2" ] || fail "the two builds say the same version ($V1)"

# workers PID: the pids of PID's children, sorted, one line.
workers() { ps -o pid= --ppid "$1" | sort -n | tr -d ' ' | tr '\n' ' '; }

# upgrade_to BIN: exit 0 with the line that names both versions.
upgrade_to() {
    local out from=$1 to=$2 bin=$3
    out=$("$HANDOFF" upgrade --control "$CTL" --binary "$bin" 2>&1) ||
        fail "upgrade to $bin: exit $?: $out"
    case $out in
    "upgraded pid=$HPID from=$from to=$to ms="*) ;;
    *) fail "upgrade to $bin answered: $out" ;;
    esac
    [ "$(readlink "/proc/$HPID/exe")" = "$bin" ] ||
        fail "after the upgrade to $bin, /proc/$HPID/exe is $(readlink "/proc/$HPID/exe")"
    MS=${out##*ms=}
}

# refused BIN WHAT: exit 1 naming WHAT, the master as it was.
refused() {
    local bin=$1 what=$2 out rc exe
    exe=$(readlink "/proc/$HPID/exe")
    out=$("$HANDOFF" upgrade --control "$CTL" --binary "$bin" 2>&1)
    rc=$?
    [ "$rc" -eq 1 ] || fail "upgrade to $bin: exit $rc (expected 1): $out"
    printf '%s\n' "$out" | grep -q -- "$what" ||
        fail "upgrade to $bin: no \"$what\" in: $out"
    [ "$(readlink "/proc/$HPID/exe")" = "$exe" ] || fail "refused, yet the exe changed"
    [ "$(workers "$HPID")" = "$W" ] || fail "refused, yet the workers changed"
    echo "refused: $bin: $out"
}

start_handoff --pass systemd -n 2 --control "$CTL" -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote' 1
W=$(workers "$HPID")
[ -n "$W" ] || fail "no worker"
load_start 8

# 1. Ten upgrades, alternating the two builds.
from=$V1
for i in $(seq 10); do
    if [ $((i % 2)) -eq 1 ]; then bin=$NEXT to=$V2; else bin=$(readlink -f "$HANDOFF") to=$V1; fi
    upgrade_to "$from" "$to" "$bin"
    from=$to
    [ "$(workers "$HPID")" = "$W" ] || fail "upgrade $i: workers $(workers "$HPID"), were $W"
    "$HANDOFF" status --control "$CTL" | grep -q "^handoff $to," ||
        fail "upgrade $i: status does not say $to"
    get / | grep -q '^pid=' || fail "upgrade $i: no answer"
done
ok "10 upgrades between $V1 and $V2, pid $HPID and workers $W kept (last took ${MS} ms)"
[ "$(count 'event=upgrade ')" -eq 10 ] || fail "expected 10 event=upgrade lines"

# 2. Refusals: each changes nothing.
printf '#!/bin/sh\necho "state accepted by handoff 9"\n' >"$T/script.sh"
chmod +x "$T/script.sh"
refused /bin/false "refused the state (exit 1)"
refused /bin/true "not handoff"
refused "$T/missing" "No such file or directory"
refused "$T/script.sh" "not an ELF executable"
refused "$STATE0" "reads format 0"
refused "$CRASH" "killed by signal 11"
refused "$BADADOPT" "could not take the state over: this build refuses"
ok "7 refusals, nothing changed"

# 3. After them: a roll, and the metrics of it all.
n=$(count 'event=promote')
"$HANDOFF" roll --control "$CTL" >"$T/roll.out" 2>&1 || fail "roll after upgrades: $(cat "$T/roll.out")"
grep -q '^promoted gen=2 ' "$T/roll.out" || fail "roll after upgrades: $(cat "$T/roll.out")"
ok "a roll after the upgrades: $(cat "$T/roll.out")"
"$HANDOFF" roll --canary "50%/1s" --control "$CTL" >"$T/canary.out" 2>&1 ||
    fail "canary after upgrades: $(cat "$T/canary.out")"
grep -q '^promoted gen=3 ' "$T/canary.out" || fail "canary after upgrades: $(cat "$T/canary.out")"
[ "$(count 'event=canary gen=3 ')" -ge 1 ] || fail "no canary step of gen 3 in the log"
ok "a canary after the upgrades: $(cat "$T/canary.out")"
"$HANDOFF" metrics --control "$CTL" >"$T/metrics"
grep -q '^handoff_upgrades_total{outcome="ok"} 10$' "$T/metrics" ||
    fail "metrics: $(grep upgrades "$T/metrics")"
grep -q '^handoff_upgrades_total{outcome="refused"} 7$' "$T/metrics" ||
    fail "metrics: $(grep upgrades "$T/metrics")"
ok "handoff_upgrades_total: ok 10, refused 7"

load_stop
[ "$REQS" -gt 100 ] || fail "too little load ($REQS requests)"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed across 10 upgrades"
ok "0 failed of $REQS requests"

stop_handoff
sanitizers_quiet
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS after a graceful stop"
ok "graceful stop after the upgrades, exit 0"
