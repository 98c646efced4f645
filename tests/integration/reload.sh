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
start_handoff -c "$conf" --control "$T/ctl.sock"
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

# The file replaced by a FIFO: the reload is refused at once, logged, and
# the master goes on answering (an open() of the FIFO would block it).
mv "$conf" "$conf.saved"
mkfifo "$conf"
kill -HUP "$HPID"
hc status --control "$T/ctl.sock" --timeout 5s
[ "$RC" -eq 0 ] || fail "status after a SIGHUP with a FIFO as the file: exit $RC: $ERR"
wait_log 'event=reload_failed' 2 10
grep -q "event=reload_failed .*error=\"$conf: not a regular file (a FIFO)\"" "$LOG" ||
    fail "reload_failed does not say why: $(grep event=reload_failed "$LOG" | tail -n 1)"
[ "$(count 'event=roll ')" -eq 1 ] || fail "a FIFO as the file started a roll"
rm "$conf"
mv "$conf.saved" "$conf"
ok "FIFO as the file on SIGHUP: refused and logged, status still answers"

write_conf 2
kill -HUP "$HPID"
wait_log 'event=promote gen=2 ' 1
load_stop
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed across the reloads"
[ "$(count 'event=spawn gen=2 ')" -eq 2 ] || fail "the new configuration (2 processes) was not applied"
grep -q 'event=listen ' "$LOG" && [ "$(count 'event=listen ')" -eq 1 ] || fail "the listener was reopened on reload"
ok "valid file on SIGHUP: rolled to 2 processes on the same socket, 0 failed of $REQS"

# A second SIGHUP while the first one's roll is still running, with a file
# that adds a listener: the listener that roll opened is found, not opened
# again (EADDRINUSE, reload_failed), and the second reload is applied.
stop_handoff
extra=$(free_port)
cat >"$conf" <<CONF
[listen web]
address = 127.0.0.1:0
[worker]
command = python3 $SERVER --bad-gens 2 --ready-after 2
pass = systemd
CONF
start_handoff -c "$conf"
wait_log 'event=promote gen=1 ' 1
# extra first: the test server serves its first socket only.
cat >"$conf" <<CONF
[listen extra]
address = 127.0.0.1:$extra
[listen web]
address = 127.0.0.1:0
[worker]
command = python3 $SERVER --bad-gens 2 --ready-after 2
pass = systemd
processes = 2
CONF
kill -HUP "$HPID"
wait_log 'event=roll gen=2 ' 1
sleep 0.3
kill -HUP "$HPID" # gen 2 is still starting (2 s to ready)
wait_log 'event=promote gen=3 ' 1 30
grep -q 'event=reload_failed' "$LOG" && fail "the second reload failed: $(grep event=reload_failed "$LOG" | tail -n 1)"
[ "$(count 'event=listen name=extra ')" -eq 1 ] || fail "the added listener was opened $(count 'event=listen name=extra ') times"
[ "$(count 'event=spawn gen=3 ')" -eq 2 ] || fail "the second reload's configuration was not applied"
got=$(curl -s --max-time 5 "http://127.0.0.1:$extra/")
echo "$got" | grep -q "gen=3" || fail "the added listener is not served by gen 3: $got"
ok "a second SIGHUP during a reload's roll adding a listener: applied (gen 3), the listener opened once"
stop_handoff

# A listener removed by a reload, then restored by the next while the
# generation that served it still drains: the restored listener's clients
# wait for the new generation rather than for the draining one (which no
# longer accepts: they were reset at its exit, or queued for good when its
# socket could not leave the group), and every socket of the old
# generations is closed once they are gone.
pb=$(free_port)
both() {
    cat >"$conf" <<CONF
[listen b]
address = 127.0.0.1:$pb
[listen web]
address = 127.0.0.1:0
[worker]
command = python3 $SERVER --bad-gens 3 --ready-after 6
pass = systemd
drain_timeout = 20s
CONF
}
both
mv "$LOG" "$T/second.log"
start_handoff -c "$conf"
wait_log 'event=promote gen=1 ' 1
fds_before=$(ls "/proc/$HPID/fd" | wc -l)
# gen 1 busy on b for 3.5 s: it lives on after its drain signal, and
# exits before gen 3 is ready (6 s)
curl -s --max-time 20 "http://127.0.0.1:$pb/slow?ms=3500" >"$T/slow.out" &
slow=$!
sleep 0.3
sed -i '1,2d' "$conf" # b removed
kill -HUP "$HPID"
wait_log 'event=promote gen=2 ' 1 30
both # b back, while gen 1 drains
kill -HUP "$HPID"
wait_log 'event=spawn gen=3 ' 1 30
wait_log 'event=drain gen=1 ' 1 30
# gen 1 no longer accepts; gen 3 accepts 6 s after it started
curl -s --max-time 15 "http://127.0.0.1:$pb/" >"$T/b.out" 2>&1 &
client=$!
wait_log 'event=gone gen=1 ' 1 30
wait_log 'event=promote gen=3 ' 1 30
wait "$client"
wait "$slow"
grep -q 'gen=1' "$T/slow.out" || fail "the request in flight on b was lost: $(cat "$T/slow.out")"
grep -q 'gen=3' "$T/b.out" ||
    fail "a client of the restored listener, once gen 1 drained: '$(cat "$T/b.out")', not gen 3 ($(grep -E 'event=steer_failed' "$LOG" | tail -n 1))"
wait_log 'event=gone gen=2 ' 1 30
grep -q 'event=steer_failed' "$LOG" && fail "$(grep event=steer_failed "$LOG" | tail -n 1)"
# A placeholder socket may stand until the next roll (handoff(8) TRAFFIC).
kill -USR2 "$HPID"
wait_log 'event=promote gen=4 ' 1 30
wait_log 'event=gone gen=3 ' 1 30
fds_after=$(ls "/proc/$HPID/fd" | wc -l)
[ "$fds_after" -eq "$fds_before" ] || fail "the master holds $fds_after fds, $fds_before before the reloads"
ok "a listener removed and restored while its generation drains: its client served by gen 3, no socket left behind (master fds $fds_before -> $fds_after, a roll later)"
stop_handoff

# control, metrics and probe_ports are read at start only: a reload that
# changes them rolls, and says, key by key, what it did not apply, at
# every reload until a restart.
cat >"$conf" <<CONF
[handoff]
control = $T/ctl.sock
[listen web]
address = 127.0.0.1:0
[worker]
command = python3 $SERVER
pass = systemd
CONF
start_handoff -c "$conf"
wait_log 'event=promote gen=1 ' 1
sed -i "s|^control = .*|control = $T/ctl2.sock\\nmetrics = 127.0.0.1:0\\nprobe_ports = 20000-20999|" "$conf"
for gen in 2 3; do
    kill -HUP "$HPID"
    wait_log "event=promote gen=$gen " 1
    for key in control metrics probe_ports; do
        [ "$(count "event=reload_not_applied key=$key ")" -eq $((gen - 1)) ] ||
            fail "reload $((gen - 1)): $(count "event=reload_not_applied key=$key ") reload_not_applied for $key"
    done
done
[ "$(count 'event=reload_not_applied ')" -eq 6 ] || fail "keys not applied: $(grep event=reload_not_applied "$LOG")"
hc status --control "$T/ctl.sock" --timeout 5s
[ "$RC" -eq 0 ] || fail "status on the control socket of the start: exit $RC: $ERR"
[ ! -e "$T/ctl2.sock" ] || fail "the reload opened the new control socket"
ok "reload changing control, metrics and probe_ports: rolled, each logged as not applied (twice in 2 reloads)"
stop_handoff
