#!/usr/bin/env bash
# liveness.sh: a promoted generation that hangs, stops its watchdog, sends
# WATCHDOG=trigger or outgrows max_rss is replaced by a fresh one through a
# roll, without a failed request once the new one serves; a replacement
# that never becomes ready leaves the old generation active and is retried
# with a growing backoff, one at a time; a healthy server probed every
# 100 ms under load for 60 s is never judged failed; liveness_action =
# restart kills and starts again the one process; an exec: check that
# hangs is killed with its process group. The cases run side
# by side, each its own handoff on its own ports, log and directory.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl hey python3 pgrep
LS="$TOP_SRCDIR/tests/servers/liveserver.py"
TOP=$T

# --- helpers for one case (T, LOG, HPID, PORT are the case's) -----------

# wait_log PATTERN [N] [SECONDS]: lib.sh's, but a handoff that exited
# (or died: a sanitizer's abort) fails the wait at once, not at its end.
wait_log() {
    local pat=$1 n=${2:-1} secs=${3:-20} i st
    for i in $(seq $((secs * 20))); do
        [ "$(count "$pat")" -ge "$n" ] && return 0
        if [ -n "$HPID" ]; then
            # Its zombie still answers kill -0: read its state.
            st=$(sed 's/.*) //' "/proc/$HPID/stat" 2>/dev/null | cut -d' ' -f1)
            case $st in '' | Z | X)
                sanitizers_quiet
                fail "handoff exited while waiting for $n x /$pat/"
                ;;
            esac
        fi
        sleep 0.05
    done
    fail "timed out waiting for $n x /$pat/"
}
# line_of PATTERN [N]: the Nth line of the log matching PATTERN.
line_of() { grep -aE -- "$1" "$LOG" | sed -n "${2:-1}p"; }
# field LINE KEY: the value of KEY= in a logfmt LINE.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }
# ms_of PATTERN [N]: MS, the wall-clock time in ms of the Nth line
# matching: handoff's ts=, or the test server's real_ms=.
ms_of() {
    local l
    l=$(line_of "$@")
    [ -n "$l" ] || fail "no line /$1/"
    case $l in
    liveserver:*) MS=$(field "$l" real_ms) ;;
    *) MS=$(date -d "$(field "$l" ts)" +%s%3N) ;;
    esac
    [ -n "$MS" ] || fail "no time in: $l"
}
# lineno PATTERN: the line number of the first line matching, or 0.
lineno() { grep -anE -- "$1" "$LOG" | head -n1 | cut -d: -f1 | grep . || echo 0; }
# pid_of GEN: the first pid spawned for generation GEN.
pid_of() { field "$(line_of "event=spawn gen=$1 ")" pid; }
# metrics_port: the port of the metrics address, from the log.
metrics_port() { sed -nE 's/.*event=metrics address=127\.0\.0\.1:([0-9]+).*/\1/p' "$LOG" | head -n1; }
# metric NAME REASON: MV, its value in GET /metrics; fails if absent.
metric() {
    curl -s --max-time 10 "http://127.0.0.1:$M/metrics" >"$T/metrics" ||
        fail "GET /metrics failed"
    MV=$(sed -nE "s/^$1\{reason=\"$2\"\} ([0-9]+)\$/\1/p" "$T/metrics" | head -n1)
    [ -n "$MV" ] || fail "no $1{reason=\"$2\"} in GET /metrics: $(grep -a "^$1" "$T/metrics")"
}
# hload_start CONCURRENCY QPS: a light hey load (QPS per connection), a
# new connection per request; load_stop (lib.sh) ends it.
hload_start() {
    hey -z 300s -c "$1" -q "$2" -disable-keepalive "http://127.0.0.1:$PORT/" >"$T/hey.out" 2>&1 &
    HEYPID=$!
}
# gone PID SECONDS: 0 once PID has exited, within SECONDS.
gone() {
    local i
    for i in $(seq $(($2 * 20))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}
# serves GEN N: N requests in a row, each answered 200 by generation GEN.
serves() {
    local i n=0 bad=0 body
    for i in $(seq "$2"); do
        body=$(curl -s -f --max-time 5 "http://127.0.0.1:$PORT/") || { bad=$((bad + 1)); continue; }
        case $body in "gen=$1 "*) n=$((n + 1)) ;; *) echo "answered: $body" ;; esac
    done
    echo "$2 requests: $n answered by gen $1, $bad failed"
    [ "$n" -eq "$2" ]
}
# start ARGS...: a handoff of the case, the test server as its worker
# (its plan in $T/plan), with metrics; waits for gen 1's promotion.
start() {
    start_handoff --pass systemd --ready notify --metrics 127.0.0.1:0 \
        --drain-timeout 3s --stop-timeout 3s "$@" -- python3 "$LS" --plan "$T/plan"
    wait_log 'event=promote gen=1 ' 1 30
    M=$(metrics_port)
    [ -n "$M" ] || fail "no metrics address in the log"
}
# finish: stop the case's handoff (bounded); nothing from the sanitizers.
finish() {
    stop_handoff
    sanitizers_quiet
}
# replaced_by_roll GEN REASON: GEN failed for REASON, then a replacement
# for it, then the promotion of GEN+1, in this order, within 30 s each.
replaced_by_roll() {
    local g=$1 r=$2 lf lr lp
    wait_log "event=liveness_failed gen=$g reason=$r " 1 30
    wait_log "event=replace gen=$g reason=$r " 1 30
    wait_log "event=promote gen=$((g + 1)) " 1 30
    lf=$(lineno "event=liveness_failed gen=$g reason=$r ")
    lr=$(lineno "event=replace gen=$g reason=$r ")
    lp=$(lineno "event=promote gen=$((g + 1)) ")
    [ "$lf" -lt "$lr" ] && [ "$lr" -lt "$lp" ] ||
        fail "out of order: liveness_failed line $lf, replace $lr, promote $lp"
    echo "$(line_of "event=liveness_failed gen=$g ")"
    echo "$(line_of "event=replace gen=$g ")"
}

