# lib.sh: helpers for handoff's black-box tests: start the real binary,
# wait for its log events, drive load with hey, check what a client saw.
set -u

if [ -z "${HANDOFF:-}" ] || [ -z "${TOP_SRCDIR:-}" ]; then
    echo "ERROR: set HANDOFF (the binary) and TOP_SRCDIR (the source tree)"
    exit 99
fi
# python3 may be a version manager's shim (pyenv's runs a shell script
# first: 0.4 s a start, seconds on a busy machine, at every roll of every
# python server here): run Debian's, which tools/setup installs.
[ -x /usr/bin/python3 ] && PATH=/usr/bin:$PATH
SERVER="$TOP_SRCDIR/tests/servers/actserver.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/handoff-test.XXXXXX")
LOG="$T/handoff.log"
HPID=
HEYPID=
PORT=

STARTED=

# Every handoff a script started goes at its end, even one it forgot.
cleanup() {
    local p
    [ -n "$HEYPID" ] && kill "$HEYPID" 2>/dev/null
    for p in $STARTED; do
        kill -0 "$p" 2>/dev/null || continue
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# The suite runs two tests at a time (tools/run: make -j2). A measurement
# of speed (nginx.sh's throughput rounds) takes the machine alone
# (machine_alone): every test holds a shared lock on SUITE_LOCK while it
# runs, and the measurement an exclusive one, taken once the tests beside
# it have ended; its GATE (SUITE_LOCK.gate, exclusive) keeps new ones
# from starting meanwhile. Each lock is held by a process outside the
# test's tree (flock -o: no fd of it reaches handoff or a worker), which
# ends with the test's shell; its pid is in MARK. Every wait is bounded:
# past it, the test runs as it would have without the lock.
# One lock per user: a file of another user's in /tmp may not be opened
# (fs.protected_regular).
SUITE_LOCK=${TMPDIR:-/tmp}/handoff-suite-$EUID.lock
# lock_take -s|-x FILE MARK SECONDS: 0 once FILE's lock is held, 1 if
# flock failed or the lock is not held within SECONDS (its holder still
# waits, and holds it when it can).
lock_take() {
    local i
    rm -f "$3" "$3.failed"
    # MARK and the shell's pid go in the environment, not on the command
    # line: a test looks for what is left of it by its directory's name
    # (pgrep -f "$T/", inherit.sh), and the holder is not its.
    ({ LOCK_MARK=$3 LOCK_OWNER=$$ flock "$1" -o "$2" sh -c \
        'echo $$ >"$LOCK_MARK.new" && mv "$LOCK_MARK.new" "$LOCK_MARK" && exec tail --pid="$LOCK_OWNER" -f /dev/null' ||
        [ -e "$3" ] || : >"$3.failed"; } </dev/null >/dev/null 2>&1 &)
    for i in $(seq $(($4 * 20))); do
        [ -s "$3" ] && return 0
        [ -e "$3.failed" ] && return 1
        sleep 0.05
    done
    return 1
}
# lock_drop MARK: end the holder of MARK's lock.
lock_drop() {
    [ -s "$1" ] && kill "$(cat "$1")" 2>/dev/null
    rm -f "$1"
}
if command -v flock >/dev/null 2>&1; then
    flock -s -w 300 "$SUITE_LOCK.gate" true 2>/dev/null
    lock_take -s "$SUITE_LOCK" "$T/suite.lock" 300 || echo "note: no shared hold of $SUITE_LOCK in 300 s"
fi
# machine_alone: hold the machine alone (no other test of a suite running)
# until machine_shared or the test's end; 300 s at most for each lock.
machine_alone() {
    command -v flock >/dev/null 2>&1 || return 0
    lock_drop "$T/suite.lock" # our own shared hold would block the exclusive
    lock_take -x "$SUITE_LOCK.gate" "$T/gate.lock" 300 || echo "note: no hold of $SUITE_LOCK.gate in 300 s"
    lock_take -x "$SUITE_LOCK" "$T/alone.lock" 300 || echo "note: the tests beside still run after 300 s"
}
machine_shared() {
    lock_drop "$T/alone.lock"
    lock_drop "$T/gate.lock"
}

fail() {
    echo "FAIL: $*"
    echo "--- handoff log (last 40 lines)"
    tail -n 40 "$LOG" 2>/dev/null
    exit 1
}

ok() { echo "ok: $* [${SECONDS}s]"; }

need() {
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { echo "SKIP: $c not installed"; exit 77; }
    done
}

# count PATTERN: lines of the log matching an extended regex.
count() { grep -Ec -- "$1" "$LOG" 2>/dev/null || true; }

# wait_log PATTERN [N] [SECONDS]: until N lines match (default 1, 20 s).
wait_log() {
    local pat=$1 n=${2:-1} secs=${3:-20} i
    for i in $(seq $((secs * 20))); do
        [ "$(count "$pat")" -ge "$n" ] && return 0
        sleep 0.05
    done
    fail "timed out waiting for $n x /$pat/"
}

# start_handoff ARGS...: run handoff in the background; sets HPID and PORT
# (the kernel-chosen port of the first TCP listener). HANDOFF_TRAFFIC, if
# set, is its --traffic (shared_mode.sh runs the roll tests with shared).
start_handoff() {
    local i alive done
    # A new file, not the old one truncated: a process of an earlier
    # handoff that still holds the old log (a worker's child, a probe's)
    # would write at its own offset past the new end, the gap reads as NUL
    # bytes, and grep then takes the log for binary: it still counts
    # (wait_log) but prints no match (-o): PORT empty, as seen once.
    rm -f "$LOG"
    "$HANDOFF" ${HANDOFF_TRAFFIC:+--traffic "$HANDOFF_TRAFFIC"} "$@" >"$T/stdout" 2>"$LOG" &
    HPID=$!
    STARTED="$STARTED $HPID"
    PORT=
    for i in $(seq 200); do
        kill -0 "$HPID" 2>/dev/null && alive=1 || alive=
        # Every listener is logged before the first roll: once a roll (or
        # a failed listener) is seen, every listen line is there, so look
        # for it first and read the port after.
        done=
        grep -aEq 'event"?[=:]"?(roll|listen_failed)[ "]' "$LOG" && done=1
        # Only a whole listen line counts: its last field is traffic=.
        PORT=$(sed -nE 's/.*event"?[=:]"?listen[ "].*address"?[=:]"?[^ ]*:([0-9]+)"?[ ,]"?traffic"?[=:]"?(steered|shared).*/\1/p' "$LOG" | head -n1)
        [ -n "$PORT" ] && return 0
        # None was TCP, or one failed (the test looks at why).
        [ -n "$done" ] && return 0
        [ -n "$alive" ] || fail "handoff exited before it listened"
        sleep 0.05
    done
    fail "no listen line in 10 s"
}

# stop_handoff: SIGTERM, wait (bounded); sets STATUS to its exit code.
stop_handoff() {
    kill -TERM "$HPID"
    wait_exit
}

wait_exit() {
    local i
    for i in $(seq 300); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$HPID" 2>/dev/null && fail "handoff did not exit"
    wait "$HPID"
    STATUS=$?
    HPID=
}

# get PATH: one request; prints the body.
get() { curl -s --max-time 10 "http://127.0.0.1:$PORT${1:-/}"; }

# pid_serving: the pid of the worker that answers.
pid_serving() { get / | sed -n 's/^pid=\([0-9]*\).*/\1/p'; }

# load_start [CONCURRENCY]: hey, a new connection per request, in the
# background; returns once answers flow (or after 10 s, or if hey is gone:
# load_stop and the test's checks judge what it saw). /proc/PID/io tells:
# hey has written a request's worth (64 bytes; its runtime alone writes a
# few) and read 64 bytes more since a look that saw it.
load_start() {
    local k v r w prev= end=$((SECONDS + 10))
    hey -z 300s -c "${1:-8}" -disable-keepalive "http://127.0.0.1:$PORT/" >"$T/hey.out" 2>&1 &
    HEYPID=$!
    while [ "$SECONDS" -lt "$end" ]; do
        r= w=
        while read -r k v; do
            case $k in rchar:) r=$v ;; wchar:) w=$v ;; esac
        done 2>/dev/null <"/proc/$HEYPID/io" || break
        [ -n "$r" ] && [ -n "$w" ] || break
        if [ "$w" -ge 64 ]; then
            [ -n "$prev" ] && [ "$r" -ge $((prev + 64)) ] && return 0
            prev=$r
        fi
        sleep 0.025
    done
}

