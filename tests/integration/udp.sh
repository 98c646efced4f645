#!/usr/bin/env bash
# udp.sh: a steered UDP listener as its clients see it, with udpgen.py
# (answers with its generation) and udpclients.py (load from many source
# addresses): a sticky 10% canary over 2,000 addresses; a backlog queued
# on the old socket at promotion, answered by it and nothing after; three
# generations at once, none misrouted; a warming DNS server's SERVFAILs,
# steered and shared; handoff upgrade under load; the receive metrics.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3 dnsperf
GEN_PY="$TOP_SRCDIR/tests/servers/udpgen.py"
CLI_PY="$TOP_SRCDIR/tests/servers/udpclients.py"
CTL="$T/ctl"
# Every server's receive buffer holds seconds of these loads: a stall of
# a busy machine must not drop datagrams the checks count.
BUF=4194304
CPIDS=
trap 'for c in $CPIDS; do kill "$c" 2>/dev/null; done; cleanup' EXIT

# gen.sh ARGS1 ARGS2 ...: udpgen with the Nth word list for generation N
# (the last one for later generations); a list that begins "--gate FILE"
# waits for FILE (at most 60 s) before it starts the server.
cat >"$T/gen.sh" <<SH
#!/bin/sh
g=\${HANDOFF_GENERATION:-1} i=1 a=
for x in "\$@"; do a=\$x; [ \$i -ge "\$g" ] && break; i=\$((i + 1)); done
set -- \$a
if [ "\${1:-}" = --gate ]; then
    n=0
    while [ ! -e "\$2" ] && [ \$n -lt 1200 ]; do sleep 0.05; n=\$((n + 1)); done
    shift 2
fi
exec python3 "$GEN_PY" "\$@"
SH

# start ARGS... -- GEN.SH-ARGS...: handoff (systemd fds, a control socket)
# with the UDP listener u on 127.0.0.1:$P, generation 1 promoted.
start() {
    local hargs=()
    while [ "$1" != -- ]; do
        hargs+=("$1")
        shift
    done
    shift
    start_handoff --pass systemd --control "$CTL" -l "u=udp:127.0.0.1:$P" \
        "${hargs[@]}" -- sh "$T/gen.sh" "$@"
    wait_log 'event=promote gen=1 ' 1 30
    grep -q "event=listen name=u address=udp:127.0.0.1:$P traffic=${HANDOFF_TRAFFIC:-steered}" "$LOG" ||
        fail "the UDP listener is not ${HANDOFF_TRAFFIC:-steered}: $(grep 'event=listen' "$LOG")"
}

# run NAME ARGS...: udpclients.py to 127.0.0.1:$P in the foreground, its
# JSON in $T/NAME.
run() {
    local n=$1
    shift
    timeout 120 python3 "$CLI_PY" --target "127.0.0.1:$P" "$@" >"$T/$n" 2>"$T/$n.err" ||
        fail "udpclients.py $*: exit $?: $(cat "$T/$n.err")"
}
# bg NAME ARGS...: udpclients.py in the background until bg_stop NAME (at
# most 120 s), logging each answer in $T/NAME.log.
bg() {
    local n=$1
    shift
    rm -f "$T/$n.stop"
    : >"$T/$n.log"
    python3 "$CLI_PY" --target "127.0.0.1:$P" --until-file "$T/$n.stop" --duration 120 \
        --log "$T/$n.log" "$@" >"$T/$n" 2>"$T/$n.err" &
    eval "PID_$n=$!"
    CPIDS="$CPIDS $!"
}
# bg_lines NAME N: until NAME's log has N answers more than it has now
# (60 s at most).
bg_lines() {
    local want=$(($(wc -l <"$T/$1.log") + $2)) i
    for i in $(seq 1200); do
        [ "$(wc -l <"$T/$1.log")" -ge "$want" ] && return 0
        sleep 0.05
    done
    fail "$1: not $2 answers more in 60 s: $(wc -l <"$T/$1.log") lines"
}
bg_stop() {
    local p
    eval "p=\$PID_$1"
    touch "$T/$1.stop"
    wait "$p" || fail "udpclients.py ($1): exit $?: $(cat "$T/$1.err")"
}
# j NAME EXPR: EXPR (python, d the JSON object) of $T/NAME.
j() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/$1" "$2"
}
# mono EVENT_PATTERN: the mono_us of the first log line matching it.
mono() {
    local v
    v=$(grep -E -- "$1" "$LOG" | head -n1 | sed -n 's/.* mono_us=\([0-9]*\).*/\1/p')
    [ -n "$v" ] || fail "no mono_us on a line /$1/"
    echo "$v"
}
# switch LOG A B: in LOG, "n_A n_B last_seq_A first_seq_B" (answers by
# generations A and B, the last request A answered and the first B did).
switch() {
    awk -v a="$2" -v b="$3" '$3 == a { na++; if ($4 > la) la = $4 }
        $3 == b { nb++; if (fb == "" || $4 < fb) fb = $4 }
        END { print na + 0, nb + 0, la + 0, (fb == "" ? -1 : fb) }' "$1"
}
# metric NAME GEN: the value of handoff_listener_NAME for listener u and
# generation GEN, or "none".
metric() {
    "$HANDOFF" metrics --control "$CTL" 2>&1 |
        awk -v m="handoff_listener_$1{listener=\"u\",generation=\"$2\"}" '$1 == m { print $2; f = 1 } END { if (!f) print "none" }'
}

