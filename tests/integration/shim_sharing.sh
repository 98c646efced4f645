# shim_sharing.sh: one generation's O_NONBLOCK and setsockopt() on the
# shared socket stay its own through the shim; without the shim they leak
# with traffic = shared, and cannot with steered traffic (a socket each).
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey python3

SHARER="$TOP_SRCDIR/tests/servers/sharer.py"

# run_rolls PASS DELAY TRAFFIC: blocking and non-blocking generations
# alternate, each overlapping the next for DELAY (ready = delay:DELAY)
# under load.
run_rolls() {
    local pass=$1 delay=$2 traffic=$3 port i
    port=$(free_port)
    : >"$T/found"
    start_handoff -l "127.0.0.1:$port" --pass "$pass" --ready "delay:$delay" \
        --traffic "$traffic" \
        --drain-timeout 1s --stop-timeout 2s -- \
        python3 "$SHARER" "$port" "$T/found"
    wait_log 'event=promote' 1
    load_start 8
    for i in $(seq 2 5); do roll_and_wait "$i"; done
    load_stop
    stop_handoff
}

# The trap, shown without the shim on one shared socket: one generation's
# non-blocking mode and options are every generation's. The overlap is long
# enough for the new generation's python to start and set its mode (over a
# second when the machine is busy) while the old one still accepts.
run_rolls systemd 3s shared
grep -Eq 'EAGAIN|view=nonblocking' "$T/found" ||
    fail "pass = systemd: no blocking generation saw O_NONBLOCK or EAGAIN; the trap did not show: $(cat "$T/found")"
grep -Eq 'gen=[2-9] keepalive_before=1' "$T/found" ||
    fail "pass = systemd: SO_KEEPALIVE did not leak to the next generation: $(cat "$T/found")"
ok "without the shim: blocking generations found O_NONBLOCK set ($(grep -c view=nonblocking "$T/found") times), got EAGAIN ($(grep -c EAGAIN "$T/found") times), and SO_KEEPALIVE leaked across generations"

# Steered, each generation has a socket of its own: nothing to leak.
run_rolls systemd 3s steered
grep -Eq 'EAGAIN|view=nonblocking' "$T/found" &&
    fail "steered, pass = systemd: a blocking generation saw another's O_NONBLOCK: $(cat "$T/found")"
[ "$(grep -c 'keepalive_before=0' "$T/found")" -eq 5 ] ||
    fail "steered, pass = systemd: a generation saw another's SO_KEEPALIVE: $(cat "$T/found")"
[ "$FAILED" -eq 0 ] || fail "steered, pass = systemd: $FAILED of $REQS requests failed"
ok "steered, without the shim: each generation's mode and options are its own, 0 failed of $REQS"

for traffic in shared steered; do
run_rolls shim 3s "$traffic"
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
