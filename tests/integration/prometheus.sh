# prometheus.sh: examples/prometheus against a real Prometheus: promtool accepts the config and the rules, the rules' unit tests pass, and a live Prometheus scraping handoff sees a failed roll and a rollback and fires both alerts.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need prometheus promtool curl python3
EX="$TOP_SRCDIR/examples/prometheus"
CTL="$T/ctl.sock"
PROMPID=

# Prometheus goes before lib.sh's cleanup removes its data directory.
stop_prometheus() {
    [ -n "$PROMPID" ] || return 0
    kill -TERM "$PROMPID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$PROMPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PROMPID" 2>/dev/null
    wait "$PROMPID" 2>/dev/null
    PROMPID=
}
trap 'stop_prometheus; cleanup' EXIT

out=$(promtool check config "$EX/prometheus.yml" 2>&1) || fail "promtool check config: $out"
out=$(promtool check rules "$EX/alerts.yml" 2>&1) || fail "promtool check rules: $out"
echo "$out" | grep -q 'SUCCESS: 2 rules found' || fail "promtool check rules: $out"
out=$(promtool test rules "$TOP_SRCDIR/tests/prometheus/alerts_test.yml" 2>&1) ||
    fail "promtool test rules: $out"
ok "promtool: the example config and its 2 rules are valid; the rules' unit tests pass"

# handoff: a kept generation to roll back to, and a version that exits at
# start while $T/bad exists.
start_handoff --control "$CTL" --metrics 127.0.0.1:0 --pass systemd \
    --keep-previous 60s -l web=127.0.0.1:0 \
    -- python3 "$SERVER" --bad-if "$T/bad" --exit-at-start 1
wait_log 'event=promote gen=1 ' 1
MPORT=$(grep -o 'event=metrics address=[^ ]*' "$LOG" | head -n1 | sed 's/.*://')
[ -n "$MPORT" ] || fail "no event=metrics address= in the log"

# The example config, scraping this handoff every second, its rules by
# absolute path: what is tested is the example, not a copy written here.
sed -e "s/127\.0\.0\.1:9480/127.0.0.1:$MPORT/" \
    -e 's/^\(  [a-z_]*_interval:\) 15s$/\1 1s/' \
    -e "s|^  - alerts\.yml$|  - $EX/alerts.yml|" "$EX/prometheus.yml" >"$T/prometheus.yml"
for want in "127.0.0.1:$MPORT" "scrape_interval: 1s" "evaluation_interval: 1s" "- $EX/alerts.yml"; do
    grep -qF -- "$want" "$T/prometheus.yml" || fail "the generated config lacks '$want': $(cat "$T/prometheus.yml")"
done
PPORT=$(free_port)
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
PROMPID=$!
t0=$SECONDS
for _ in $(seq 300); do
    curl -sf --max-time 2 "http://127.0.0.1:$PPORT/-/ready" >/dev/null && break
    kill -0 "$PROMPID" 2>/dev/null || fail "prometheus exited: $(tail -n 5 "$T/prometheus.log")"
    sleep 0.1
done
curl -sf --max-time 2 "http://127.0.0.1:$PPORT/-/ready" >/dev/null ||
    fail "prometheus not ready in 30 s: $(tail -n 5 "$T/prometheus.log")"

# query EXPR: "labels=value" per series of an instant query, sorted, the
# labels given as LABEL:value joined by commas (__name__ aside).
query() {
    curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
        python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
for s in sorted(r["data"]["result"], key=lambda s: sorted(s["metric"].items())):
    m = ",".join("%s:%s" % kv for kv in sorted(s["metric"].items()) if kv[0] != "__name__")
    print("%s=%s" % (m, s["value"][1]))'
}
# until SECONDS EXPR WANT: until query EXPR prints WANT (bounded); sets GOT.
until_query() {
    local end=$((SECONDS + $1))
    while :; do
        GOT=$(query "$2")
        [ "$GOT" = "$3" ] && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.5
    done
}

# Before any event the four series are scraped at 0: increase() has its
# starting point.
until_query 20 'sum by (guard) (handoff_rollbacks_total{job="handoff"})' \
    "$(printf 'guard:crash=0\nguard:latency=0\nguard:operator=0\nguard:probe=0')" ||
    fail "handoff_rollbacks_total not scraped at 0: '$GOT'; up: $(query up)"
ok "prometheus on 127.0.0.1:$PPORT ready and scraping handoff on 127.0.0.1:$MPORT in $((SECONDS - t0)) s"

out=$(timeout 60 "$HANDOFF" roll --control "$CTL" 2>&1) || fail "roll to gen 2: $out"
wait_log 'event=kept gen=1 ' 1 10
out=$(timeout 30 "$HANDOFF" rollback --control "$CTL" 2>&1) || fail "handoff rollback: $out"
touch "$T/bad"
out=$(timeout 60 "$HANDOFF" roll --control "$CTL" 2>&1) && fail "roll to gen 3 should fail: $out"
t1=$SECONDS

until_query 30 'sum by (guard) (handoff_rollbacks_total{job="handoff"})' \
    "$(printf 'guard:crash=0\nguard:latency=0\nguard:operator=1\nguard:probe=0')" ||
    fail "handoff_rollbacks_total by guard: '$GOT'"
rb=$GOT
until_query 30 'handoff_rolls_total{job="handoff"}' \
    "$(printf 'instance:127.0.0.1:%s,job:handoff,outcome:failed=1\ninstance:127.0.0.1:%s,job:handoff,outcome:promoted=2' "$MPORT" "$MPORT")" ||
    fail "handoff_rolls_total: '$GOT'"
rolls=$GOT
want=$(printf 'alertname:HandoffRollFailed,alertstate:firing,instance:127.0.0.1:%s,job:handoff,outcome:failed,severity:warning=1\nalertname:HandoffRollback,alertstate:firing,guard:operator,instance:127.0.0.1:%s,job:handoff,severity:warning=1' "$MPORT" "$MPORT")
until_query 30 'ALERTS' "$want" || fail "ALERTS: '$GOT'"
oneline() { paste -sd ' '; }
echo "queried back: handoff_rollbacks_total $(echo "$rb" | oneline); handoff_rolls_total $(echo "$rolls" | oneline)"
echo "ALERTS: $(echo "$GOT" | oneline)"
ok "a failed roll and a rollback by handoff rollback: both alerts firing $((SECONDS - t1)) s after, no other"

# The annotation names the guard, as an operator reads it.
summary=$(curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/alerts" | python3 -c '
import json, sys
for a in json.load(sys.stdin)["data"]["alerts"]:
    if a["labels"]["alertname"] == "HandoffRollback":
        print(a["annotations"]["summary"])')
[ "$summary" = "handoff on 127.0.0.1:$MPORT: rolled back (operator)" ] ||
    fail "HandoffRollback's summary: '$summary'"
ok "HandoffRollback says: $summary"

stop_prometheus
stop_handoff
[ "$STATUS" -eq 0 ] || fail "handoff exit $STATUS"
ok "stops"