# 1. canary 10%: 2,000 source addresses at 2,000/s while it holds: 5-15%
# of them answered by generation 2, none by both, none lost; after
# handoff promote, every one by generation 2.
P=$(free_port_udp)
start --canary 10%/60s -- "--rcvbuf $BUF"
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 &
ROLL=$!
wait_log 'event=canary gen=2 old=1 step=1/1 share_bps=1000 ' 1 30
bg c1 --sources 2000 --rate 2000 --timeout 5000
bg_lines c1 6000 # every address three times
bg_stop c1
echo "canary: $(cat "$T/c1")"
[ "$(count 'event=promote gen=2 ')" -eq 0 ] || fail "the canary ended while the clients ran"
read -r n in2 multi lost sent < <(j c1 'd["sources_answered"], d["sources_by_gen"].get("2", 0), d["sources_multi"], d["lost"], d["sent"]' | tr -d '(),')
[ "$n" -eq 2000 ] || fail "canary: $n of 2000 addresses answered"
[ "$lost" -eq 0 ] || fail "canary: $lost of $sent lost"
[ "$multi" -eq 0 ] || fail "canary: $multi addresses answered by both generations"
[ "$in2" -ge 100 ] && [ "$in2" -le 300 ] || fail "canary 10%: $in2 of 2000 addresses on generation 2, not 5-15%"
"$HANDOFF" promote --control "$CTL" | grep -q 'promoted gen=2' || fail "handoff promote"
wait "$ROLL"
run c1b --sources 2000 --rate 2000 --count 4000 --timeout 5000
echo "after promote: $(cat "$T/c1b")"
[ "$(j c1b 'd["answered"], d["lost"], d["sources_by_gen"], d["sources_multi"]')" = "(4000, 0, {'2': 2000}, 0)" ] ||
    fail "after handoff promote: not all 2000 addresses on generation 2: $(cat "$T/c1b")"
ok "canary 10%: $in2 of 2000 addresses on generation 2, 0 on both, 0 of $sent lost; after handoff promote all 2000 on it"
stop_handoff

# 2. A backlog on generation 1's socket at promotion (a burst of 2,000 to
# a reader taking 2 ms each): every datagram answered, by generation 1 if
# sent before the swap, by 2 if after (one switch point in send order);
# generation 1 drained only once it answered its last; the queue in the
# metrics at promotion.
P=$(free_port_udp)
start -- "--delay-ms 2 --rcvbuf $BUF" "--gate $T/gate2 --rcvbuf $BUF"
bg c2 --sources 100 --rate 100 --timeout 20000
bg_lines c2 50
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 &
ROLL=$!
wait_log 'event=spawn gen=2 '
run burst --net 2 --sources 1 --burst 2000 --count 2000 --rate 1000000 --timeout 20000 \
    --log "$T/burst.log" &