# --- a. a hung server (accepts, never answers): liveness http ------------
case_a() {
    local p t_hang t_fail t_prom pid1 t_drain t_exit
    # Gen 1 hangs once it has served (the test says when: $T/hang).
    echo "1 --hang-when $T/hang" >"$T/plan"
    p=$(free_port)
    start -l "127.0.0.1:$p" --liveness "http://127.0.0.1:$p/" --liveness-interval 500ms \
        --liveness-failures 3 --liveness-timeout 500ms
    pid1=$(pid_of 1)
    serves 1 3 || fail "a: gen 1 does not serve"
    : >"$T/hang"
    wait_log 'liveserver: gen=1 .* what=hang ' 1 30
    replaced_by_roll 1 liveness
    ms_of 'liveserver: gen=1 .* what=hang '
    t_hang=$MS
    ms_of 'event=liveness_failed gen=1 '
    t_fail=$MS
    ms_of 'event=promote gen=2 '
    t_prom=$MS
    echo "a: hang -> liveness_failed $((t_fail - t_hang)) ms, hang -> gen 2 promoted $((t_prom - t_hang)) ms"
    [ $((t_fail - t_hang)) -ge 1000 ] ||
        fail "a: judged failed $((t_fail - t_hang)) ms after the hang: before 3 probes of 500 ms could fail"
    [ $((t_prom - t_hang)) -lt 30000 ] || fail "a: gen 2 promoted $((t_prom - t_hang)) ms after the hang"
    ok "a: hung gen 1 judged failed $((t_fail - t_hang)) ms and replaced by gen 2 $((t_prom - t_hang)) ms after the hang"
    serves 2 100 || fail "a: after the replacement, not every request answered by gen 2"
    ok "a: after the replacement: 100 requests, 0 failed, all answered by gen 2"
    # Its drain never ends (its requests hang): killed at drain_timeout.
    gone "$pid1" 20 || fail "a: hung gen 1 (pid $pid1) still runs 20 s after its replacement"
    wait_log "event=exit gen=1 pid=$pid1 " 1 10
    ms_of "event=drain gen=1 "
    t_drain=$MS
    ms_of "event=exit gen=1 pid=$pid1 "
    t_exit=$MS
    echo "$(line_of "event=exit gen=1 pid=$pid1 ")"
    [ $((t_exit - t_drain)) -ge 2500 ] ||
        fail "a: hung gen 1 ended $((t_exit - t_drain)) ms after its drain began, before drain_timeout (3 s)"
    line_of "event=exit gen=1 pid=$pid1 " | grep -q 'SIGKILL' ||
        fail "a: gen 1 was not killed: $(line_of "event=exit gen=1 pid=$pid1 ")"
    ok "a: hung gen 1 killed $((t_exit - t_drain)) ms after its drain began (drain_timeout 3s)"
    metric handoff_replacements_total liveness
    [ "$MV" -eq 1 ] && [ "$(count 'event=replace .*reason=liveness')" -eq 1 ] ||
        fail "a: handoff_replacements_total{reason=\"liveness\"} is $MV, the log has $(count 'event=replace .*reason=liveness')"
    # A verdict may come again while gen 2 starts (gen 1 still active).
    metric handoff_liveness_failures_total liveness
    [ "$MV" -ge 1 ] && [ "$MV" -eq "$(count 'event=liveness_failed .*reason=liveness')" ] ||
        fail "a: handoff_liveness_failures_total{reason=\"liveness\"} is $MV, the log has $(count 'event=liveness_failed .*reason=liveness')"
    [ "$(count 'event=replace ')" -eq 1 ] || fail "a: $(count 'event=replace ') replacements, expected 1"
    ok "a: metrics: $MV liveness verdicts, 1 replacement (reason=liveness), as logged"
    finish
}

