# udp_dnsmasq.sh: dnsmasq, unmodified, rolled through the shim on a UDP
# and a TCP listener of one port, 5 times under dnsperf at 3,000 queries/s:
# every roll promoted, no query lost, every answer NOERROR.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need dnsmasq dnsperf dig

P=$(free_port_udp)
[ -n "$P" ] || fail "no port free for UDP and TCP"
# dnsmasq closes every fd it inherited at start (it reads /proc/self/fd),
# the shim's channel too, before it binds: the shim keeps the channel.
start_handoff -l dns=udp:127.0.0.1:$P -l dnstcp=127.0.0.1:$P -- \
    dnsmasq -k -C /dev/null --port=$P --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --address=/example/10.0.0.1 \
    --user="$(id -un)" --pid-file=
wait_log 'event=promote gen=1 '
grep -q 'event=listen name=dns address=udp:127.0.0.1:'"$P"' traffic=steered' "$LOG" ||
    fail "the UDP listener is not steered"
[ "$(dig +short +tries=1 +time=5 -p "$P" @127.0.0.1 www.example A)" = 10.0.0.1 ] ||
    fail "no answer over UDP"
[ "$(dig +tcp +short +tries=1 +time=5 -p "$P" @127.0.0.1 www.example A)" = 10.0.0.1 ] ||
    fail "no answer over TCP"
ok "dnsmasq answers through its UDP and TCP listeners"

dnsperf_start "$P" 3000
sleep 1
for g in 2 3 4 5 6; do
    kill -USR2 "$HPID"
    wait_log "event=promote gen=$g " 1 30
    wait_log "event=gone gen=$((g - 1)) " 1 30
done
sleep 1
dnsperf_stop
echo "dnsperf: sent=$SENT completed=$COMPLETED lost=$LOST noerror=$NOERROR"
[ "$(count 'event=roll_failed')" -eq 0 ] || fail "a roll failed"
[ "$SENT" -ge 3000 ] || fail "dnsperf sent only $SENT queries"
[ "$LOST" -eq 0 ] || fail "$LOST of $SENT queries lost across 5 rolls"
[ "$NOERROR" -eq "$COMPLETED" ] || fail "$NOERROR of $COMPLETED answers NOERROR"
ok "5 rolls under dnsperf at 3,000 queries/s: 0 of $SENT lost"
stop_handoff