BURST=$!
CPIDS="$CPIDS $!"
for _ in $(seq 400); do [ -s "$T/burst.log" ] && break; sleep 0.05; done
[ -s "$T/burst.log" ] || fail "no answer to the burst in 20 s"
touch "$T/gate2" # the burst is all sent: its first answer came
wait_log 'event=promote gen=2 ' 1 30
q=$(metric receive_queue_bytes 1)
wait "$ROLL" || fail "the roll failed: $(cat "$T/roll")"
wait "$BURST" || fail "the burst's client failed"
wait_log 'event=gone gen=1 ' 1 60
bg_lines c2 100
bg_stop c2
echo "steady: $(cat "$T/c2")"
echo "burst: $(cat "$T/burst")"
promo=$(mono 'event=promote gen=2 ')
drain=$(mono 'event=drain gen=1 ')
queued=$(sed -n 's/.*event=retire gen=1 queued=\([0-9]*\).*/\1/p' "$LOG")
after=$(awk -v t="$promo" '$1 * 1000 > t && $3 == 1' "$T/burst.log" | wc -l)
last1=$(cat "$T/c2.log" "$T/burst.log" | awk '$3 == 1 && $1 > m { m = $1 } END { printf "%.0f", m * 1000 }')
# Answers of gen 1 the clients read after its drain signal: once its queue
# is empty it holds one datagram at most (one reader, 2 ms each), but a
# client stalled on a busy machine reads a few answers late; an early
# drain leaves hundreds behind.
late1=$(cat "$T/c2.log" "$T/burst.log" | awk -v t="$drain" '$3 == 1 && $1 * 1000 > t' | wc -l)
read -r n1 n2 la fb < <(switch "$T/c2.log" 1 2)
echo "promotion at $promo us: $after of the burst answered by gen 1 after it; queue $q bytes (metrics), retire queued=$queued; gen 1's last answer at $last1 us, its drain at $drain us; steady: gen 1 to seq $la, gen 2 from $fb"
[ "$(j burst 'd["sent"], d["answered"], d["lost"], d["by_gen"]')" = "(2000, 2000, 0, {'1': 2000})" ] ||
    fail "backlog: the burst sent before the promotion not all answered by gen 1: $(cat "$T/burst")"
[ "$(j c2 'd["answered"] == d["sent"], d["lost"], sorted(d["by_gen"])')" = "(True, 0, ['1', '2'])" ] ||
    fail "backlog: the steady clients not all answered by 1 then 2: $(cat "$T/c2")"
[ "$after" -ge 500 ] || fail "backlog: only $after datagrams of the burst were answered after the promotion, not 500"
[ "$la" -lt "$fb" ] || fail "backlog: gen 1 answered request $la, sent after gen 2's first ($fb): a datagram after the swap reached gen 1"
[ "$q" != none ] && [ "$q" -gt 0 ] || fail "backlog: handoff_listener_receive_queue_bytes of gen 1 at promotion: $q"
[ "${queued:-0}" -gt 0 ] || fail "backlog: retire gen=1 queued=$queued"
[ "$late1" -le 25 ] || fail "backlog: gen 1 drained at $drain us with datagrams still queued: $late1 answers by it after, the last at $last1 us"
ok "backlog: $after datagrams queued on gen 1 at promotion ($q bytes) answered by it, all $(j burst 'd["sent"]') + $(j c2 'd["sent"]') answered, 0 lost; gen 1 to seq $la, gen 2 from $fb; drain signal after its queue emptied ($late1 answers read after it, the last $(((last1 - drain) / 1000)) ms after)"
stop_handoff

# 3. Three generations at once: 1 superseded but not drained (a
# drain_delay of 15 s; a stop waits for it, see below), 2 active, 3 starting (DNS probes it, it reads
# only after 3 s): the clients meanwhile
# answered by 2 only; 3 promoted only once it answers (its probes reach it
# alone), then every datagram sent after it by 3.
P=$(free_port_udp)
start --drain-delay 15s --ready "dns:127.0.0.1:$P" --ready-interval 100ms \
    -- "--dns --rcvbuf $BUF" "--dns --rcvbuf $BUF" "--dns --slow-start 3 --rcvbuf $BUF"
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 || fail "roll to 2: $(cat "$T/roll")"
wait_log 'event=promote gen=2 '
bg c3 --dns --sources 500 --rate 1000 --timeout 5000
bg_lines c3 200
"$HANDOFF" roll --control "$CTL" >"$T/roll3" 2>&1 || fail "roll to 3: $(cat "$T/roll3")"
bg_lines c3 500
bg_stop c3
echo "three generations: $(cat "$T/c3")"
spawn3=$(grep -E 'event=spawn gen=3 ' "$LOG" | head -n1)
ready_ms=$(sed -n 's/.*event=ready gen=3 .*ready_ms=\([0-9]*\).*/\1/p' "$LOG")
promo=$(mono 'event=promote gen=3 ')
before=$(awk -v t="$promo" '$1 * 1000 < t { print $3 }' "$T/c3.log" | sort | uniq -c | tr -s ' \n' ' ')
read -r n2 n3 la fb < <(switch "$T/c3.log" 2 3)
echo "gen 3 ready after ${ready_ms} ms; answers before its promotion by generation: $before; gen 2 to seq $la, gen 3 from $fb"
[ -n "$spawn3" ] || fail "gen 3 never started"
[ "$(grep -n 'event=drain gen=1 ' "$LOG" | cut -d: -f1)" -gt "$(grep -n 'event=spawn gen=3 ' "$LOG" | cut -d: -f1)" ] ||
    fail "gen 1 was drained before gen 3 started: not three generations at once"