# --- b. the watchdog: gen 1 stops sending WATCHDOG=1, keeps serving ------
case_b() {
    local pid1 t_stop t_last t_fail
    echo "1 --watchdog-stop 2" >"$T/plan"
    start -l 127.0.0.1:0 --watchdog 1s
    pid1=$(pid_of 1)
    line_of "liveserver: gen=1 pid=$pid1 what=watchdog usec=1000000 watchdog_pid=$pid1 " | grep -q . ||
        fail "b: gen 1 did not get WATCHDOG_USEC=1000000 WATCHDOG_PID=$pid1: $(line_of 'liveserver: gen=1 .*what=watchdog')"
    ok "b: the worker got WATCHDOG_USEC=1000000 and WATCHDOG_PID=its pid"
    wait_log 'liveserver: gen=1 .* what=watchdog_stop ' 1 30
    replaced_by_roll 1 watchdog
    ms_of 'liveserver: gen=1 .* what=watchdog_stop '
    t_stop=$MS
    t_last=$(field "$(line_of 'liveserver: gen=1 .* what=watchdog_stop ')" last_ping_ms)
    ms_of 'event=liveness_failed gen=1 '
    t_fail=$MS
    echo "b: last WATCHDOG=1 -> liveness_failed $((t_fail - t_last)) ms, pings stopped -> $((t_fail - t_stop)) ms (watchdog 1s)"
    # Silent longer than 1 s, not less (both clocks count whole ms).
    [ $((t_fail - t_last)) -ge 980 ] || fail "b: judged failed $((t_fail - t_last)) ms after its last WATCHDOG=1 (watchdog 1s)"
    [ $((t_fail - t_stop)) -lt 30000 ] || fail "b: judged failed only $((t_fail - t_stop)) ms after its pings stopped"
    serves 2 20 || fail "b: gen 2 does not serve"
    gone "$pid1" 20 || fail "b: gen 1 (pid $pid1) still runs 20 s after its replacement"
    ok "b: silent watchdog: gen 1 judged failed $((t_fail - t_last)) ms after its last WATCHDOG=1, replaced (reason=watchdog), gen 2 serves"
    metric handoff_replacements_total watchdog
    [ "$MV" -eq 1 ] || fail "b: handoff_replacements_total{reason=\"watchdog\"} is $MV"
    [ "$(count 'event=replace ')" -eq 1 ] || fail "b: $(count 'event=replace ') replacements, expected 1 (gen 2 pings)"
    finish
}

