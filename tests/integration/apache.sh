# apache.sh: stock Apache httpd (Debian's apache2, mpm_event) rolled by
# handoff through the shim. With one PidFile for every generation the new
# one refuses to run beside the old ("httpd (pid N) already running") and
# exits 0: the roll fails, and the master's reason says what to do. With
# PidFile naming ${HANDOFF_GENERATION} (examples/apache): five rolls under
# load, each promoted, no request failed.
. "$TOP_SRCDIR/tests/integration/lib.sh"
# apache2 lives in /usr/sbin, which a non-root PATH often lacks.
PATH=$PATH:/usr/sbin:/sbin
need apache2 hey curl python3

# apache_conf OUT PIDFILE: examples/apache/apache2.conf on $PORT, its pid
# file PIDFILE, its log under $T.
apache_conf() {
    sed "s/8084/$PORT/; s|^PidFile .*|PidFile $2|; s|/tmp/handoff-example-apache|$T/apache|g" \
        "$TOP_SRCDIR/examples/apache/apache2.conf" >"$1"
}
# start_apache CONF: the example's handoff.conf, run from the source tree.
start_apache() {
    sed "s|examples/apache/apache2.conf|$1|; s/8084/$PORT/" \
        "$TOP_SRCDIR/examples/apache/handoff.conf" >"$T/handoff.conf"
    "$HANDOFF" -c "$T/handoff.conf" -t >/dev/null || fail "the apache handoff.conf does not check"
    (cd "$TOP_SRCDIR" && exec "$HANDOFF" -c "$T/handoff.conf" --ready-timeout 10s) >"$T/stdout" 2>"$LOG" &
    HPID=$!
    STARTED="$STARTED $HPID"
    wait_log 'event=(promote|roll_failed) ' 1 15
    [ "$(count 'event=promote ')" -eq 1 ] || fail "Apache generation 1 was not promoted"
}

# --- 1. one PidFile for all: the new version exits 0, with a hint --------
PORT=$(free_port)
apache_conf "$T/fixed.conf" "$T/apache.pid"
start_apache "$T/fixed.conf"
page=$(get /)
roll_and_wait 2
grep -q 'event=roll_failed gen=2 reason="worker exited before it was ready (code=0)' "$LOG" ||
    fail "no roll_failed (code=0) for an Apache that refuses to run beside the old one"
grep -q "already running" "$T/stdout" || fail "Apache did not say why it exited (on its standard output)"
grep 'event=roll_failed gen=2 ' "$LOG" |
    grep -q 'probably refusing to run beside the old one: a pid file or a lock; give each generation its own, e.g. with HANDOFF_GENERATION' ||
    fail "the roll_failed reason has no hint about a pid file: $(grep 'event=roll_failed' "$LOG")"
[ "$(get /)" = "$page" ] || fail "generation 1 no longer serves"
ok "one PidFile: the new Apache exits 0 beside the old one, roll_failed says why and what to do"
stop_handoff
[ "$STATUS" -eq 0 ] || fail "handoff exited $STATUS"
: >"$LOG"

# --- 2. a PidFile per generation: 5 rolls under load ----------------------
PORT=$(free_port)
apache_conf "$T/gen.conf" "$T/apache-\${HANDOFF_GENERATION}.pid"
start_apache "$T/gen.conf"
get / | grep -q 'hello from apache, generation 1$' || fail "not generation 1's page: $(get /)"
load_start 8
for i in 2 3 4 5 6; do
    roll_and_wait "$i"
done
sleep 0.5
load_stop
[ "$(count 'event=roll_failed ')" -eq 0 ] || fail "$(count 'event=roll_failed ') of 5 rolls failed: $(grep -m1 'event=roll_failed' "$LOG")"
[ "$(count 'event=promote ')" -eq 6 ] || fail "$(count 'event=promote ') promotions, expected 6"
[ "$REQS" -gt 0 ] || fail "hey made no request"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed during 5 rolls"
get / | grep -q 'generation 6$' || fail "not generation 6's page after 5 rolls: $(get /)"
ok "Apache, 5 rolls under hey -c8: every roll promoted, $FAILED failed of $REQS"
# SIGWINCH (graceful-stop) drains each old generation.
wait_log 'event=gone ' 5 40
stop_handoff
[ "$STATUS" -eq 0 ] || fail "handoff exited $STATUS"
ok "old generations drained on SIGWINCH; handoff stopped with 0"
