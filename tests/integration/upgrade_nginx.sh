# upgrade_nginx.sh: stock nginx through the shim under wrk keep-alive while
# handoff upgrades itself 10 times between two builds: no request fails,
# handoff's pid and nginx's processes (master and workers) stay, and a roll
# works after.
. "$TOP_SRCDIR/tests/integration/lib.sh"
# nginx lives in /usr/sbin, which a non-root PATH often lacks.
PATH=$PATH:/usr/sbin:/sbin
need nginx wrk curl
NGINX=$(command -v nginx)

upgrade_setup
[ "$V1" != "$V2" ] || fail "the two builds say the same version ($V1)"

WRKPID=
upgrade_nginx_cleanup() {
    [ -n "$WRKPID" ] && kill "$WRKPID" 2>/dev/null
    cleanup
}
trap upgrade_nginx_cleanup EXIT

# tree: nginx's processes under handoff, sorted, one line: its master (the
# worker handoff started) and the master's workers.
tree() {
    local m
    for m in $(pgrep -P "$HPID"); do
        echo "$m"
        pgrep -P "$m"
    done | sort -n | tr '\n' ' '
}

# wrk_counts FILE: sets ERRS (every socket error) NON2XX REQS.
wrk_counts() {
    ERRS=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$1" |
        awk '{ print $1 + $2 + $3 + $4 }')
    NON2XX=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1")
    REQS=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$1")
    ERRS=${ERRS:-0} NON2XX=${NON2XX:-0} REQS=${REQS:-0}
}

PORT=$(free_port)
ngx_conf "$T/ngx" "$PORT"
start_handoff --control "$CTL" -l "127.0.0.1:$PORT" --drain-signal QUIT -- \
    "$NGINX" -p "$T/ngx" -c "$T/ngx/nginx.conf" -g 'daemon off;'
wait_log 'event=promote gen=1 ' 1
# nginx forks its two workers after its bind: wait for them and for an
# answer.
for i in $(seq 100); do
    [ "$(tree | wc -w)" -eq 3 ] && get / | grep -q '^pid=' && break
    sleep 0.1
done
NG=$(tree)
[ "$(echo "$NG" | wc -w)" -eq 3 ] || fail "expected nginx's master and 2 workers under handoff, found: $NG"

# wrk keep-alive for as long as the upgrades take (its -d is only a bound),
# ended with SIGINT, on which it prints its report. nginx closes a
# connection after 1000 requests (keepalive_requests), so new connections
# reach the shared listening socket throughout, not only the ones open
# before the first upgrade.
wrk -t2 -c32 -d300s "http://127.0.0.1:$PORT/" >"$T/wrk.out" 2>&1 &
WRKPID=$!
# Answers flow before the first upgrade: wrk has read something.
for i in $(seq 100); do
    r=$(sed -n 's/^rchar: //p' "/proc/$WRKPID/io" 2>/dev/null)
    [ "${r:-0}" -gt 4096 ] && break
    sleep 0.05
done

from=$V1
for i in $(seq 10); do
    if [ $((i % 2)) -eq 1 ]; then bin=$NEXT to=$V2; else bin=$SELF to=$V1; fi
    out=$("$HANDOFF" upgrade --control "$CTL" --binary "$bin" 2>&1) ||
        fail "upgrade $i to $bin: exit $?: $out"
    case $out in
    "upgraded pid=$HPID from=$from to=$to ms="*) ;;
    *) fail "upgrade $i to $bin answered: $out" ;;
    esac
    from=$to
    echo "upgrade $i: $out"
    [ "$(readlink "/proc/$HPID/exe")" = "$bin" ] ||
        fail "upgrade $i: /proc/$HPID/exe is $(readlink "/proc/$HPID/exe"), expected $bin"
    [ "$(tree)" = "$NG" ] || fail "upgrade $i: nginx's processes are $(tree), were $NG"
    kill -0 "$WRKPID" 2>/dev/null || fail "wrk ended during upgrade $i"
done
# Half a second of load after the last one, then wrk's report.
sleep 0.5
kill -INT "$WRKPID"
wait "$WRKPID"
WRKPID=
wrk_counts "$T/wrk.out"
[ "$REQS" -gt 1000 ] || { cat "$T/wrk.out"; fail "too little load ($REQS requests)"; }
[ "$ERRS" -eq 0 ] && [ "$NON2XX" -eq 0 ] ||
    { cat "$T/wrk.out"; fail "$ERRS socket errors and $NON2XX non-2xx of $REQS requests across 10 upgrades"; }
[ "$(count 'event=upgrade ')" -eq 10 ] || fail "$(count 'event=upgrade ') event=upgrade lines, expected 10"
ok "nginx, wrk -c32 keep-alive, 10 upgrades $V1 <-> $V2: $REQS requests, 0 socket errors, 0 non-2xx;" \
    "handoff pid $HPID, nginx's processes $NG kept"

# A roll after them: nginx's processes replaced, new ones answer.
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll after the upgrades: exit $RC: $OUT $ERR"
case $OUT in "promoted gen=2 "*) ;; *) fail "roll after the upgrades: $OUT" ;; esac
wait_log 'event=gone gen=1 ' 1
get / | grep -q '^pid=' || fail "no answer after the roll"
NEW=$(tree)
for p in $NG; do
    case " $NEW " in *" $p "*) fail "nginx process $p of generation 1 still under handoff after the roll: $NEW" ;; esac
done
ok "a roll after the upgrades: $OUT; nginx's processes now $NEW"

stop_handoff
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS after a graceful stop"
ok "graceful stop, exit 0"
