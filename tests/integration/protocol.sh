# protocol.sh: pass = protocol: the worker asks for its socket over
# HANDOFF_FD, reports readiness there, and is rolled under load.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

start_handoff --pass protocol -l web=127.0.0.1:0 -- python3 "$SERVER" --protocol --no-notify
wait_log 'event=ready gen=1 .*via=listen' 1
wait_log 'event=promote' 1
load_start 8
for i in 2 3 4 5 6; do roll_and_wait "$i"; done
load_stop
[ "$(count 'event=promote ')" -eq 6 ] || fail "not every roll was promoted"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed"
ok "protocol: socket by name over HANDOFF_FD, ready over the channel, 5 rolls, 0 failed of $REQS"

