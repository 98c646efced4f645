# udp_dns.sh: DNS servers, unmodified, rolled through the shim on a UDP
# and a TCP listener of one port, 5 times each under dnsperf at 3,000
# queries/s: every roll promoted, no query lost, every answer NOERROR.
# dnsmasq binds 127.0.0.1 itself (one socket, after closing every fd it
# inherited); unbound binds once per thread (2, so-reuseport), UDP and TCP.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need dnsmasq unbound dnsperf dig ss

P=$(free_port_udp)
[ -n "$P" ] || fail "no port free for UDP and TCP"
# dnsmasq closes every fd it inherited at start (it reads /proc/self/fd),
# the shim's channel too, before it binds: the shim keeps the channel.
start_handoff -l dns=udp:127.0.0.1:$P -l dnstcp=127.0.0.1:$P -- \
    dnsmasq -k -C /dev/null --port=$P --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --address=/example/10.0.0.1 \
    --user="$(id -un)" --pid-file=
dns_rolls dnsmasq 5 3000
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
dns_rolls unbound 5 3000
# Each of its two UDP binds (one per thread) was given a socket of its
# generation's own, both in the group: every generation asked for one more
# and got it, and the last one's two sockets are all that is left on the
# port, each held by unbound (and the master). Its TCP binds share one.
for g in $(seq 1 6); do
    [ "$(count "event=member_joined name=dns gen=$g ")" -eq 1 ] ||
        fail "unbound gen $g: $(count "event=member_joined name=dns gen=$g ") extra UDP sockets, not 1"
done
[ "$(count 'event=member_left name=dns ')" -eq 5 ] ||
    fail "$(count 'event=member_left name=dns ') extra sockets left with their generations' processes, not 5"
S=$(ss -Huanpe "sport = :$P")
N=$(echo "$S" | grep -c 'users:.*"unbound"' || true)
INOS=$(echo "$S" | grep 'users:.*"unbound"' | sed -n 's/.* ino:\([0-9]*\) .*/\1/p' | sort -u | wc -l)
echo "unbound's UDP sockets on port $P: $N ($INOS inodes)"
[ "$N" -eq 2 ] && [ "$INOS" -eq 2 ] ||
    fail "unbound: $N UDP sockets ($INOS inodes) on port $P, not 2: $S"
[ "$(echo "$S" | wc -l)" -eq 2 ] || fail "other UDP sockets on port $P: $S"
ok "unbound's binds (2 threads, so-reuseport): 2 sockets of its generation's, 0 queries lost"
stop_handoff
