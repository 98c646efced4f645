# drain.sh: a 2 s request in flight on an old worker completes; a worker
# that ignores drain_signal is killed at drain_timeout.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

start_handoff --pass systemd --drain-timeout 10s -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote' 1
curl -s --max-time 10 -o "$T/slow.out" -w '%{http_code}' \
    "http://127.0.0.1:$PORT/slow?ms=2000" >"$T/slow.code" &
CURL=$!
sleep 0.5
roll_and_wait 2
wait_log 'event=drain gen=1 ' 1
wait "$CURL" || fail "the in-flight request failed (curl $?)"
[ "$(cat "$T/slow.code")" = 200 ] || fail "in-flight request got $(cat "$T/slow.code")"
grep -q 'gen=1' "$T/slow.out" || fail "the slow request was not served by gen 1"
wait_log 'event=gone gen=1 ' 1 10
ok "2 s request in flight during the roll completed with 200 from the old worker"
stop_handoff

start_handoff --pass systemd --drain-timeout 1s -l 127.0.0.1:0 -- \
    python3 "$SERVER" --bad-gens 1 --ignore-drain
wait_log 'event=promote' 1
roll_and_wait 2
wait_log 'event=kill gen=1 .*reason=drain_timeout' 1 10
wait_log 'event=exit gen=1 .*signal=SIGKILL' 1 10
drain_ms=$(grep -Eo 'event=gone gen=1 drain_ms=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ -n "$drain_ms" ] || fail "gen 1 not gone"
[ "$drain_ms" -ge 900 ] && [ "$drain_ms" -lt 5000 ] || fail "killed after $drain_ms ms, drain_timeout is 1 s"
get / | grep -q 'gen=2' || fail "gen 2 does not serve"
ok "a worker ignoring SIGTERM was killed after $drain_ms ms (drain_timeout 1 s)"
