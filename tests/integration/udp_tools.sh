#!/usr/bin/env bash
# udp_tools.sh: the UDP test programs the UDP listener tests stand on, run
# without handoff: udpgen.py (answers with its generation, text or DNS)
# and udpclients.py (paced load from many source addresses, a JSON
# summary) agree on what was sent, answered and lost, per generation and
# per source; a backlog is answered, also across a SIGTERM; udpgen takes
# its socket from LISTEN_FDS as from handoff.
. "$TOP_SRCDIR/tests/integration/lib.sh"
GEN_PY="$TOP_SRCDIR/tests/servers/udpgen.py"
CLI_PY="$TOP_SRCDIR/tests/servers/udpclients.py"
SPIDS=
# Every server's receive buffer holds seconds of these loads (the default
# holds ~256 small datagrams): a stall of the machine, with other tests
# beside, must not lose datagrams the tools would count.
BUF=4194304

stop_servers() {
    local p
    for p in $SPIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $SPIDS; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    SPIDS=
}
trap 'stop_servers; cleanup' EXIT

# udp_port: a UDP port the kernel chooses.
udp_port() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# udp_up PORT: until something answers a DNS query (any answer: udpgen's
# text mode answers it too) on 127.0.0.1:PORT, at most 10 s.
udp_up() {
    python3 - "$1" <<'PY' || fail "nothing answers on udp 127.0.0.1:$1 in 10 s"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.1)
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"
end = time.monotonic() + 10
while time.monotonic() < end:
    s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
    try:
        s.recv(512)
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# udpgen ARGS...: start the server in the background (generation 7 unless
# HANDOFF_GENERATION says otherwise); sets SPID.
udpgen() {
    HANDOFF_GENERATION=${GEN:-7} python3 "$GEN_PY" "$@" 2>>"$T/udpgen.err" &
    SPID=$!
    SPIDS="$SPIDS $SPID"
}

# clients OUT ARGS...: run udpclients.py, its JSON in OUT, bounded in time.
clients() {
    local out=$1
    shift
    timeout 60 python3 "$CLI_PY" "$@" >"$out" 2>"$out.err" ||
        fail "udpclients.py $*: exit $?: $(cat "$out.err")"
}

# j FILE EXPR: a field of the JSON in FILE (EXPR in python, d the object).
j() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# rx_queue PORT: the bytes queued on the UDP socket(s) bound to PORT.
rx_queue() {
    local p n=0 q
    p=$(printf ':%04X' "$1")
    while read -r _ local _ _ queues _; do
        case $local in *"$p") q=${queues#*:} n=$((n + 16#$q)) ;; esac
    done </proc/net/udp
    echo "$n"
}

# 1. 2,000 requests from 200 sources, generation 7: every one answered,
# by 7 only, each source by one generation; --log has one line per answer.
P=$(udp_port)
udpgen --bind "127.0.0.1:$P" --rcvbuf "$BUF"
udp_up "$P"
clients "$T/c1" --target "127.0.0.1:$P" --sources 200 --rate 2000 --count 2000 --timeout 5000 --log "$T/c1.log"
echo "text: $(cat "$T/c1")"
[ "$(j "$T/c1" 'd["sent"], d["answered"], d["lost"]')" = "(2000, 2000, 0)" ] ||
    fail "text: not all 2000 answered: $(cat "$T/c1")"
[ "$(j "$T/c1" 'd["by_gen"], d["sources_by_gen"], d["sources_multi"]')" = "({'7': 2000}, {'7': 200}, 0)" ] ||
    fail "text: answers not all from generation 7 over 200 sources: $(cat "$T/c1")"
[ "$(awk '$3 == 7 && $2 ~ /^127\.1\.0\./ && $4 ~ /^[0-9]+$/' "$T/c1.log" | wc -l)" -eq 2000 ] ||
    fail "text: --log lacks its 2000 lines 'TIME_MS SOURCE 7 SEQ': $(head -n 3 "$T/c1.log")"
stop_servers
ok "2000 datagrams from 200 sources: 2000 answered by generation 7, 0 lost, 0 sources answered twice"

# 2. Two generations in one reuseport group (--bind-each, 2 threads each):
# both answer, each source by one of them (the group hashes the 4-tuple);
# once generation 1 is gone, its sources move: sources_multi counts them.
# (SIGKILL: a SIGTERM'd udpgen reads on while datagrams keep reaching its
# sockets, which only steering stops.)
P=$(udp_port)
GEN=1 udpgen --bind "127.0.0.1:$P" --bind-each --threads 2 --rcvbuf "$BUF"
G1=$SPID
udp_up "$P"
GEN=2 udpgen --bind "127.0.0.1:$P" --bind-each --threads 2 --rcvbuf "$BUF"
for _ in $(seq 200); do
    [ "$(awk -v p="$(printf ':%04X' "$P")" '$2 ~ p"$"' /proc/net/udp | wc -l)" -ge 4 ] && break
    sleep 0.05