[ "${ready_ms:-0}" -ge 3000 ] || fail "gen 3 ready after ${ready_ms} ms, before it read (3 s): a probe was answered by another generation"
[ "$(j c3 'd["answered"] == d["sent"], d["lost"]')" = "(True, 0)" ] || fail "three generations: not all answered: $(cat "$T/c3")"
[ "$(awk -v t="$promo" '$1 * 1000 < t && $3 != 2' "$T/c3.log" | wc -l)" -eq 0 ] ||
    fail "three generations: answers before gen 3's promotion not all by gen 2: $before"
[ "$(awk -v t="$promo" '$1 * 1000 < t' "$T/c3.log" | wc -l)" -ge 500 ] ||
    fail "three generations: fewer than 500 answers while gen 3 started"
[ "$(j c3 'sorted(d["by_gen"])')" = "['2', '3']" ] || fail "three generations: answered by $(j c3 'd["by_gen"]'), not 2 then 3"
[ "$la" -lt "$fb" ] || fail "three generations: gen 2 answered request $la, sent after gen 3's first ($fb)"
ok "three generations: $(j c3 'd["sent"]') datagrams, 0 lost, $n2 by gen 2 (none by 1 or 3 before gen 3's promotion), gen 3 ready only once it read (${ready_ms} ms), then every later datagram by 3"
# This stop takes up to drain_delay: a superseded generation gets its
# drain signal only when its drain_delay ends, not at the stop (TCP the
# same), although handoff(8) says every worker receives it at a stop.
stop_handoff

# 4. A DNS server answering SERVFAIL for its first second, rolled under
# dnsperf at 3,000 queries/s, readiness 3 s after start: steered, the new
# generation gets no query before it is ready, so no SERVFAIL; shared, it
# reads the common socket from its start.
servfail() {
    local i
    P=$(free_port_udp)
    start --ready delay:3s -- "--dns --warm 1 --rcvbuf $BUF"
    # lib.sh's dnsperf_start, its output line-buffered: "Started at" shows
    # it sends.
    for i in $(seq 1000); do echo "www.example A"; done >"$T/queries"
    stdbuf -oL dnsperf -s 127.0.0.1 -p "$P" -d "$T/queries" -Q 3000 -l 600 -t 2 \
        >"$T/dnsperf.out" 2>&1 &
    DNSPID=$!
    CPIDS="$CPIDS $DNSPID"
    for i in $(seq 400); do grep -q 'Started at' "$T/dnsperf.out" && break; sleep 0.05; done
    grep -q 'Started at' "$T/dnsperf.out" || fail "$1: dnsperf did not start in 20 s: $(cat "$T/dnsperf.out")"
    "$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 || fail "$1: the roll failed: $(cat "$T/roll")"
    # Steered, until generation 1 is gone (0 lost across its drain too);
    # shared, until it got its drain signal: its udpgen reads on while the
    # common socket never empties under dnsperf, until drain_timeout.
    if [ "$1" = steered ]; then
        wait_log 'event=gone gen=1 ' 1 30
    else
        wait_log 'event=drain gen=1 ' 1 30
    fi
    dnsperf_stop
    SF=$(sed -n 's/^ *Response codes:.*SERVFAIL \([0-9]*\).*/\1/p' "$T/dnsperf.out")
    SF=${SF:-0}
    echo "$1: dnsperf sent=$SENT completed=$COMPLETED lost=$LOST noerror=$NOERROR servfail=$SF"
    [ "$LOST" -eq 0 ] || fail "$1: $LOST of $SENT queries lost"
    stop_handoff
}
servfail steered
[ "$SF" -eq 0 ] || fail "steered: $SF SERVFAIL from the warming generation"
steered_sf=$SF
HANDOFF_TRAFFIC=shared servfail shared
[ "$SF" -gt 0 ] || fail "shared: no SERVFAIL: the new generation did not read the common socket while it warmed"
ok "a warming DNS server rolled under dnsperf: $steered_sf SERVFAIL steered, $SF shared"

