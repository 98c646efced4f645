# quic.sh: QUIC connections across rolls with flows = quic. quicgen (an
# HTTP/3 server that puts its generation's HANDOFF_QUIC_COOKIE first in its
# connection IDs) is rolled 5 times while 50 connections, 10 begun before
# each roll, send their request only after it (gtlsclient --delay-stream):
# every one is answered by the generation it began on. New connections go
# to the newest generation. Without flows = quic such a request reaches
# the new generation, which does not know the connection: no answer. A
# connection whose generation is drained and killed ends; one on the
# newer generation, beside it, does not.
. "$TOP_SRCDIR/tests/integration/lib.sh"
quicgen_setup

# client NAME DELAY PATH [ARGS...]: one connection in the background whose
# request leaves DELAY after the handshake; its body lands in $T/NAME/.
client() {
    local name=$1 delay=$2 path=$3
    shift 3
    mkdir -p "$T/$name"
    timeout 60 gtlsclient -q --exit-on-all-streams-close --handshake-timeout=5s \
        --timeout=6s --delay-stream="$delay" --download="$T/$name" "$@" \
        127.0.0.1 "$P" "https://127.0.0.1:$P$path" >"$T/$name.out" 2>&1 &
    CLIENTS="$CLIENTS $!"
}
CLIENTS=
# clients_wait: until every client started ends (each bounded by timeout).
clients_wait() {
    local c
    for c in $CLIENTS; do wait "$c"; done
    CLIENTS=
}
# body NAME: what the connection's request got ("" if nothing).
body() { cat "$T/$1/"* 2>/dev/null | head -n1; }

P=$(free_port_udp)
start_handoff -l q=udp:127.0.0.1:$P --flows quic --pass systemd --ready notify \
    --drain-delay 300ms --control "$T/ctl.sock" -- "$QUICGEN" \
    --cert "$T/cert.pem" --key "$T/key.pem"
wait_log 'event=promote gen=1 '
client first 0s /
for _ in $(seq 200); do [ -n "$(body first)" ] && break; sleep 0.05; done
case "$(body first)" in "gen=1 "*cookie=*) ;; *) fail "gen 1 does not answer: $(body first)" ;; esac
ok "gen 1 answers: $(body first)"

# Each round: 10 connections handshake with gen G, then G+1 is promoted,
# then (2 s after their handshake) they send their requests. A round ends
# with its connections: at most one old generation drains at a time, and
# a roll kills the one before (drain_cap), connections and all.
broken=0 wrong=0
for g in 1 2 3 4 5; do
    for i in $(seq 10); do client "r$g.$i" 2s /; done
    sleep 0.5 # their handshakes are done well before
    kill -USR2 "$HPID"
    wait_log "event=promote gen=$((g + 1)) " 1 30
    clients_wait
    for i in $(seq 10); do
        b=$(body "r$g.$i")
        case "$b" in
        "gen=$g "*) ;;
        "") broken=$((broken + 1)) ;;
        *) wrong=$((wrong + 1)); echo "r$g.$i began on gen $g, answered: $b" ;;
        esac
    done
done
echo "50 connections across 5 rolls: broken=$broken on_another_gen=$wrong"
[ "$broken" -eq 0 ] && [ "$wrong" -eq 0 ] ||
    fail "$broken of 50 connections broken, $wrong answered by another generation"
ok "50 connections across 5 rolls: each answered by the generation it began on"
client fresh 0s /
clients_wait
case "$(body fresh)" in "gen=6 "*) ok "a new connection: gen 6" ;; *) fail "a new connection got: $(body fresh)" ;; esac

# handoff upgrades itself between a roll and the requests: the cookies
# are carried, the 10 connections begun on gen 6 are answered by it.
for i in $(seq 10); do client "u.$i" 2s /; done
sleep 0.5
kill -USR2 "$HPID"
wait_log 'event=promote gen=7 ' 1 30
"$HANDOFF" upgrade --control "$T/ctl.sock" >"$T/upgrade.out" 2>&1 ||
    fail "handoff upgrade: $(cat "$T/upgrade.out")"
clients_wait
n=0
for i in $(seq 10); do case "$(body "u.$i")" in "gen=6 "*) n=$((n + 1)) ;; esac; done
[ "$n" -eq 10 ] || fail "after handoff upgrade, $n of 10 connections answered by gen 6"
ok "handoff upgrade between a roll and the requests: 10 of 10 answered by gen 6"

# A connection held by gen 6 past its drain_timeout ends; one on gen 7
# begun beside it is answered.
stop_handoff
P=$(free_port_udp)
start_handoff -l q=udp:127.0.0.1:$P --flows quic --pass systemd --ready notify \
    --drain-delay 300ms --drain-timeout 2s -- "$QUICGEN" --cert "$T/cert.pem" \
    --key "$T/key.pem" --drain-timeout 60
wait_log 'event=promote gen=1 '
client held 4s /
sleep 1
kill -USR2 "$HPID"
wait_log 'event=promote gen=2 ' 1 30
client beside 3s /
wait_log 'event=kill gen=1 ' 1 30
clients_wait
[ -z "$(body held)" ] || fail "the connection of the killed generation was answered: $(body held)"
case "$(body beside)" in "gen=2 "*) ;; *) fail "the connection on gen 2 got: $(body beside)" ;; esac
ok "the killed generation's connection ended; gen 2's beside it was answered"
stop_handoff

# The same round without flows = quic: the request after the promotion
# reaches gen 2, which does not know the connection.
P=$(free_port_udp)
start_handoff -l q=udp:127.0.0.1:$P --pass systemd --ready notify \
    --drain-delay 300ms -- "$QUICGEN" --cert "$T/cert.pem" --key "$T/key.pem"
wait_log 'event=promote gen=1 '
client plain 3s /
sleep 1
kill -USR2 "$HPID"
wait_log 'event=promote gen=2 ' 1 30
clients_wait
[ -z "$(body plain)" ] || fail "without flows = quic the connection was answered: $(body plain)"
ok "without flows = quic, the same connection gets no answer"
stop_handoff