done
[ "$(awk -v p="$(printf ':%04X' "$P")" '$2 ~ p"$"' /proc/net/udp | wc -l)" -eq 4 ] ||
    fail "--bind-each --threads 2 twice: not 4 sockets on port $P"
clients "$T/c2" --target "127.0.0.1:$P" --sources 200 --rate 2000 --count 2000 --timeout 5000
echo "two generations: $(cat "$T/c2")"
[ "$(j "$T/c2" 'd["answered"], d["lost"], sorted(d["by_gen"]), sum(d["sources_by_gen"].values()), d["sources_multi"]')" = "(2000, 0, ['1', '2'], 200, 0)" ] ||
    fail "two generations: not 2000 answered by 1 and 2, each source by one: $(cat "$T/c2")"
rm -f "$T/stop2"
python3 "$CLI_PY" --target "127.0.0.1:$P" --sources 200 --rate 1000 --until-file "$T/stop2" \
    --duration 20 --log "$T/c3.log" >"$T/c3" 2>"$T/c3.err" &
CP=$!
for _ in $(seq 200); do [ "$(wc -l 2>/dev/null <"$T/c3.log" || echo 0)" -ge 400 ] && break; sleep 0.05; done
{ kill -KILL "$G1"; wait "$G1"; } 2>/dev/null
n=$(wc -l <"$T/c3.log")
for _ in $(seq 200); do [ "$(wc -l <"$T/c3.log")" -ge $((n + 1000)) ] && break; sleep 0.05; done
touch "$T/stop2"
wait "$CP" || fail "udpclients.py --until-file: exit $?: $(cat "$T/c3.err")"
echo "generation 1 stopped: $(cat "$T/c3")"
[ "$(j "$T/c3" 'd["sources_multi"] == d["sources_by_gen"]["1"] > 0, d["sources_by_gen"]["2"]')" = "(True, 200)" ] ||
    fail "after generation 1 was killed: its sources not all answered by 2 too: $(cat "$T/c3")"
stop_servers
ok "two generations on one port: each source sticks to one; once one is killed, its $(j "$T/c3" 'd["sources_multi"]') sources answered by both"

# 3. DNS with --warm 1.5: SERVFAIL (rcode 2) first, then the A record of
# generation 7 (rcode 0), never a SERVFAIL after an answer.
P=$(udp_port)
udpgen --bind "127.0.0.1:$P" --dns --warm 1.5 --rcvbuf "$BUF"
udp_up "$P"
clients "$T/c4" --target "127.0.0.1:$P" --sources 50 --rate 500 --duration 3 --timeout 5000 --dns --log "$T/c4.log"
echo "dns: $(cat "$T/c4")"
[ "$(j "$T/c4" 'd["answered"] == d["sent"] > 0, d["lost"], d["rcodes"].get("2", 0) > 0, d["rcodes"].get("0", 0) > 0, list(d["by_gen"])')" = "(True, 0, True, True, ['7'])" ] ||
    fail "dns --warm: not SERVFAIL then answers from 7, all answered: $(cat "$T/c4")"
[ "$(awk '$3 == 7 { seen = 1 } seen && $3 == "-"' "$T/c4.log" | wc -l)" -eq 0 ] ||
    fail "dns --warm: a SERVFAIL after the warm-up ended"
clients "$T/c5" --target "127.0.0.1:$P" --sources 50 --rate 500 --count 200 --timeout 5000 --dns
[ "$(j "$T/c5" 'd["answered"], d["rcodes"], d["by_gen"]')" = "(200, {'0': 200}, {'7': 200})" ] ||
    fail "dns after the warm-up: not 200 answers rcode 0 from 7: $(cat "$T/c5")"
stop_servers
ok "dns: $(j "$T/c4" 'd["rcodes"]["2"]') SERVFAIL during --warm, then rcode 0 only"

# 4. A burst of 500 from one source to a slow reader (1 ms an answer):
# a backlog builds (the last answer 500 ms or more after its send), all
# answered.
P=$(udp_port)
udpgen --bind "127.0.0.1:$P" --delay-ms 1 --rcvbuf 1048576
udp_up "$P"
clients "$T/c6" --target "127.0.0.1:$P" --burst 500 --count 500 --rate 100000 --timeout 10000
echo "burst: $(cat "$T/c6")"
[ "$(j "$T/c6" 'd["sent"], d["answered"], d["lost"], d["max_ms"] >= 500')" = "(500, 500, 0, True)" ] ||
    fail "--burst 500 to --delay-ms 1: not all answered after a backlog: $(cat "$T/c6")"
stop_servers
ok "burst of 500 to a slow reader: 500 answered, the last after $(j "$T/c6" 'd["max_ms"]') ms"

