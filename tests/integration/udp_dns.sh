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
# Each of its two binds per protocol was given the generation's socket:
# one UDP socket on the port, the master's (its workers share it).
N=$(ss -Huan "sport = :$P" | wc -l)
[ "$N" -eq 1 ] || fail "unbound: $N UDP sockets on port $P, not 1: $(ss -Huanp "sport = :$P")"
ok "unbound's binds (2 threads, so-reuseport) share its generation's socket"
stop_handoff
