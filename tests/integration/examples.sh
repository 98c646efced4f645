# examples.sh: every runnable example in examples/ starts as its comment
# says, serves, rolls under load with no failed request, and stops.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

BUILD=$(dirname "$HANDOFF")

# try NAME CONF OLDPORT [PATTERN [LOSS]]: run CONF (a copy with OLDPORT made
# a free port) from the source tree, as the README does; the page must match
# PATTERN (default: hello) and show the new process after the roll; LOSS is
# how many in-flight requests the server itself may drop when drained.
try() {
    local name=$1 conf=$2 old=$3 pat=${4:-hello} loss=${5:-0} port first
    port=$(free_port)
    sed "s/$old/$port/g" "$conf" >"$T/$name.conf"
    # A server that reads its own configuration gets the port there too.
    if [ -f "$T/$name-server.conf.in" ]; then
        sed "s/$old/$port/g" "$T/$name-server.conf.in" >"$T/$name-server.conf"
    fi
    "$HANDOFF" -c "$T/$name.conf" -t >/dev/null || fail "$name: the example does not check"
    (cd "$TOP_SRCDIR" && exec "$HANDOFF" -c "$T/$name.conf") >"$T/stdout" 2>"$LOG" &
    HPID=$!
    STARTED="$STARTED $HPID"
    PORT=$port
    wait_log 'event=promote' 1
    get / | grep -q "$pat" || fail "$name: no $pat from the server: $(get /)"
    first=$(get /)
    load_start 4
    roll_and_wait 2
    sleep 0.5
    load_stop
    [ "$(count 'event=promote ')" -eq 2 ] || fail "$name: the roll was not promoted"
    [ "$FAILED" -le "$loss" ] || fail "$name: $FAILED of $REQS requests failed during the roll"
    grep -q 'connection refused' "$T/hey.out" && fail "$name: connections refused during the roll"
    [ "$pat" != hello ] || [ "$(get /)" != "$first" ] || fail "$name: the same process serves after the roll"
    stop_handoff
    [ "$STATUS" -eq 0 ] || fail "$name: handoff exited $STATUS"
    # A server's own complaint (nginx: two generations sharing one pid
    # file, unlinked by the first to stop) is a fault of the example.
    grep -E '\[(alert|emerg|crit)\]' "$LOG" && fail "$name: the server complained"
    ok "$name: served, rolled under load with $FAILED failed of $REQS, stopped"
    : >"$LOG"
}

sed "s|/tmp/listenfds-server|$BUILD/examples/listenfds-server|" \
    "$TOP_SRCDIR/examples/listenfds.conf" >"$T/listenfds.in"
try listenfds "$T/listenfds.in" 8080
try protocol "$TOP_SRCDIR/examples/protocol.conf" 8082
# http.server drops the requests in hand when SIGINT ends it: at most one
# per client.
try http-server "$TOP_SRCDIR/examples/http-server.conf" 8000 'Directory listing' 4
try socket-activation "$TOP_SRCDIR/examples/socket-activation.conf" 8080 'pid='
if [ -x /usr/sbin/nginx ]; then
    cp "$TOP_SRCDIR/examples/nginx/nginx.conf" "$T/nginx-server.conf.in"
    sed "s|examples/nginx/nginx.conf|$T/nginx-server.conf|" \
        "$TOP_SRCDIR/examples/nginx/handoff.conf" >"$T/nginx.in"
    try nginx "$T/nginx.in" 8081
    # The container's nginx, on loopback, its pid files under $T, its
    # metrics on a port the kernel chose and no stop_delay (no load
    # balancer to wait for here).
    sed 's/0\.0\.0\.0/127.0.0.1/' "$TOP_SRCDIR/examples/docker/nginx.conf" >"$T/docker-server.conf.in"
    sed -e "s|/etc/nginx/handoff-nginx.conf|$T/docker-server.conf|" \
        -e 's/0\.0\.0\.0/127.0.0.1/' -e "s|/run/nginx-|$T/nginx-|" \
        -e "s/:9100\$/:$(free_port)/" \
        -e 's/^stop_delay .*/stop_delay = 0s/' \
        "$TOP_SRCDIR/examples/docker/handoff.conf" >"$T/docker.in"
    try docker "$T/docker.in" 8080
else
    echo "nginx not installed: the nginx and docker examples were not run"
fi

if [ -x /usr/sbin/haproxy ]; then
    cp "$TOP_SRCDIR/examples/haproxy/haproxy.cfg" "$T/haproxy-server.conf.in"
    sed "s|examples/haproxy/haproxy.cfg|$T/haproxy-server.conf|" \
        "$TOP_SRCDIR/examples/haproxy/handoff.conf" >"$T/haproxy.in"
    try haproxy "$T/haproxy.in" 8083
