# shim_sharing.sh: one generation's O_NONBLOCK and setsockopt() on the
# shared socket stay its own through the shim; without the shim they leak
# with traffic = shared, and cannot with steered traffic (a socket each).
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey python3

SHARER="$TOP_SRCDIR/tests/servers/sharer.py"

# run_rolls PASS TRAFFIC: blocking and non-blocking generations alternate
# under load, each new one ready only once the previous one has accepted
# (or failed to) after the new one set its socket's mode and option
# (sharer.py's found.after.N): the overlap each check below needs, however
# long the new generation's python takes to start on a busy machine.
run_rolls() {
    local pass=$1 traffic=$2 port i
    port=$(free_port)
    rm -f "$T"/found.*
    : >"$T/found"
    start_handoff -l "127.0.0.1:$port" --pass "$pass" \
        --ready "exec:test %g -eq 1 || test -e $T/found.after.\$((%g - 1))" \
        --ready-interval 50ms --traffic "$traffic" \
        --drain-timeout 1s --stop-timeout 2s -- \
        python3 "$SHARER" "$port" "$T/found"
    wait_log 'event=promote' 1
    load_start 8
    for i in $(seq 2 5); do roll_and_wait "$i"; done
    load_stop
    stop_handoff
}

# The trap, shown without the shim on one shared socket: one generation's
# non-blocking mode and options are every generation's, which the old one
# sees at its first accept() after the new one set them.
run_rolls systemd shared
grep -Eq 'EAGAIN|view=nonblocking' "$T/found" ||
    fail "pass = systemd: no blocking generation saw O_NONBLOCK or EAGAIN; the trap did not show: $(cat "$T/found")"
grep -Eq 'gen=[2-9] keepalive_before=1' "$T/found" ||
    fail "pass = systemd: SO_KEEPALIVE did not leak to the next generation: $(cat "$T/found")"
ok "without the shim: blocking generations found O_NONBLOCK set ($(grep -c view=nonblocking "$T/found") times), got EAGAIN ($(grep -c EAGAIN "$T/found") times), and SO_KEEPALIVE leaked across generations"

# Steered, each generation has a socket of its own: nothing to leak.
run_rolls systemd steered
grep -Eq 'EAGAIN|view=nonblocking' "$T/found" &&
    fail "steered, pass = systemd: a blocking generation saw another's O_NONBLOCK: $(cat "$T/found")"
[ "$(grep -c 'keepalive_before=0' "$T/found")" -eq 5 ] ||
    fail "steered, pass = systemd: a generation saw another's SO_KEEPALIVE: $(cat "$T/found")"
[ "$FAILED" -eq 0 ] || fail "steered, pass = systemd: $FAILED of $REQS requests failed"
ok "steered, without the shim: each generation's mode and options are its own, 0 failed of $REQS"

for traffic in shared steered; do
run_rolls shim "$traffic"
cat "$T/found"
grep -q 'EAGAIN' "$T/found" && fail "shim: a blocking generation's accept() failed with EAGAIN"
grep -q 'view=nonblocking' "$T/found" && fail "shim: a blocking generation sees O_NONBLOCK set"
[ "$(grep -c 'keepalive_before=0' "$T/found")" -eq 5 ] ||
    fail "shim: a generation saw another's SO_KEEPALIVE"
[ "$(grep -c 'conn_keepalive=1' "$T/found")" -ge 4 ] ||
    fail "shim: accepted connections lack the SO_KEEPALIVE their process set"
[ "$FAILED" -eq 0 ] || fail "shim: $FAILED of $REQS requests failed"
[ "$(count 'event=roll_failed')" -eq 0 ] || fail "shim: a roll failed"
ok "through the shim, traffic = $traffic: blocking and non-blocking generations coexist, options stay per process, 0 failed of $REQS"
done
