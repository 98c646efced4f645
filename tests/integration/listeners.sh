# listeners.sh: IPv6 and unix listeners; a stale unix socket file is
# replaced, a live one is refused.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

sock="$T/web.sock"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    start_handoff --pass systemd -l v6=[::1]:0 -- python3 "$SERVER"
    wait_log 'event=promote' 1
    port6=$(grep -Eo 'event=listen name=v6 address=\[::1\]:[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
    curl -s --max-time 5 "http://[::1]:$port6/" | grep -q '^pid=' || fail "no answer over IPv6"
    ok "IPv6 listener [::1]:$port6 serves"
    stop_handoff
else
    echo "no IPv6 on loopback: IPv6 case not run"
fi

# A file left by a crashed run: a socket nobody listens on.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock"
[ -S "$sock" ] || fail "could not make a stale socket file"
start_handoff --pass systemd -l "unix:$sock" -- python3 "$SERVER"
wait_log 'event=promote' 1
curl -s --max-time 5 --unix-socket "$sock" http://x/ | grep -q '^pid=' || fail "no answer on the unix socket"
ok "stale unix socket file replaced; serving on $sock"

# While it runs, a second handoff on the same path is refused, and the
# first keeps serving.
"$HANDOFF" --pass systemd -l "unix:$sock" -- python3 "$SERVER" 2>"$T/err2"
rc=$?
[ "$rc" -eq 1 ] || fail "live unix socket: exit $rc, expected 1"
grep -q "in use by a running server" "$T/err2" || fail "message: $(cat "$T/err2")"
curl -s --max-time 5 --unix-socket "$sock" http://x/ | grep -q '^pid=' || fail "first handoff disturbed"
ok "live unix socket refused, the running one untouched"
roll_and_wait 2
curl -s --max-time 5 --unix-socket "$sock" http://x/ | grep -q 'gen=2' || fail "not rolled on the unix socket"
stop_handoff
[ ! -e "$sock" ] || fail "the unix socket file was left behind after a clean stop"
ok "rolled on the unix socket; its file removed at stop"

# A path that is not a socket is never removed.
echo data >"$T/file"
"$HANDOFF" --pass systemd -l "unix:$T/file" -- true 2>"$T/err3"
[ $? -eq 1 ] && grep -q "exists and is not a socket" "$T/err3" || fail "regular file: $(cat "$T/err3")"
[ "$(cat "$T/file")" = data ] || fail "a regular file was replaced"
ok "a regular file at the path is refused and left alone"