else
    echo "haproxy not installed: the haproxy example was not run"
fi

# Apache's pid and log files go under $T, not /tmp as in the example.
if [ -x /usr/sbin/apache2 ]; then
    sed "s|/tmp/handoff-example-apache|$T/apache|g" \
        "$TOP_SRCDIR/examples/apache/apache2.conf" >"$T/apache-server.conf.in"
    sed "s|examples/apache/apache2.conf|$T/apache-server.conf|" \
        "$TOP_SRCDIR/examples/apache/handoff.conf" >"$T/apache.in"
    try apache "$T/apache.in" 8084
else
    echo "apache2 not installed: the apache example was not run"
fi

# The container and the systemd unit: their configurations check, the
# files the Dockerfile copies exist, and systemd accepts the unit.
for conf in docker/handoff.conf systemd/handoff.conf; do
    "$HANDOFF" -c "$TOP_SRCDIR/examples/$conf" -t >"$T/check.out" 2>&1 ||
        fail "examples/$conf does not check: $(cat "$T/check.out")"
done
sed -n 's/^COPY \(examples[^ ]*\) .*/\1/p' "$TOP_SRCDIR/examples/docker/Dockerfile" >"$T/copied"
[ "$(wc -l <"$T/copied")" -eq 2 ] || fail "the Dockerfile copies $(wc -l <"$T/copied") example files, not 2"
while read -r f; do
    [ -f "$TOP_SRCDIR/$f" ] || fail "the Dockerfile copies $f, which is missing"
done <"$T/copied"
grep -q '^ENTRYPOINT \["/usr/local/bin/handoff", "-c", "/etc/handoff.conf"\]' "$TOP_SRCDIR/examples/docker/Dockerfile" ||
    fail "the Dockerfile's ENTRYPOINT is not handoff"
ok "docker/ and systemd/ configurations check; the Dockerfile's files exist"
# The pod's probes ask the port handoff.conf serves them on, and handoff's
# liveness check asks the server's own port.
python3 - "$TOP_SRCDIR/examples/kubernetes/deployment.yaml" "$TOP_SRCDIR/examples/docker/handoff.conf" <<'PY' || fail "kubernetes/deployment.yaml's probes do not match docker/handoff.conf"
import re, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
c = d["spec"]["template"]["spec"]["containers"][0]
ports = {p.get("name"): p["containerPort"] for p in c["ports"]}
conf = open(sys.argv[2]).read()
m = re.search(r"^metrics\s*=\s*\S*:(\d+)", conf, re.M)
assert m, "no metrics address in handoff.conf"
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    g = c[probe]["httpGet"]
    assert g["path"] == path, (probe, g)
    assert ports[g["port"]] == int(m.group(1)), (probe, g, m.group(1))
assert "preStop" not in c.get("lifecycle", {}), "a preStop hook: stop_delay does that"
assert re.search(r"^stop_delay\s*=\s*[1-9]", conf, re.M), "no stop_delay in handoff.conf"
web = re.search(r"^address\s*=\s*\S*:(\d+)", conf, re.M)
live = re.search(r"^liveness\s*=\s*(?:http:)?http://[^:/]+:(\d+)/", conf, re.M)
assert live, "no liveness = http://... in handoff.conf"
assert live.group(1) == web.group(1), ("liveness port", live.group(1), "server port", web.group(1))
assert int(web.group(1)) in ports.values(), ("the server's port is not a containerPort", web.group(1))
print("deployment.yaml: readinessProbe /readyz, livenessProbe /healthz on", m.group(1),
      "; handoff's liveness on the server's port", live.group(1))
PY
if command -v systemd-analyze >/dev/null 2>&1; then
    sed "s|/usr/local/bin/handoff|$HANDOFF|" "$TOP_SRCDIR/examples/systemd/handoff.service" >"$T/handoff.service"
    # verify loads the units ours names (multi-user.target and what it
    # wants): only what it says of ours counts, not of a package's unit.
    systemd-analyze verify "$T/handoff.service" >"$T/verify.out" 2>&1
    grep 'handoff\.service' "$T/verify.out" >"$T/verify.ours"
    [ ! -s "$T/verify.ours" ] || fail "systemd-analyze verify: $(cat "$T/verify.ours")"
    ok "systemd-analyze verify accepts examples/systemd/handoff.service"
else
    echo "systemd-analyze not installed: the unit was not verified"
fi