# 5. handoff upgrade twice under 2,000 datagrams/s: none lost, all by
# generation 1; then a roll moves every address to 2 at one point of the
# send order (steered still).
BUILD=$(dirname "$HANDOFF")
NEXT="$BUILD/tests/upgrade/handoff-next"
[ -x "$NEXT" ] || make -C "$BUILD" -s tests/upgrade/handoff-next >/dev/null 2>&1 ||
    fail "cannot build $NEXT"
P=$(free_port_udp)
start --ready delay:1s -- "--rcvbuf $BUF"
bg c5 --sources 500 --rate 2000 --timeout 5000
bg_lines c5 1000
for bin in "$NEXT" "$(readlink -f "$HANDOFF")"; do
    out=$(timeout 60 "$HANDOFF" upgrade --control "$CTL" --binary "$bin" 2>&1) || fail "upgrade to $bin: $out"
    case $out in "upgraded pid=$HPID "*) ;; *) fail "upgrade to $bin: $out" ;; esac
    bg_lines c5 1000
done
bg_stop c5
echo "upgrades: $(cat "$T/c5")"
[ "$(j c5 'd["answered"] == d["sent"], d["lost"], d["by_gen"].keys() == {"1"}')" = "(True, 0, True)" ] ||
    fail "across two upgrades: $(cat "$T/c5")"
bg c5b --sources 500 --rate 2000 --timeout 5000
bg_lines c5b 500
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 || fail "roll after the upgrades: $(cat "$T/roll")"
bg_lines c5b 2000
bg_stop c5b
read -r n1 n2 la fb < <(switch "$T/c5b.log" 1 2)
echo "roll after the upgrades: $(cat "$T/c5b"); gen 1 to seq $la, gen 2 from $fb"
[ "$(j c5b 'd["answered"] == d["sent"], d["lost"], d["sources_by_gen"].get("2")')" = "(True, 0, 500)" ] ||
    fail "the roll after the upgrades: not every address on gen 2: $(cat "$T/c5b")"
[ "$la" -lt "$fb" ] || fail "the roll after the upgrades: gen 1 answered request $la, after gen 2's first ($fb): not steered"
ok "two upgrades under 2,000/s: $(j c5 'd["sent"]') datagrams, 0 lost, all by gen 1; a roll after them: all 500 addresses on gen 2 from request $fb on"
stop_handoff

# 6. The receive metrics: a generation promoted that does not read yet;
# a burst of 1,000 (its default buffer holds ~256): its queue bytes and
# drops grow; the superseded generation's samples are there too (a
# drain_delay of 5 s keeps it).
P=$(free_port_udp)
start --drain-delay 5s --ready delay:100ms -- "" "--slow-start 30"
"$HANDOFF" roll --control "$CTL" >"$T/roll" 2>&1 || fail "roll: $(cat "$T/roll")"
wait_log 'event=promote gen=2 '
run c6 --sources 1 --burst 1000 --count 1000 --rate 1000000 --timeout 500
echo "burst to a generation that does not read: $(cat "$T/c6")"
q2=$(metric receive_queue_bytes 2)
d2=$(metric receive_drops_total 2)
q1=$(metric receive_queue_bytes 1)
d1=$(metric receive_drops_total 1)
echo "metrics: gen 2 queue=$q2 drops=$d2; gen 1 queue=$q1 drops=$d1"
[ "$(j c6 'd["answered"]')" -eq 0 ] || fail "the generation that does not read answered: $(cat "$T/c6")"
[ "$q2" != none ] && [ "$q2" -gt 0 ] || fail "receive_queue_bytes of gen 2: $q2"
[ "$d2" != none ] && [ "$d2" -gt 0 ] || fail "receive_drops_total of gen 2: $d2"
[ "$q1" = 0 ] && [ "$d1" = 0 ] || fail "gen 1's samples: queue=$q1 drops=$d1, not 0 and 0"
ok "metrics: gen 2 not reading, after a burst of 1000: queue $q2 bytes, $d2 drops; gen 1 (superseded) 0 and 0"
stop_handoff
