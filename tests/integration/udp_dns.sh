# udp_dns.sh: DNS servers, unmodified, rolled through the shim on a UDP
# and a TCP listener of one port, 5 times each under dnsperf at 3,000
# queries/s: every roll promoted, no query lost, every answer NOERROR.
# dnsmasq binds 127.0.0.1 itself (one socket, after closing every fd it
# inherited); unbound binds once per thread (2, so-reuseport), UDP and TCP.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need dnsmasq unbound dnsperf dig ss

# roll5 NAME: the server started (start_handoff) answers over UDP and TCP,
# then 5 rolls under dnsperf.
roll5() {
    wait_log 'event=promote gen=1 '
    grep -q 'event=listen name=dns address=udp:127.0.0.1:'"$P"' traffic=steered' "$LOG" ||
        fail "$1: the UDP listener is not steered"
    [ "$(dig +short +tries=1 +time=5 -p "$P" @127.0.0.1 www.example A)" = 10.0.0.1 ] ||
        fail "$1: no answer over UDP"
    [ "$(dig +tcp +short +tries=1 +time=5 -p "$P" @127.0.0.1 www.example A)" = 10.0.0.1 ] ||
        fail "$1: no answer over TCP"
    ok "$1 answers through its UDP and TCP listeners"
    dnsperf_start "$P" 3000
    sleep 1
    for g in 2 3 4 5 6; do
        kill -USR2 "$HPID"
        wait_log "event=promote gen=$g " 1 30
        wait_log "event=gone gen=$((g - 1)) " 1 30
    done
    sleep 1
    dnsperf_stop
    echo "$1: dnsperf sent=$SENT completed=$COMPLETED lost=$LOST noerror=$NOERROR"
    [ "$(count 'event=roll_failed')" -eq 0 ] || fail "$1: a roll failed"
    [ "$SENT" -ge 3000 ] || fail "$1: dnsperf sent only $SENT queries"
    [ "$LOST" -eq 0 ] || fail "$1: $LOST of $SENT queries lost across 5 rolls"
    [ "$NOERROR" -eq "$COMPLETED" ] || fail "$1: $NOERROR of $COMPLETED answers NOERROR"
    ok "$1: 5 rolls under dnsperf at 3,000 queries/s: 0 of $SENT lost"
}

P=$(free_port_udp)
[ -n "$P" ] || fail "no port free for UDP and TCP"
# dnsmasq closes every fd it inherited at start (it reads /proc/self/fd),
# the shim's channel too, before it binds: the shim keeps the channel.
start_handoff -l dns=udp:127.0.0.1:$P -l dnstcp=127.0.0.1:$P -- \
    dnsmasq -k -C /dev/null --port=$P --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --address=/example/10.0.0.1 \
    --user="$(id -un)" --pid-file=
roll5 dnsmasq
stop_handoff

P=$(free_port_udp)
cat >"$T/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: $P
  num-threads: 2
  so-reuseport: yes
  do-daemonize: no
  username: ""
  chroot: ""
  pidfile: ""
  use-syslog: no
  logfile: ""
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  local-zone: "example." static
  local-data: "www.example. A 10.0.0.1"
  auto-trust-anchor-file: ""
remote-control:
  control-enable: no
CONF
start_handoff -l dns=udp:127.0.0.1:$P -l dnstcp=127.0.0.1:$P -- \
    unbound -d -c "$T/unbound.conf"
roll5 unbound
# Each of its two binds per protocol was given the generation's socket:
# one UDP socket on the port, the master's (its workers share it).
N=$(ss -Huan "sport = :$P" | wc -l)
[ "$N" -eq 1 ] || fail "unbound: $N UDP sockets on port $P, not 1: $(ss -Huanp "sport = :$P")"
ok "unbound's binds (2 threads, so-reuseport) share its generation's socket"
stop_handoff
