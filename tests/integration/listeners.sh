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

# Blocking mode: the shared socket is blocking, as systemd passes it, unless
# nonblocking = yes; a reload changes it on the socket every holder shares.
# nonblock_of GEN: "yes" if fd 3 of generation GEN's process has O_NONBLOCK.
nonblock_of() {
    local pid flags
    pid=$(sed -n "s/.*event=spawn gen=$1 pid=\([0-9]*\) .*/\1/p" "$LOG" | head -n1)
    flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$pid/fdinfo/3")
    [ -n "$flags" ] || fail "no fd 3 in generation $1 (pid $pid)"
    [ $((0$flags & 04000)) -ne 0 ] && echo yes || echo no
}
conf="$T/nb.conf"
printf '[listen web]\naddress = 127.0.0.1:0\n[worker]\ncommand = sleep 60\npass = systemd\nready = delay:50ms\n' >"$conf"
start_handoff -c "$conf"
wait_log 'event=promote' 1
[ "$(nonblock_of 1)" = no ] || fail "the socket is non-blocking by default"
sed -i 's/^address = .*/&\nnonblocking = yes/' "$conf"
kill -HUP "$HPID"
wait_log 'event=promote' 2
[ "$(nonblock_of 2)" = yes ] || fail "nonblocking = yes: the socket stayed blocking after reload"
[ "$(count 'event=listen ')" -eq 1 ] || fail "the listener was reopened to change its mode"
sed -i 's/^nonblocking = yes/nonblocking = no/' "$conf"
kill -HUP "$HPID"
wait_log 'event=promote' 3
[ "$(nonblock_of 3)" = no ] || fail "nonblocking = no: the socket stayed non-blocking after reload"
stop_handoff
start_handoff -l 127.0.0.1:0 --nonblocking yes --pass systemd -r delay:50ms -- sleep 60
wait_log 'event=promote' 1
[ "$(nonblock_of 1)" = yes ] || fail "--nonblocking yes: the socket is blocking"
stop_handoff
ok "blocking by default; nonblocking = yes and --nonblocking set O_NONBLOCK; a reload changes it on the same socket"
