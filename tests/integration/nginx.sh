# nginx.sh: stock nginx rolled by handoff, measured against nginx -s reload and against nginx alone.
. "$TOP_SRCDIR/tests/integration/lib.sh"
# nginx lives in /usr/sbin, which a non-root PATH often lacks.
PATH=$PATH:/usr/sbin:/sbin
need nginx wrk curl python3
NGINX=$(command -v nginx)

NGPID=  # nginx alone (its own master, not under handoff)
WRKPID=


# stop_nginx_alone: graceful first; then kill the master and its workers by
# pid, since workers outlive a killed master.
stop_nginx_alone() {
    local i kids
    [ -n "$NGPID" ] || return 0
    kill -QUIT "$NGPID" 2>/dev/null
    for i in $(seq 50); do kill -0 "$NGPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$NGPID" 2>/dev/null; then
        kids=$(pgrep -P "$NGPID")
        kill -KILL "$NGPID" $kids 2>/dev/null
    fi
    wait "$NGPID" 2>/dev/null
    NGPID=
}

# lib.sh's trap stops handoff and removes $T: run it last, after what only
# this script starts.
nginx_cleanup() {
    [ -n "$WRKPID" ] && kill "$WRKPID" 2>/dev/null
    stop_nginx_alone
    cleanup
}
trap nginx_cleanup EXIT

# wait_http PORT: until nginx answers (bounded).
wait_http() {
    local i
    for i in $(seq 100); do
        curl -sf --max-time 1 "http://127.0.0.1:$1/" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "nothing answers on port $1"
}

# at SECONDS: sleep until SECONDS after $T0 (set by the caller), so actions
# keep their schedule whatever each one costs.
at() {
    local d
    d=$(awk -v t0="$T0" -v s="$1" -v now="$EPOCHREALTIME" 'BEGIN { d = t0 + s - now; print (d > 0 ? d : 0) }')
    sleep "$d"
}

# wrk_end PID TAIL WHAT: wrk runs for as long as the rolls take (its -d is
# only a bound), then TAIL seconds more, and is ended with SIGINT, on which
# it prints its report: a loaded machine makes the rolls slower, not the
# test wrong.
wrk_end() {
    sleep "$2"
    kill -0 "$1" 2>/dev/null || fail "wrk ended before $3: the rolls were not all under load"
    kill -INT "$1"
    wait "$1"
}

# wrk_errors FILE: sets CONNECT READ WRITE TIMEOUT NON2XX REQS RPS (an
# absent line counts 0).
wrk_errors() {
    local line
    line=$(grep 'Socket errors:' "$1")
    CONNECT=$(echo "$line" | sed -n 's/.*connect \([0-9]*\).*/\1/p')
    READ=$(echo "$line" | sed -n 's/.*read \([0-9]*\).*/\1/p')
    WRITE=$(echo "$line" | sed -n 's/.*write \([0-9]*\).*/\1/p')
    TIMEOUT=$(echo "$line" | sed -n 's/.*timeout \([0-9]*\).*/\1/p')
    NON2XX=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1")
    REQS=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$1")
    RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1")
    CONNECT=${CONNECT:-0} READ=${READ:-0} WRITE=${WRITE:-0} TIMEOUT=${TIMEOUT:-0}
    NON2XX=${NON2XX:-0} REQS=${REQS:-0} RPS=${RPS:-0}
}

# --- 1. 20 rolls, one request per connection ------------------------------
# A roll every 0.45 s from t=1 s (later on a loaded machine), then 2 s more.
PORT=$(free_port)
ngx_conf "$T/roll" "$PORT"
start_handoff -l "127.0.0.1:$PORT" --drain-signal QUIT -- \
    "$NGINX" -p "$T/roll" -c "$T/roll/nginx.conf" -g 'daemon off;'
wait_log 'event=promote ' 1
wait_http "$PORT"
wrk -t2 -c32 -d300s -H 'Connection: close' "http://127.0.0.1:$PORT/" >"$T/wrk.roll" 2>&1 &
WRKPID=$!
T0=$EPOCHREALTIME
for i in $(seq 2 21); do
    at "$(awk -v i="$i" 'BEGIN { print 1 + 0.45 * (i - 1) }')"
    roll_and_wait "$i"
done
wrk_end "$WRKPID" 2 "the 20th roll"
WRKPID=
wrk_errors "$T/wrk.roll"
grep -q 'Socket errors' "$T/wrk.roll" && { cat "$T/wrk.roll"; fail "socket errors during 20 rolls"; }
grep -q 'Non-2xx' "$T/wrk.roll" && { cat "$T/wrk.roll"; fail "non-2xx responses during 20 rolls"; }
[ "$REQS" -gt 0 ] || { cat "$T/wrk.roll"; fail "wrk made no request"; }
[ "$(count 'event=promote ')" -eq 21 ] || fail "$(count 'event=promote ') promotions, expected 21"
ok "nginx, 20 rolls under wrk -c32 with Connection: close: $REQS requests, no socket error, no non-2xx, 21 promotions"
stop_handoff

