# healthz.sh: an orchestrator's probes of handoff itself, on the metrics
# address. GET /healthz: 200 while the master's loop runs. GET /readyz:
# 503 while no generation serves yet, 200 once one does, 503 as soon as a
# stop begins, while stop_delay keeps the server answering its clients.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

M=$(free_port)
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$M$1"; }
start_handoff -l 127.0.0.1:0 --metrics "127.0.0.1:$M" --stop-delay 3s \
    --pass systemd --ready delay:1500ms -- python3 "$SERVER"
wait_log 'event=metrics '
[ "$(code /healthz)" = 200 ] || fail "/healthz while starting: $(code /healthz)"
[ "$(count 'event=promote gen=1 ')" -eq 0 ] || fail "gen 1 promoted before the first /readyz"
r=$(code /readyz)
[ "$(count 'event=promote gen=1 ')" -eq 0 ] && [ "$r" != 503 ] &&
    fail "/readyz before any generation serves: $r"
ok "starting: /healthz 200, /readyz $r"
wait_log 'event=promote gen=1 '
[ "$(code /readyz)" = 200 ] || fail "/readyz while serving: $(code /readyz)"
[ "$(code /healthz)" = 200 ] || fail "/healthz while serving"
[ "$(code /readyz?x=1)" = 200 ] || fail "/readyz with a query string"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$M/readyz")" = 405 ] ||
    fail "POST /readyz is not 405"
ok "serving: /healthz 200, /readyz 200"
t0=$(date +%s%N)
kill -TERM "$HPID"
# The first 503 of /readyz after the signal, asked again and again (each
# request bounded): what an orchestrator's probe would see.
for i in $(seq 500); do
    r=$(code /readyz)
    [ "$r" = 503 ] && break
done
ms=$((($(date +%s%N) - t0) / 1000000))
wait_log 'event=stop_delay ' 1 10
body=$(get /)
echo "after SIGTERM: /readyz $r after $ms ms ($i requests), the server answered: $body"
[ "$r" = 503 ] || fail "/readyz after SIGTERM: $r"
case "$body" in pid=*) ;; *) fail "the server did not answer during stop_delay: $body" ;; esac
[ "$(code /healthz)" = 200 ] || fail "/healthz during stop_delay: $(code /healthz)"
ok "stop begun: /readyz 503 $ms ms after SIGTERM while the server still answers, /healthz 200"
wait_exit
