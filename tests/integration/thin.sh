# thin.sh: stock thin (Ruby, EventMachine, Debian's) serving a rack app,
# rolled by handoff with the default ready = listen: EventMachine waits
# with ppoll() on its epoll fd, which holds the managed socket. Three
# rolls under load, each promoted, no request failed.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need thin hey curl

cat >"$T/config.ru" <<'RU'
run lambda { |env| [200, {"Content-Type" => "text/plain"}, ["pid=#{Process.pid}\n"]] }
RU
PORT=$(free_port)
# thin stops gracefully on SIGTERM (the default drain signal): it closes
# its listener and finishes the requests under way.
start_handoff --ready-timeout 20s -C "$T" -l "127.0.0.1:$PORT" -- \
    thin start -R "$T/config.ru" -a 127.0.0.1 -p "$PORT"
wait_log 'event=(promote|roll_failed) ' 1 30
[ "$(count 'event=promote ')" -eq 1 ] ||
    fail "thin was never ready: $(grep -o 'event=roll_failed.*' "$LOG" | head -c 200)"
first=$(pid_serving)
[ -n "$first" ] || fail "no pid= from thin: $(get /)"
ok "thin ready (via=listen) and promoted, pid $first"

load_start 8
for i in 2 3 4; do
    roll_and_wait "$i"
done
sleep 0.5
load_stop
failed_rolls=$(count 'event=roll_failed ')
[ "$failed_rolls" -eq 0 ] || fail "$failed_rolls of 3 rolls failed"
[ "$(count 'event=promote ')" -eq 4 ] || fail "$(count 'event=promote ') promotions, expected 4"
[ "$REQS" -gt 0 ] || fail "hey made no request"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed during 3 rolls"
last=$(pid_serving)
[ -n "$last" ] && [ "$last" != "$first" ] || fail "after 3 rolls thin pid '$last' answers (first $first)"
ok "thin, 3 rolls under hey -c8: every roll promoted, $FAILED failed of $REQS"

wait_log 'event=gone ' 3 60
stop_handoff
[ "$STATUS" -eq 0 ] || fail "handoff exited $STATUS"
ok "old generations drained; handoff stopped with 0"
