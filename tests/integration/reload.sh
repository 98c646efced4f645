# reload.sh: SIGHUP with a broken file changes nothing (under load, no
# failed request); a valid one is applied with a roll.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

conf="$T/handoff.conf"
write_conf() {
    cat >"$conf" <<CONF
[listen web]
address = 127.0.0.1:0
[worker]
command = python3 $SERVER
pass = systemd
processes = $1
CONF
}
write_conf 1
start_handoff -c "$conf"
wait_log 'event=promote' 1
load_start 8
before=$(pid_serving)
echo "processes = lots" >>"$conf"
kill -HUP "$HPID"
wait_log 'event=reload_failed' 1
grep -q "event=reload_failed .*$conf:7: processes: bad number" "$LOG" || fail "reload_failed does not name FILE:LINE"
sleep 0.5
[ "$(count 'event=roll ')" -eq 1 ] || fail "a broken file started a roll"
[ "$(pid_serving)" = "$before" ] || fail "another worker serves after a broken reload"
kill -0 "$HPID" || fail "a broken file stopped handoff"
ok "broken file on SIGHUP: logged, nothing changed"

write_conf 2
kill -HUP "$HPID"
wait_log 'event=promote gen=2 ' 1
load_stop
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed across the reloads"
[ "$(count 'event=spawn gen=2 ')" -eq 2 ] || fail "the new configuration (2 processes) was not applied"
grep -q 'event=listen ' "$LOG" && [ "$(count 'event=listen ')" -eq 1 ] || fail "the listener was reopened on reload"
ok "valid file on SIGHUP: rolled to 2 processes on the same socket, 0 failed of $REQS"