# load_stop: stop hey; sets REQS, OK200, FAILED, SLOWEST (seconds).
load_stop() {
    kill -INT "$HEYPID"
    wait "$HEYPID" 2>/dev/null
    HEYPID=
    OK200=$(sed -n 's/^ *\[200\][[:space:]]*\([0-9]*\) responses.*/\1/p' "$T/hey.out")
    OK200=${OK200:-0}
    local other errs
    other=$(sed -n '/Status code distribution/,/^$/p' "$T/hey.out" | grep -v '\[200\]' |
        sed -n 's/^ *\[[0-9]*\][[:space:]]*\([0-9]*\) responses.*/\1/p' | awk '{s+=$1} END {print s+0}')
    errs=$(sed -n '/Error distribution/,$p' "$T/hey.out" |
        sed -n 's/^ *\[\([0-9]*\)\].*/\1/p' | awk '{s+=$1} END {print s+0}')
    FAILED=$(( ${other:-0} + ${errs:-0} ))
    REQS=$(( OK200 + FAILED ))
    SLOWEST=$(sed -n 's/^ *Slowest:[[:space:]]*\([0-9.]*\) secs.*/\1/p' "$T/hey.out")
    echo "load: requests=$REQS ok=$OK200 failed=$FAILED slowest=${SLOWEST}s"
    if [ "$FAILED" -gt 0 ]; then
        sed -n '/Error distribution/,$p' "$T/hey.out" | head -n 5
    fi
}

