# quic_server.sh: the QUIC test server (tests/servers/quicgen) alone, with
# Debian's HTTP/3 client (gtlsclient): it answers with its generation and
# cookie; 20 clients at once are all answered; every connection ID it
# issues, as the clients see them, begins with HANDOFF_QUIC_COOKIE, and so
# does the DCID of every Handshake and 1-RTT packet the clients send (the
# byte handoff's reuseport program routes by); a slow request holds one
# connection open for its time; after SIGTERM a held connection is still
# answered, a new one is not, and the server exits 0 once it ended, or
# closes what is left at --drain-timeout.
. "$TOP_SRCDIR/tests/integration/lib.sh"
quicgen_setup

out=$(HANDOFF_QUIC_COOKIE=5az "$QUICGEN" --cert "$T/cert.pem" --key "$T/key.pem" \
    --bind 127.0.0.1:0 2>&1)
st=$?
[ "$st" -eq 2 ] && [ "$out" = "quicgen: HANDOFF_QUIC_COOKIE=5az: expected two hex digits" ] ||
    fail "a bad cookie: exit $st, '$out'"
ok "a bad cookie refused: $out"

# A notify socket that keeps the first datagram the server sends.
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".tmp", "wb").write(s.recv(512))
__import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])' "$T/notify" "$T/notified" &
for _ in $(seq 100); do [ -S "$T/notify" ] && break; sleep 0.05; done

