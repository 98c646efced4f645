# haproxy.sh: stock HAProxy (Debian's, multi-threaded, SO_REUSEPORT, no
# change to it) rolled by handoff with the default ready = listen: five
# rolls under load, each promoted, no request failed.
. "$TOP_SRCDIR/tests/integration/lib.sh"
# haproxy lives in /usr/sbin, which a non-root PATH often lacks.
PATH=$PATH:/usr/sbin:/sbin
need haproxy hey curl python3

# examples/haproxy as the README runs it, on a free port. HAProxy asks
# getsockopt(SO_ACCEPTCONN) before it listens and skips listen() on a
# socket that already listens: the master's does.
PORT=$(free_port)
sed "s/8083/$PORT/" "$TOP_SRCDIR/examples/haproxy/haproxy.cfg" >"$T/haproxy.cfg"
sed "s|examples/haproxy/haproxy.cfg|$T/haproxy.cfg|; s/8083/$PORT/" \
    "$TOP_SRCDIR/examples/haproxy/handoff.conf" >"$T/handoff.conf"
"$HANDOFF" -c "$T/handoff.conf" -t >/dev/null || fail "examples/haproxy/handoff.conf does not check"
start_handoff -c "$T/handoff.conf" --ready-timeout 10s
wait_log 'event=(promote|roll_failed) ' 1 15
[ "$(count 'event=promote ')" -eq 1 ] || fail "HAProxy was never ready: generation 1 not promoted"
ok "HAProxy ready (via=listen) and promoted"

# The page: "hello from haproxy pid=N".
hx_pid() { get / | sed -n 's/.*pid=\([0-9]*\).*/\1/p'; }
first=$(hx_pid)
[ -n "$first" ] || fail "no pid= from HAProxy: $(get /)"
load_start 8
for i in 2 3 4 5 6; do
    roll_and_wait "$i"
done
sleep 0.5
load_stop
promoted=$(count 'event=promote ')
failed_rolls=$(count 'event=roll_failed ')
[ "$failed_rolls" -eq 0 ] || fail "$failed_rolls of 5 rolls failed"
[ "$promoted" -eq 6 ] || fail "$promoted promotions, expected 6"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed during 5 rolls"
[ "$REQS" -gt 0 ] || fail "hey made no request"
last=$(hx_pid)
[ "$last" != "$first" ] || fail "the same HAProxy (pid $first) serves after 5 rolls"
ok "HAProxy, 5 rolls under hey -c8: every roll promoted, $FAILED failed of $REQS"

# SIGUSR1 drains each old generation: none is left behind.
wait_log 'event=gone ' 5 40
stop_handoff
[ "$STATUS" -eq 0 ] || fail "handoff exited $STATUS"
ok "old generations drained on SIGUSR1; handoff stopped with 0"