# --- c. WATCHDOG=trigger: judged at once, not after 5 s of silence -------
case_c() {
    local t_trig t_fail t_prom
    echo "1 --watchdog-trigger 2" >"$T/plan"
    start -l 127.0.0.1:0 --watchdog 5s
    wait_log 'liveserver: gen=1 .* what=watchdog_trigger ' 1 30
    replaced_by_roll 1 watchdog
    ms_of 'liveserver: gen=1 .* what=watchdog_trigger '
    t_trig=$MS
    ms_of 'event=liveness_failed gen=1 '
    t_fail=$MS
    ms_of 'event=promote gen=2 '
    t_prom=$MS
    echo "c: WATCHDOG=trigger -> liveness_failed $((t_fail - t_trig)) ms, -> gen 2 promoted $((t_prom - t_trig)) ms"
    # It kept sending WATCHDOG=1: silence never failed it, and 5 s of it
    # could not have yet.
    [ $((t_fail - t_trig)) -lt 4000 ] || fail "c: judged failed $((t_fail - t_trig)) ms after WATCHDOG=trigger"
    serves 2 20 || fail "c: gen 2 does not serve"
    ok "c: WATCHDOG=trigger: judged failed $((t_fail - t_trig)) ms after it, gen 2 promoted $((t_prom - t_trig)) ms after it"
    finish
}

# --- d. max_rss 100M, a worker growing 10 MB/s, under load: 5 replaced ----
case_d() {
    local g v
    # Generations 1 to 5 grow; the 6th does not, so the count stops at 5.
    for g in 1 2 3 4 5; do echo "$g --grow 10"; done >"$T/plan"
    echo "6" >>"$T/plan"
    start -l 127.0.0.1:0 --max-rss 100M --liveness-interval 500ms
    serves 1 3 || fail "d: gen 1 does not serve"
    hload_start 2 20
    for g in 1 2 3 4 5; do
        wait_log "event=liveness_failed gen=$g reason=max_rss " 1 40
        wait_log "event=replace gen=$g reason=max_rss " 1 10
        wait_log "event=promote gen=$((g + 1)) " 1 30
        echo "$(line_of "event=liveness_failed gen=$g ")"
    done
    serves 6 5 || fail "d: gen 6 does not serve"
    load_stop
    [ "$REQS" -ge 100 ] || fail "d: only $REQS requests sent"
    [ "$FAILED" -eq 0 ] || fail "d: $FAILED of $REQS requests failed across 5 replacements"
    ok "d: 5 replacements for max_rss 100M (10 MB/s), $REQS requests, 0 failed"
    [ "$(count 'event=replace .*reason=max_rss')" -eq 5 ] &&
        [ "$(count 'event=replace ')" -eq 5 ] || fail "d: $(count 'event=replace ') replacements, expected 5"
    metric handoff_replacements_total max_rss
    v=$MV
    [ "$v" -eq 5 ] || fail "d: handoff_replacements_total{reason=\"max_rss\"} is $v, the log has 5"
    metric handoff_liveness_failures_total max_rss
    [ "$MV" -ge 5 ] && [ "$MV" -eq "$(count 'event=liveness_failed .*reason=max_rss')" ] ||
        fail "d: handoff_liveness_failures_total{reason=\"max_rss\"} is $MV, the log has $(count 'event=liveness_failed .*reason=max_rss')"
    ok "d: metrics: handoff_replacements_total{reason=\"max_rss\"} $v, handoff_liveness_failures_total $MV, as logged"
    finish
}