# --- 2. keep-alive: nginx -s reload vs a handoff roll ----------------------
# nginx alone and nginx under handoff both run from here on (an idle one
# costs nothing); each is measured while the other has no load.
APORT=$(free_port)
ngx_conf "$T/alone" "$APORT"
"$NGINX" -p "$T/alone" -c "$T/alone/nginx.conf" -g 'daemon off;' >"$T/alone/out" 2>&1 &
NGPID=$!
wait_http "$APORT"

HPORT=$(free_port)
ngx_conf "$T/ho" "$HPORT"
start_handoff -l "127.0.0.1:$HPORT" --drain-signal QUIT -- \
    "$NGINX" -p "$T/ho" -c "$T/ho/nginx.conf" -g 'daemon off;'
wait_log 'event=promote ' 1
wait_http "$HPORT"

KA_CONNS=50
KA_RELOADS=5
KA_SECS=6
KA_EVERY=$(awk -v d="$KA_SECS" -v n="$KA_RELOADS" 'BEGIN { print d / (n + 1) }')
KA_CEILING=$((KA_CONNS * KA_RELOADS))

nginx_reload() {
    "$NGINX" -p "$T/alone" -c "$T/alone/nginx.conf" -s reload 2>>"$T/alone/out" ||
        fail "nginx -s reload failed: $(tail -n 3 "$T/alone/out")"
}
handoff_roll() { roll_and_wait $(($(count 'event=promote ') + 1)); }

# keepalive_run PORT OUT ACTION: wrk keep-alive on PORT for about KA_SECS, ACTION
# run KA_RELOADS times evenly spaced; leaves the counts in the wrk_errors vars.
keepalive_run() {
    local port=$1 out=$2 action=$3 k
    wrk -t2 -c$KA_CONNS -d300s "http://127.0.0.1:$port/" >"$out" 2>&1 &
    WRKPID=$!
    T0=$EPOCHREALTIME
    for k in $(seq "$KA_RELOADS"); do
        at "$(awk -v k="$k" -v e="$KA_EVERY" 'BEGIN { print k * e }')"
        $action
    done
    wrk_end "$WRKPID" "$KA_EVERY" "the last reload"
    WRKPID=
    wrk_errors "$out"
}

# keepalive_compare LABEL: one run against nginx -s reload, one against
# handoff rolls; prints both breakdowns; sets R_RW and H_RW (read + write).
keepalive_compare() {
    local fmt='%-34s %9s %8s %6s %6s %8s %8s\n' promotes
    promotes=$(count 'event=promote ')
    keepalive_run "$APORT" "$T/wrk.ka.reload" nginx_reload
    R_CONNECT=$CONNECT R_READ=$READ R_WRITE=$WRITE R_TIMEOUT=$TIMEOUT R_NON2XX=$NON2XX R_REQS=$REQS
    keepalive_run "$HPORT" "$T/wrk.ka.handoff" handoff_roll
    H_CONNECT=$CONNECT H_READ=$READ H_WRITE=$WRITE H_TIMEOUT=$TIMEOUT H_NON2XX=$NON2XX H_REQS=$REQS
    [ "$(count 'event=promote ')" -eq $((promotes + KA_RELOADS)) ] || fail "$1: not every roll was promoted"
    printf "$fmt" "$1" requests connect read write timeout non-2xx
    printf "$fmt" "  nginx -s reload x$KA_RELOADS" "$R_REQS" "$R_CONNECT" "$R_READ" "$R_WRITE" "$R_TIMEOUT" "$R_NON2XX"
    printf "$fmt" "  handoff roll x$KA_RELOADS" "$H_REQS" "$H_CONNECT" "$H_READ" "$H_WRITE" "$H_TIMEOUT" "$H_NON2XX"
    [ "$H_CONNECT" -eq 0 ] || fail "$1: handoff: $H_CONNECT connect errors"
    [ "$H_NON2XX" -eq 0 ] || fail "$1: handoff: $H_NON2XX non-2xx responses"
    [ "$H_TIMEOUT" -eq 0 ] || fail "$1: handoff: $H_TIMEOUT timeouts"
    R_RW=$((R_READ + R_WRITE)) H_RW=$((H_READ + H_WRITE))
}

# (a) keepalive_requests unlimited, so that no connection is renewed during
# a run: what is left is the idle keep-alive race alone. On SIGQUIT an nginx
# worker closes its idle keep-alive connections, and a client that has just
# sent its next request on one reads EOF or RST: one read error per
# connection per reload, under nginx -s reload and under a roll alike. In
# 16 runs of 50 connections x 5 reloads both counted exactly 250 every
# time; the slack of one request per reload only absorbs a connection that
# nginx happens to catch between two requests.
ngx_conf "$T/alone" "$APORT" 'keepalive_requests 1000000000;'
ngx_conf "$T/ho" "$HPORT" 'keepalive_requests 1000000000;'
nginx_reload
handoff_roll
sleep 0.5  # nginx lets new workers start for 100 ms before draining the old
keepalive_compare "keep-alive, no renewal"
[ "$H_RW" -le $((R_RW + KA_RELOADS)) ] ||
    fail "handoff: $H_RW read+write errors, nginx -s reload: $R_RW"
