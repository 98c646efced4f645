#!/usr/bin/env bash
# probe_sources.sh: a client cannot pick a generation by its source port:
# from an address that is not the host's own, a port in a starting
# generation's probe block gets the active generation; probes (loopback, or
# from the managed address itself) still reach the generation they check;
# probe_ports inside the kernel's ephemeral range is refused.
# Clients need addresses that are not loopback: the whole test runs in a
# network namespace of its own, with two addresses of each family on its lo.
if [ -z "${PROBE_SOURCES_NETNS:-}" ]; then
    command -v unshare >/dev/null && unshare -n true 2>/dev/null ||
        { echo "SKIP: cannot unshare -n"; exit 77; }
    PROBE_SOURCES_NETNS=1 exec unshare -n "${BASH:-bash}" "$0" "$@"
fi
. "$TOP_SRCDIR/tests/integration/lib.sh"
need ip
ip link set lo up
ip addr add 10.66.0.1/32 dev lo
ip addr add 10.66.0.2/32 dev lo
ip -6 addr add 2001:db8:66::1/128 dev lo nodad
ip -6 addr add 2001:db8:66::2/128 dev lo nodad

# 1. -t refuses probe_ports inside ip_local_port_range, naming both ranges.
read -r elo ehi </proc/sys/net/ipv4/ip_local_port_range
plo=$((elo + 100)) phi=$((elo + 199))
"$HANDOFF" -t --probe-ports "$plo-$phi" -l 127.0.0.1:0 -- /bin/true >"$T/t.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "-t with probe_ports $plo-$phi inside $elo-$ehi: exit $rc, not 2: $(cat "$T/t.out")"
grep -q -- "--probe-ports: $plo-$phi overlaps the kernel's ephemeral ports $elo-$ehi" "$T/t.out" ||
    fail "-t with probe_ports inside the ephemeral range: $(cat "$T/t.out")"
printf '[handoff]\nprobe_ports = %s-%s\n[listen a]\naddress = 127.0.0.1:0\n[worker]\ncommand = /bin/true\n' \
    "$plo" "$phi" >"$T/bad.conf"
"$HANDOFF" -c "$T/bad.conf" >"$T/start.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -q "bad.conf:2: probe_ports: $plo-$phi overlaps" "$T/start.out" ||
    fail "start with probe_ports inside the ephemeral range: exit $rc: $(cat "$T/start.out")"
"$HANDOFF" -t -l 127.0.0.1:0 -- /bin/true >"$T/t.out" 2>&1 || fail "the default probe_ports: $(cat "$T/t.out")"
ok "probe_ports $plo-$phi inside the ephemeral ports $elo-$ehi: refused by -t and at start (exit 2, both ranges named); the default passes"


# ask SRC DST PORT SPORT...: a request from SRC:SPORT for each SPORT;
# prints "SPORT STATUS gen=G" for each.
ask() {
    python3 - "$@" <<'PY'
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
for sport in map(int, sys.argv[4:]):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(10)
    s.bind((src, sport))
    s.connect((dst, port))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    print(sport, head.split()[1], body.split()[-1] if body.split() else "?")
PY
}

# 2. Gen 2 warms up for a minute (503s); its readiness probe is an http:
# check of the managed address, which is not loopback: the probe leaves
# from that address itself and must reach gen 2 alone. Once per family:
# starting_gen SERVER_ADDR CLIENT_ADDR LOOPBACK, the addresses bare.
starting_gen() {
    local srv=$1 cli=$2 loop=$3 url port range lo hi wrong=0 n=0 ans
    port=$(python3 -c 'import socket, sys; a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET); s.bind((a, 0)); print(s.getsockname()[1])' "$srv")
    case $srv in *:*) url="[$srv]:$port" ;; *) url="$srv:$port" ;; esac
    start_handoff --pass systemd --ready "http:http://$url/" --ready-interval 100ms \
        --ready-timeout 120s -l "$url" -- python3 "$SERVER" --bad-gens 2 --warm-up 60
    wait_log 'event=promote gen=1 ' 1 30
    kill -USR2 "$HPID"
    wait_log 'event=spawn gen=2 ' 1 30
    range=$(grep -Eo 'event=steer gen=2 probe_ports=[0-9]+-[0-9]+' "$LOG" | grep -Eo '[0-9]+-[0-9]+$')
    lo=${range%-*} hi=${range#*-}
    # gen 2 answers (503) once its process runs: a loopback probe says so
    for _ in $(seq 200); do
        [ "$(ask "$loop" "$srv" "$port" "$lo" 2>/dev/null)" = "$lo 503 gen=2" ] && break
        sleep 0.1
    done
    ans=$(ask "$loop" "$srv" "$port" $((lo + 1)) "$hi")
    [ "$ans" = "$((lo + 1)) 503 gen=2
$hi 503 gen=2" ] || fail "$loop on gen 2's block $range: $ans, not gen 2"
    ask "$cli" "$srv" "$port" $(seq "$lo" 3 "$hi") >"$T/ask.out" || fail "a client from $cli failed"
    n=$(wc -l <"$T/ask.out")
    wrong=$(grep -vc ' 200 gen=1$' "$T/ask.out")
    grep -v ' 200 gen=1$' "$T/ask.out" | head -n 5
    [ "$wrong" -eq 0 ] ||
        fail "$wrong of $n clients from $cli on gen 2's probe ports $range reached the starting generation"
    [ "$(count 'event=promote gen=2 ')" -eq 0 ] ||
        fail "gen 2 was promoted while warming up: its probe of $url reached gen 1"
    [ "$(count 'event=roll_failed')" -eq 0 ] || fail "a roll failed"
    ok "gen 2 starting (503): $n clients from $cli on its probe ports $range answered by gen 1, none by gen 2; probes from $loop and from $srv itself reach gen 2"
    stop_handoff
    mv "$LOG" "$T/$srv.log"
}
starting_gen 10.66.0.1 10.66.0.2 127.0.0.1
starting_gen 2001:db8:66::1 2001:db8:66::2 ::1

# 3. A reload cannot change probe_ports: it says so.
printf '[handoff]\nprobe_ports = 21000-21999\n[listen a]\naddress = 10.66.0.1:0\n[worker]\ncommand = python3 %s\npass = systemd\nready = notify\n' \
    "$SERVER" >"$T/h.conf"
start_handoff -c "$T/h.conf"
wait_log 'event=promote gen=1 ' 1 30
sed -i 's/^probe_ports = .*/probe_ports = 22000-22999/' "$T/h.conf"
kill -HUP "$HPID"
wait_log 'event=promote gen=2 ' 1 30
grep -q 'event=reload_not_applied key=probe_ports ' "$LOG" ||
    fail "a reload changing probe_ports: nothing said"
grep -q 'event=steer gen=2 probe_ports=21' "$LOG" || fail "gen 2's probe block is not in the running range"
ok "a reload that changes probe_ports logs reload_not_applied and keeps the running range"
stop_handoff