# --- e. every replacement never becomes ready: backoff, one at a time ----
case_e() {
    local p b prev= n st k t_rf
    printf '1 --hang-after 2\n* --never-ready\n' >"$T/plan"
    p=$(free_port)
    start -l "127.0.0.1:$p" --control "$T/ctl" --ready-timeout 2s \
        --liveness "http://127.0.0.1:$p/" --liveness-interval 500ms \
        --liveness-failures 3 --liveness-timeout 500ms
    wait_log 'event=liveness_failed gen=1 reason=liveness ' 1 30
    wait_log 'event=replace_failed ' 3 60
    grep -aE 'event=(liveness_failed|replace|replace_failed|replace_deferred|promote|spawn|exit|gone) ' "$LOG"
    for b in $(grep -aE 'event=replace_failed ' "$LOG" | head -n3 | tr ' ' '\n' | sed -n 's/^backoff_ms=//p'); do
        [ -z "$prev" ] || [ "$b" -gt "$prev" ] || fail "e: backoff_ms did not grow: $prev then $b"
        prev=$b
    done
    [ -n "$prev" ] || fail "e: no backoff_ms= in replace_failed"
    ok "e: 3 replacements failed, backoff_ms growing: $(grep -aE 'event=replace_failed ' "$LOG" | head -n3 | tr ' ' '\n' | sed -n 's/^backoff_ms=//p' | tr '\n' ' ')"
    # Each next replacement waited its backoff (the 4th its 4 s, with a
    # verdict or more deferred meanwhile).
    wait_log 'event=replace ' 4 60
    for k in 1 2 3; do
        b=$(field "$(line_of 'event=replace_failed ' $k)" backoff_ms)
        ms_of 'event=replace_failed ' $k
        t_rf=$MS
        ms_of 'event=replace ' $((k + 1))
        echo "e: replacement $((k + 1)) began $((MS - t_rf)) ms after replacement $k failed (backoff_ms=$b)"
        [ $((MS - t_rf)) -ge $((b - 50)) ] ||
            fail "e: replacement $((k + 1)) began $((MS - t_rf)) ms after the last failed, backoff_ms=$b"
    done
    ok "e: every replacement waited its backoff ($(count 'event=replace_deferred ') verdicts deferred)"
    [ "$(count 'event=promote gen=')" -eq 1 ] || fail "e: a replacement was promoted: $(line_of 'event=promote gen=[^1]')"
    hc status --control "$T/ctl"
    [ "$RC" -eq 0 ] || fail "e: handoff status: exit $RC: $ERR"
    echo "$OUT"
    echo "$OUT" | grep -q '^gen 1: active' || fail "e: gen 1 is not the active generation: $OUT"
    ok "e: gen 1 still the active generation (status and log)"
    # Never two replacements at once: a replacement's processes are gone
    # before the next one's start, and each replace follows the last one's
    # replace_failed.
    st=$(awk '
        / event=spawn / { for (i = 1; i <= NF; i++) { if ($i ~ /^gen=/) g = substr($i, 5); if ($i ~ /^pid=/) p = substr($i, 5) }
                          if (g != 1) { live[p] = 1; n = 0; for (k in live) n++; if (n > max) max = n } }
        / event=exit /  { for (i = 1; i <= NF; i++) if ($i ~ /^pid=/) delete live[substr($i, 5)] }
        / event=replace / { if (open) bad++; open = 1 }
        / event=replace_failed / { open = 0 }
        END { print max + 0, bad + 0 }' "$LOG")
    n=${st% *}
    [ "$n" -eq 1 ] || fail "e: $n replacement processes ran at once"
    [ "${st#* }" -eq 0 ] || fail "e: a replace began before the last one failed"
    ok "e: one replacement at a time ($(count 'event=replace ') begun, $(count 'event=replace_failed ') failed)"
    finish
}

# --- f. no false verdict: healthy, probed every 100 ms, 60 s under load ---
case_f() {
    local p end codes=0 bad=0 c r n n0
    : >"$T/plan"
    p=$(free_port)
    # At debug level each probe's verdict is logged (event=liveness ok=).
    start -l "127.0.0.1:$p" --liveness "http://127.0.0.1:$p/" --liveness-interval 100ms \
        --watchdog 3s --max-rss 1G --log-level debug
    wait_log 'event=liveness_start gen=1 .*interval_ms=100 ' 1 10
    serves 1 3 || fail "f: gen 1 does not serve"
    n0=$(count 'event=liveness gen=1 ok=1 ')
    hload_start 2 25
    end=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$M/healthz")
        codes=$((codes + 1))
        [ "$c" = 200 ] || { bad=$((bad + 1)); echo "f: GET /healthz: $c"; }
        [ "$(count 'event=(liveness_failed|replace) ')" -eq 0 ] ||
            fail "f: a healthy server judged failed: $(line_of 'event=(liveness_failed|replace) ')"
        sleep 1
    done
    load_stop
    [ "$REQS" -ge 500 ] || fail "f: only $REQS requests sent in 60 s"
    [ "$FAILED" -eq 0 ] || fail "f: $FAILED of $REQS requests failed"
    [ "$(count 'event=(liveness_failed|replace|replace_failed) ')" -eq 0 ] ||
        fail "f: a healthy server judged failed: $(line_of 'event=(liveness_failed|replace) ')"
    [ "$bad" -eq 0 ] || fail "f: GET /healthz not 200 $bad times of $codes"
    # The probes ran all along: 600 in 60 s at 100 ms; a sixth of that on
    # a loaded machine still shows they did.
    n=$(($(count 'event=liveness gen=1 ok=1 ') - n0))
    echo "f: probes in the 60 s: $n answered, $(count 'event=liveness gen=1 ok=0 ') failed (none in a row enough for a verdict)"
    [ "$n" -ge 100 ] || fail "f: only $n probes answered in 60 s at 100 ms"
    for r in liveness watchdog max_rss; do
        metric handoff_liveness_failures_total $r
        [ "$MV" -eq 0 ] || fail "f: handoff_liveness_failures_total{reason=\"$r\"} is $MV"
        metric handoff_replacements_total $r
        [ "$MV" -eq 0 ] || fail "f: handoff_replacements_total{reason=\"$r\"} is $MV"
    done
    ok "f: healthy for 60 s, probed every 100 ms ($n probes): 0 verdicts, 0 replacements, $REQS requests 0 failed, /healthz 200 x $codes"
    finish
}

# --- g. liveness_action = restart: the process killed and started again --
case_g() {
    local pid1 pid2 body
    # Only the first process of gen 1 triggers; the one restarted behaves.
    echo "1 --watchdog-trigger 2 --once $T/once" >"$T/plan"
    start -l 127.0.0.1:0 --watchdog 5s --liveness-action restart
    pid1=$(pid_of 1)
    wait_log "liveserver: gen=1 pid=$pid1 what=watchdog_trigger " 1 30
    wait_log "event=liveness_failed gen=1 reason=watchdog pid=$pid1 " 1 30
    wait_log "event=replace gen=1 reason=watchdog action=restart pid=$pid1( |\$)" 1 10
    wait_log "event=exit gen=1 pid=$pid1 " 1 10
    line_of "event=exit gen=1 pid=$pid1 " | grep -q 'signal=SIGKILL' ||
        fail "g: not killed: $(line_of "event=exit gen=1 pid=$pid1 ")"
    wait_log 'event=spawn gen=1 ' 2 30
    pid2=$(field "$(line_of 'event=spawn gen=1 ' 2)" pid)
    wait_log "liveserver: gen=1 pid=$pid2 what=ready " 1 30
    body=$(get /)
    [ "$body" = "gen=1 pid=$pid2" ] || fail "g: after the restart the answer is '$body', not from pid $pid2"
    line_of "liveserver: gen=1 pid=$pid2 what=watchdog usec=5000000 watchdog_pid=$pid2 " | grep -q . ||
        fail "g: the restarted process has not its own WATCHDOG_PID: $(line_of "liveserver: gen=1 pid=$pid2 what=watchdog")"
    [ "$(count 'event=(roll|spawn) gen=2 ')" -eq 0 ] || fail "g: a roll instead of a restart"
    metric handoff_replacements_total watchdog
    [ "$MV" -eq 1 ] || fail "g: handoff_replacements_total{reason=\"watchdog\"} is $MV"
    ok "g: liveness_action restart: pid $pid1 (WATCHDOG=trigger) killed, pid $pid2 started in gen 1 serves, no roll"
    finish
    # restart = never could not restart it: refused.
    "$HANDOFF" -l 127.0.0.1:0 --watchdog 1s --liveness-action restart --restart never -t -- true \
        >"$T/never" 2>&1 && fail "g: --liveness-action restart with --restart never accepted"
    grep -q 'restart' "$T/never" || fail "g: the refusal does not say why: $(cat "$T/never")"
    ok "g: refused with restart = never: $(head -n1 "$T/never")"
}

# --- h. an exec: check that hangs: killed with its group at the timeout ---
case_h() {
    local left i z=$$$RANDOM
    # Gen 1's check hangs (a shell and its child sleep, both named by z);
    # gen 2's passes: %g is the generation judged.
    : >"$T/plan"
    : >"$T/hang.1"
    start -l 127.0.0.1:0 --liveness "exec:sh -c 'test ! -e $T/hang.%g || { sleep 31.$z; true; }'" \
        --liveness-interval 300ms --liveness-failures 2 --liveness-timeout 500ms
    replaced_by_roll 1 liveness
    line_of 'event=liveness_failed gen=1 ' | grep -q 'timeout' ||
        fail "h: the verdict does not say the check timed out: $(line_of 'event=liveness_failed gen=1 ')"
    serves 2 5 || fail "h: gen 2 does not serve"
    # Every run of gen 1's check was killed with its group: none is left.
    for i in $(seq 40); do
        left=$(pgrep -f "^(sh -c test ! -e $T/hang|sleep 31\.$z)" | wc -l)
        [ "$left" -eq 0 ] && break
        sleep 0.05
    done
    [ "$left" -eq 0 ] || fail "h: $left processes of gen 1's check left: $(pgrep -af "^(sh -c test ! -e $T/hang|sleep 31\.$z)")"
    [ "$(count 'event=replace ')" -eq 1 ] || fail "h: $(count 'event=replace ') replacements, expected 1 (gen 2's check passes)"
    ok "h: an exec: check that hangs: killed at liveness_timeout with its group, gen 1 replaced, gen 2's check (%g) passes"
    finish
}

# --- i. handoff upgrade carries the liveness state ------------------------
# Gen 1 triggers and is replaced; gen 2 pings, then goes silent just before
# handoff upgrades itself: only the last ping carried over lets the image
# that took over judge it (it gets no ping to start from); the counters go
# on from 1.
case_i() {
    local i
    printf '1 --watchdog-trigger 1\n* --watchdog-stop-when %s\n' "$T/quiet" >"$T/plan"
    start -l 127.0.0.1:0 --watchdog 3s --control "$T/ctl"
    replaced_by_roll 1 watchdog
    for i in $(seq 200); do
        "$HANDOFF" status --control "$T/ctl" 2>/dev/null | grep -q 'liveness: gen 2, watchdog 3000ms (1 watched)' && break
        sleep 0.05
    done
    [ "$i" -lt 200 ] || fail "i: gen 2's watchdog not watched: $("$HANDOFF" status --control "$T/ctl" | grep liveness)"
    : >"$T/quiet"
    wait_log 'liveserver: gen=2 .* what=watchdog_stop ' 1 10
    "$HANDOFF" upgrade --control "$T/ctl" >"$T/upgrade.out" 2>&1 ||
        fail "i: handoff upgrade: $(cat "$T/upgrade.out")"
    grep -q '^upgraded ' "$T/upgrade.out" || fail "i: handoff upgrade said: $(cat "$T/upgrade.out")"
    replaced_by_roll 2 watchdog
    [ "$(lineno 'event=upgrade pid=')" -lt "$(lineno 'event=liveness_failed gen=2 ')" ] ||
        fail "i: gen 2 judged before the upgrade: the test proves nothing"
    metric handoff_replacements_total watchdog
    [ "$MV" -eq 2 ] || fail "i: handoff_replacements_total{reason=\"watchdog\"} is $MV after the upgrade, expected 2"
    ok "i: after handoff upgrade, silent gen 2 judged by the new image from its last ping before it; replacements counted on (2)"
    finish
}

# --- run every case at once; report each in turn -------------------------
CASES=${LIVENESS_CASES:-a b c d e f g h i} # a subset, to look at one
PIDS=
stop_cases() {
    local p
    for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    cleanup
}
trap stop_cases EXIT
for c in $CASES; do
    mkdir -p "$TOP/$c"
    (
        # The case's own directory, log and processes; its end stops them
        # (and keeps its log for the report below).
        T=$TOP/$c LOG=$TOP/$c/handoff.log STARTED= HPID= HEYPID= KEEP=1
        trap cleanup EXIT
        trap 'exit 143' TERM
        "case_$c"
    ) >"$TOP/$c.out" 2>&1 &
    PIDS="$PIDS $!"
done
failed=
set -- $PIDS
for c in $CASES; do
    wait "$1"
    rc=$?
    shift
    echo "--- case $c (exit $rc)"
    cat "$TOP/$c.out"
    [ "$rc" -eq 0 ] || failed="$failed $c"
done
PIDS=
[ -z "$failed" ] || {
    echo "FAIL: cases$failed"
    exit 1
}
ok "every case"