[ "$H_RW" -le "$KA_CEILING" ] || fail "handoff: $H_RW read+write errors: more than one per connection per roll"
ok "keep-alive, no renewal: handoff $H_RW read+write errors, nginx -s reload $R_RW (one per connection per reload: $KA_CEILING)"

# (b) the stock configuration: nginx renews a connection every 1000
# requests (keepalive_requests), here every few hundred ms. nginx -s reload
# keeps old and new workers accepting together for 100 ms (ngx_msleep(100)
# before it signals the old ones), so a connection renewed in that window
# may land on a new worker and escape the race; handoff drains the old
# generation as soon as the new one is ready (about 15 ms), so nearly
# none escapes. Measured (50 x 5): reload 220-264, handoff 250 in most
# runs; with handoff's --ready delay:120ms (an overlap like nginx's) the two
# matched. A connection renewed while an old worker has its stop signal
# queued but not yet read can be caught once more: under ASan (a slower
# master, so a longer window) handoff counted 272 once. So the gap is
# printed, and the bound is the race's own with a fifth more for renewals
# caught in that window; a lost or reset queue would cost thousands, and
# connect errors, which fail above in any case.
ngx_conf "$T/alone" "$APORT"
ngx_conf "$T/ho" "$HPORT"
nginx_reload
handoff_roll
sleep 0.5
keepalive_compare "keep-alive, stock config"
echo "  handoff - reload: $((H_RW - R_RW)) read+write errors"
bound=$((R_RW > KA_CEILING ? R_RW : KA_CEILING))
bound=$((bound + KA_CEILING / 5))
[ "$H_RW" -le "$bound" ] || fail "handoff: $H_RW read+write errors, above $bound (nginx -s reload's $R_RW or one per connection per roll, and a fifth more)"
ok "keep-alive, stock config: handoff $H_RW read+write errors, nginx -s reload $R_RW (one per connection per roll: $KA_CEILING; bound $bound)"

# --- 3. throughput: nginx alone vs under handoff --------------------------
TP_ROUNDS=6

# throughput_rounds: alternating 1 s rounds, short so that both sides share
# the same moments of a busy machine; sets RATIO (of the medians).
throughput_rounds() {
    local r a h
    : >"$T/rps.alone"
    : >"$T/rps.ho"
    for r in $(seq "$TP_ROUNDS"); do
        wrk -t2 -c32 -d1s "http://127.0.0.1:$APORT/" >"$T/wrk.tp" 2>&1 || fail "wrk failed: $(cat "$T/wrk.tp")"
        wrk_errors "$T/wrk.tp"
        a=$RPS
        wrk -t2 -c32 -d1s "http://127.0.0.1:$HPORT/" >"$T/wrk.tp" 2>&1 || fail "wrk failed: $(cat "$T/wrk.tp")"
        wrk_errors "$T/wrk.tp"
        h=$RPS
        echo "$a" >>"$T/rps.alone"
        echo "$h" >>"$T/rps.ho"
        printf 'round %2d: alone %7.0f req/s, handoff %7.0f req/s\n' "$r" "$a" "$h"
    done
    set -- $(python3 - "$T/rps.alone" "$T/rps.ho" <<'PY'
import statistics, sys
a, h = (statistics.median(float(x) for x in open(f)) for f in sys.argv[1:3])
print(f"{h / a:.3f} {a:.0f} {h:.0f}")
PY
    )
    RATIO=$1
    echo "throughput medians: alone $2 req/s, handoff $3 req/s, ratio $RATIO"
}

# Only a gross regression should fail here; the figure itself belongs to a
# benchmark. Measured ratios: 0.96-1.34 on a quiet machine (2 cores shared
# with wrk), 0.76-1.05 while another benchmark ran beside it (load 6-9).
# One measurement below 0.85 is therefore taken again; a real regression
# (say the shim costing a syscall per event) fails both.
# With no other test beside it: the suite runs two at a time, and a
# neighbour's bursts moved single rounds from 0.62 to 1.47 (medians 0.79,
# then 0.93 at the retry).
machine_alone
throughput_rounds
if awk -v r="$RATIO" 'BEGIN { exit !(r < 0.85) }'; then
    echo "ratio $RATIO below 0.85: measuring again in case the machine was busy"
    throughput_rounds
fi
awk -v r="$RATIO" 'BEGIN { exit !(r >= 0.85) }' || fail "throughput under handoff is $RATIO of nginx alone's"
machine_shared
ok "throughput under handoff: $RATIO of nginx alone's (medians of $TP_ROUNDS rounds)"

stop_handoff
stop_nginx_alone