# 5. SIGTERM while a backlog is queued: udpgen answers all of it, then
# exits 0.
P=$(udp_port)
udpgen --bind "127.0.0.1:$P" --delay-ms 4 --rcvbuf 1048576
SRV=$SPID
udp_up "$P"
python3 "$CLI_PY" --target "127.0.0.1:$P" --burst 400 --count 400 --rate 100000 --timeout 15000 \
    --log "$T/c7.log" >"$T/c7" 2>"$T/c7.err" &
CP=$!
for _ in $(seq 200); do [ -s "$T/c7.log" ] && break; sleep 0.05; done
[ -s "$T/c7.log" ] || fail "no answer to the burst in 10 s"
q=$(rx_queue "$P")
kill -TERM "$SRV"
[ "$q" -gt 0 ] || fail "no backlog queued at the SIGTERM (rx_queue $q)"
for _ in $(seq 150); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV" 2>/dev/null && fail "udpgen still runs 15 s after SIGTERM"
wait "$SRV"
rc=$?
SPIDS=
[ "$rc" -eq 0 ] || fail "udpgen exited $rc after SIGTERM, not 0"
wait "$CP" || fail "udpclients.py: exit $?: $(cat "$T/c7.err")"
echo "sigterm: $(cat "$T/c7")"
[ "$(j "$T/c7" 'd["sent"], d["answered"], d["lost"]')" = "(400, 400, 0)" ] ||
    fail "SIGTERM with $q bytes queued: not all 400 answered: $(cat "$T/c7")"
ok "SIGTERM with $q bytes queued: 400 of 400 answered, exit 0"

# 6. The socket from LISTEN_FDS (fd 3 a TCP listener, fd 4 the UDP socket,
# as handoff passes a TCP and a UDP listener, LISTEN_FDNAMES=web:dns,
# --fdname dns); --slow-start 1: the
# datagrams sent before it reads are queued and answered, READY=1 after.
cat >"$T/activate.py" <<'PY'
import os, socket, sys
t = socket.socket()
t.bind(("127.0.0.1", 0))
t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".new", "w").write("%d %d\n" % (u.getsockname()[1], t.getsockname()[1]))
os.rename(sys.argv[1] + ".new", sys.argv[1])
tfd, ufd = os.dup(t.fileno()), os.dup(u.fileno())  # above 4: no clash
os.dup2(tfd, 3)
os.dup2(ufd, 4)
os.set_inheritable(3, True)
os.set_inheritable(4, True)
os.environ.update(LISTEN_FDS="2", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="web:dns")
os.execvp(sys.argv[2], sys.argv[2:])
PY
rm -f "$T/notify.out"
python3 - "$T/notify" "$T/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
try:
    msg = s.recv(4096).decode()
except OSError:
    msg = "timeout"
open(sys.argv[2], "w").write(msg + "\n")
PY
NP=$!
for _ in $(seq 100); do [ -S "$T/notify" ] && break; sleep 0.05; done
NOTIFY_SOCKET="$T/notify" HANDOFF_GENERATION=7 python3 "$T/activate.py" "$T/port" \
    python3 "$GEN_PY" --slow-start 1 --fdname dns 2>>"$T/udpgen.err" &
SPID=$!
SPIDS=$SPID
for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || fail "the LISTEN_FDS wrapper did not start in 10 s"
read -r P TP <"$T/port"
# A connection waiting on the TCP listener: a server that read fd 3 too
# would fail on it.
python3 -c 'import socket, sys, time; c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5); time.sleep(3)' "$TP" &
clients "$T/c8" --target "127.0.0.1:$P" --sources 20 --rate 1000 --count 100 --timeout 10000
wait "$NP"
echo "LISTEN_FDS: $(cat "$T/c8"); notify: $(cat "$T/notify.out")"
[ "$(j "$T/c8" 'd["answered"], d["lost"], d["by_gen"]')" = "(100, 0, {'7': 100})" ] ||
    fail "LISTEN_FDS, --slow-start 1: not 100 answered by 7: $(cat "$T/c8")"
grep -qx 'READY=1' "$T/notify.out" || fail "no READY=1 on NOTIFY_SOCKET: $(cat "$T/notify.out")"
stop_servers
LISTEN_FDS=1 LISTEN_PID=1 python3 "$GEN_PY" >"$T/pid.out" 2>&1
rc=$?
{ [ "$rc" -eq 1 ] && grep -q 'LISTEN_PID=1 is not my pid' "$T/pid.out"; } ||
    fail "LISTEN_PID of another process: exit $rc: $(cat "$T/pid.out")"
ok "LISTEN_FDS (TCP at fd 3, UDP at fd 4 named dns): 100 queued before --slow-start ended, all answered; READY=1; a LISTEN_PID not its own refused"

[ -s "$T/udpgen.err" ] && fail "udpgen wrote errors: $(head -n 5 "$T/udpgen.err")"
exit 0