# start_quicgen ARGS...: the server on 127.0.0.1, a port the kernel
# chooses (QP); its stderr is LOG, so wait_log and fail read it.
start_quicgen() {
    LOG="$T/quicgen.$1.log"
    shift
    HANDOFF_QUIC_COOKIE=5a HANDOFF_GENERATION=3 NOTIFY_SOCKET="$T/notify" \
        "$QUICGEN" -v --cert "$T/cert.pem" --key "$T/key.pem" \
        --bind 127.0.0.1:0 "$@" >"$LOG.out" 2>"$LOG" &
    QPID=$!
    STARTED="$STARTED $QPID"
    QP=
    for _ in $(seq 200); do
        QP=$(sed -n 's/^quicgen: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$LOG.out")
        [ -n "$QP" ] && return 0
        kill -0 "$QPID" 2>/dev/null || fail "quicgen exited: $(cat "$LOG")"
        sleep 0.05
    done
    fail "quicgen did not listen in 10 s"
}

# h3 NAME URI...: one gtlsclient connection that asks every URI (one
# stream each) and exits when all are answered; the answers go to
# $T/NAME/ (one file a path), its packet and frame log to $T/NAME.log.
h3() {
    local name=$1 uris= u
    shift
    for u in "$@"; do uris="$uris https://127.0.0.1:$QP$u"; done
    mkdir -p "$T/$name"
    # shellcheck disable=SC2086
    timeout 30 gtlsclient --exit-on-all-streams-close --no-quic-dump \
        --no-http-dump --handshake-timeout=3s --download="$T/$name" \
        127.0.0.1 "$QP" $uris >"$T/$name.out" 2>"$T/$name.log"
}

start_quicgen a
for _ in $(seq 100); do [ -f "$T/notified" ] && break; sleep 0.05; done
grep -q '^READY=1' "$T/notified" 2>/dev/null || fail "no READY=1 on NOTIFY_SOCKET"
ok "READY=1 once listening on 127.0.0.1:$QP"

h3 one / || fail "gtlsclient: exit $? $(tail -n 5 "$T/one.log")"
body=$(cat "$T/one/index.html" 2>/dev/null)
[ "$body" = "gen=3 pid=$QPID cookie=5a" ] || fail "answer: '$body'"
ok "answer: $body"

# 20 connections at once.
pids=
for i in $(seq 20); do
    h3 "par$i" / &
    pids="$pids $!"
done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
answered=$(cat "$T"/par*/index.html 2>/dev/null | grep -cx "gen=3 pid=$QPID cookie=5a")
[ "$bad" -eq 0 ] && [ "$answered" -eq 20 ] ||
    fail "20 clients: $bad failed, $answered answered right"
ok "20 clients at once: 20 answered gen=3 pid=$QPID cookie=5a"

# The server's connection IDs as the clients saw them: the SCID of its
# long-header packets and the CID of each NEW_CONNECTION_ID frame; and the
# DCID the clients put on their Handshake and 1-RTT packets (their first
# Initial carries a DCID of their own choice).
cat "$T"/one.log "$T"/par*.log >"$T/clients.log"
sed -nE 's/.* pkt rx .* scid=0x([0-9a-f]+) .*/\1/p' "$T/clients.log" >"$T/cids"
sed -nE 's/.* frm rx .* NEW_CONNECTION_ID.* cid=0x([0-9a-f]+) .*/\1/p' "$T/clients.log" >>"$T/cids"
sed -nE 's/.* pkt tx .* dcid=0x([0-9a-f]+) .*type=(Handshake|1RTT).*/\1/p' "$T/clients.log" >"$T/dcids"
issued=$(sort -u "$T/cids" | wc -l)
other=$(sort -u "$T/cids" | grep -vc '^5a')
sent=$(wc -l <"$T/dcids")
sent_other=$(grep -vc '^5a' "$T/dcids")
# 21 connections: their first SCID and at least one more each.
[ "$issued" -ge 42 ] && [ "$other" -eq 0 ] ||
    fail "server-issued CIDs: $issued seen, $other not starting with 5a: $(sort -u "$T/cids" | grep -v '^5a' | head -n 3)"
[ "$sent" -ge 42 ] && [ "$sent_other" -eq 0 ] ||
    fail "client packets: $sent Handshake/1-RTT, $sent_other with a DCID not starting with 5a"
ok "$issued server-issued connection IDs seen by 21 clients, all 5a...; $sent Handshake/1-RTT packets sent to DCID 5a..."

# One connection held open by 4 requests answered after 3 s each.
accepts=$(count 'accept scid 5a')
t0=$(date +%s%N)
h3 held /slow1?ms=3000 /slow2?ms=3000 /slow3?ms=3000 /slow4?ms=3000 ||
    fail "held: gtlsclient exit $?"
ms=$((($(date +%s%N) - t0) / 1000000))
answered=$(cat "$T"/held/slow* 2>/dev/null | grep -cx "gen=3 pid=$QPID cookie=5a")
[ "$answered" -eq 4 ] || fail "held: $answered of 4 answered"
[ "$ms" -ge 3000 ] || fail "held: answered in $ms ms, before 3000"
[ "$(count 'accept scid 5a')" -eq $((accepts + 1)) ] ||
    fail "held: $(($(count 'accept scid 5a') - accepts)) connections, not 1"
ok "one connection held $ms ms by 4 streams of /slow?ms=3000: 4 answered"

# SIGTERM with a connection held: it is answered, a new one is refused,
# then the server exits 0.
h3 drain /slow?ms=2500 &
dpid=$!
wait_log 'accept scid 5a' $((accepts + 2))
kill -TERM "$QPID"
# gtlsclient exits 0 at its handshake timeout too: look at what it got.
h3 late /
wait_log 'stopping, Initial dropped'
[ -e "$T/late/index.html" ] && fail "a new connection was answered after SIGTERM"
grep -q ' pkt rx ' "$T/late.log" && fail "the server answered a new connection's Initial after SIGTERM"
wait "$dpid" || fail "held over SIGTERM: gtlsclient exit $?"
[ "$(cat "$T/drain/slow?ms=2500" 2>/dev/null)" = "gen=3 pid=$QPID cookie=5a" ] ||
    fail "held over SIGTERM: not answered"
for _ in $(seq 100); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$QPID" 2>/dev/null && fail "quicgen still runs 10 s after its last connection"
wait "$QPID" || fail "quicgen exit $? after SIGTERM"
wait_log 'stopped, closed 0 connections'
ok "SIGTERM: the held connection answered, a new one got no packet, exit 0"

# --drain-timeout: what is still open then is closed with CONNECTION_CLOSE.
start_quicgen b --drain-timeout 1
h3 cut /slow?ms=20000 &
dpid=$!
wait_log 'accept scid 5a'
t0=$(date +%s%N)
kill -TERM "$QPID"
wait "$QPID" || fail "quicgen exit $? at its drain timeout"
ms=$((($(date +%s%N) - t0) / 1000000))
wait_log 'stopped, closed 1 connections'
wait "$dpid"
grep -q 'frm rx .*CONNECTION_CLOSE' "$T/cut.log" ||
    fail "the client saw no CONNECTION_CLOSE: $(tail -n 3 "$T/cut.log")"
ok "--drain-timeout 1: exit after $ms ms, the open connection closed with CONNECTION_CLOSE"

# LISTEN_FDS: the socket handed over as fd 3 (as handoff does), no --bind.
LOG="$T/quicgen.c.log"
python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()),
                  HANDOFF_GENERATION="7", HANDOFF_QUIC_COOKIE="c3")
os.execv(sys.argv[1], sys.argv[1:])' "$QUICGEN" -v --cert "$T/cert.pem" \
    --key "$T/key.pem" >"$LOG.out" 2>"$LOG" &
QPID=$!
STARTED="$STARTED $QPID"
for _ in $(seq 200); do grep -q '^quicgen: listening' "$LOG.out" && break; sleep 0.05; done
QP=$(head -n 1 "$LOG.out")
grep -q "^quicgen: listening on 127.0.0.1:$QP pid=$QPID" "$LOG.out" ||
    fail "LISTEN_FDS: $(cat "$LOG.out" "$LOG")"
h3 fd3 / || fail "LISTEN_FDS: gtlsclient exit $?"
body=$(cat "$T/fd3/index.html" 2>/dev/null)
[ "$body" = "gen=7 pid=$QPID cookie=c3" ] || fail "LISTEN_FDS: answer '$body'"
grep -q ' pkt rx .* scid=0xc3' "$T/fd3.log" || fail "LISTEN_FDS: no SCID c3..."
kill -TERM "$QPID"
wait "$QPID" || fail "LISTEN_FDS: exit $? after SIGTERM"
ok "LISTEN_FDS: fd 3 (port $QP) served: $body, SCID c3..."