# roll_and_wait N: send SIGUSR2 and wait for the Nth promote or roll_failed.
roll_and_wait() {
    kill -USR2 "$HPID"
    wait_log 'event=(promote|roll_failed) ' "$1" 30
}

# zombies_of PID: how many zombie children PID has not reaped.
zombies_of() {
    local parent=$1 n=0 s line rest
    for s in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$s" || continue
        rest=${line##*) }
        set -- $rest
        [ "$1" = Z ] && [ "$2" = "$parent" ] && n=$((n + 1))
    done
    echo "$n"
}

# sanitizers_quiet: fail if a sanitizer build of handoff reported anything
# in the log (its standard error): an error, undefined behaviour, a leak.
sanitizers_quiet() {
    local hit
    hit=$(grep -aE 'ERROR: AddressSanitizer|runtime error|LeakSanitizer|ERROR: [A-Za-z]+Sanitizer' "$LOG" 2>/dev/null | head -n 3)
    [ -z "$hit" ] || fail "the sanitizers reported: $hit"
}

# free_port: a port the kernel chooses, for a server that binds its own.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# free_port_udp: a port of 127.0.0.1 free for UDP and TCP both (a DNS
# server's), the kernel's choice.
free_port_udp() {
    python3 -c 'import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", u.getsockname()[1]))
    except OSError:
        continue
    print(u.getsockname()[1]); break'
}

# upgrade_setup: for the tests of handoff upgrade: BUILD, NEXT (the same
# code as another version, tests/upgrade/handoff-next, built if need be),
# SELF (this binary's real path), V1 and V2 (their versions), CTL (a
# control socket path).
upgrade_setup() {
    BUILD=$(dirname "$HANDOFF")
    NEXT="$BUILD/tests/upgrade/handoff-next"
    [ -x "$NEXT" ] || make -C "$BUILD" -s tests/upgrade/handoff-next >/dev/null 2>&1 ||
        fail "cannot build $NEXT"
    SELF=$(readlink -f "$HANDOFF")
    V1=$("$HANDOFF" -V | sed 's/^handoff //')
    V2=$("$NEXT" -V | sed 's/^handoff //')
    CTL="$T/ctl.sock"
}

# rolls NAME N: N rolls of a handoff started afresh (gens 2 to N+1), each
# promoted and its old generation gone within 30 s; none failed.
rolls() {
    local g
    for g in $(seq 2 $(($2 + 1))); do
        kill -USR2 "$HPID"
        wait_log "event=promote gen=$g " 1 30
        wait_log "event=gone gen=$((g - 1)) " 1 30
    done
    sleep 0.5
    [ "$(count 'event=roll_failed')" -eq 0 ] || fail "$1: a roll failed"
}

# dns_rolls NAME N QPS: the DNS server just started on 127.0.0.1:$P, with
# a UDP listener named dns and a TCP one, answers www.example (10.0.0.1)
# over both; then N rolls under dnsperf at QPS queries/s lose no query and
# every answer is NOERROR.
dns_rolls() {
    wait_log 'event=promote gen=1 ' 1 30
    grep -q 'event=listen name=dns address=udp:127.0.0.1:'"$P"' traffic=steered' "$LOG" ||
        fail "$1: the UDP listener is not steered"
    [ "$(dig +short +tries=1 +time=5 -p "$P" @127.0.0.1 www.example A)" = 10.0.0.1 ] ||
        fail "$1: no answer over UDP"
    [ "$(dig +tcp +short +tries=1 +time=5 -p "$P" @127.0.0.1 www.example A)" = 10.0.0.1 ] ||
        fail "$1: no answer over TCP"
    ok "$1 answers through its UDP and TCP listeners"
    dnsperf_start "$P" "$3"
    sleep 1
    rolls "$1" "$2"
    dnsperf_stop
    echo "$1: dnsperf sent=$SENT completed=$COMPLETED lost=$LOST noerror=$NOERROR"
    [ "$SENT" -ge "$3" ] || fail "$1: dnsperf sent only $SENT queries"
    [ "$LOST" -eq 0 ] || fail "$1: $LOST of $SENT queries lost across $2 rolls"
    [ "$NOERROR" -eq "$COMPLETED" ] || fail "$1: $NOERROR of $COMPLETED answers NOERROR"
    ok "$1: $2 rolls under dnsperf at $3 queries/s: 0 of $SENT lost"
}

# quicgen_setup: QUICGEN, the QUIC test server (tests/servers/quicgen), and
# a self-signed certificate for it in $T/cert.pem and $T/key.pem; the test
# is skipped where the server was not built or the client is missing.
quicgen_setup() {
    QUICGEN=$(dirname "$HANDOFF")/tests/servers/quicgen
    [ -x "$QUICGEN" ] || {
        echo "SKIP: $QUICGEN not built (configure found no libngtcp2/libnghttp3)"
        exit 77
    }
    need gtlsclient openssl python3
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
        >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
}

# dnsperf_start PORT [QPS]: dnsperf at QPS queries/s (3,000) on 127.0.0.1:PORT
# for A queries of www.example, in the background (DNSPID); dnsperf_stop
# ends it and sets SENT, COMPLETED, LOST and NOERROR.
dnsperf_start() {
    local i
    for i in $(seq 1000); do echo "www.example A"; done >"$T/queries"
    dnsperf -s 127.0.0.1 -p "$1" -d "$T/queries" -Q "${2:-3000}" -l 600 -t 2 \
        >"$T/dnsperf.out" 2>&1 &
    DNSPID=$!
}
dnsperf_stop() {
    kill -INT "$DNSPID" 2>/dev/null
    wait "$DNSPID" 2>/dev/null
    SENT=$(sed -n 's/^ *Queries sent: *\([0-9]*\).*/\1/p' "$T/dnsperf.out")
    COMPLETED=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$T/dnsperf.out")
    LOST=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' "$T/dnsperf.out")
    NOERROR=$(sed -n 's/^ *Response codes:.*NOERROR \([0-9]*\).*/\1/p' "$T/dnsperf.out")
    [ -n "$SENT" ] && [ -n "$LOST" ] || fail "dnsperf printed no figures: $(tail -5 "$T/dnsperf.out")"
}

# ngx_conf DIR PORT [DIRECTIVES]: the configuration every nginx of the tests
# runs, in DIR/nginx.conf: two workers on 127.0.0.1:PORT answering
# "pid=PID" (the worker's), everything it writes under DIR, DIRECTIVES
# added to http {}.
ngx_conf() {
    mkdir -p "$1"
    cat >"$1/nginx.conf" <<CONF
worker_processes 2;
pid $1/nginx.pid;
error_log $1/error.log notice;
events { worker_connections 1024; }
http {
    access_log off; ${3:-}
    client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1;
    uwsgi_temp_path $1; scgi_temp_path $1;
    server { listen 127.0.0.1:$2; location / { return 200 "pid=\$pid\n"; } }
}
CONF
}

# hc ARGS...: the handoff client (handoff status, roll, ...), bounded in
# time; sets RC, OUT and ERR.
hc() {
    timeout 60 "$HANDOFF" "$@" >"$T/hc.out" 2>"$T/hc.err"
    RC=$?
    OUT=$(cat "$T/hc.out")
    ERR=$(cat "$T/hc.err")
}
