#!/usr/bin/env bash
# tests/bench/bench.sh: handoff against other ways to roll a server (stop-and-start, Server::Starter, nginx -s reload), one markdown table.
#
#   bash tests/bench/bench.sh PATH/TO/handoff      (what `make bench` runs)
#
# Every scenario runs against every contender with the same worker
# (tests/servers/actserver.py), the same load and the same length, one
# contender after the other, their order rotated from one scenario to the
# next so that none always runs first on a machine whose load drifts.
# Environment:
#   BENCH_ROLLS=20   rolls of the steady scenario; the others scale from it
#   BENCH_QUICK=1    one or two rolls per scenario, short rounds: a smoke test
#   BENCH_OUT=DIR    keep the raw outputs (hey, wrk, logs) and the table there
#   BENCH_ONLY="steady overhead"   run only these (scenario names as in
#                    the raw outputs: baseline steady slow_ready fail_start
#                    long_requests warm_up no_drain keepalive nginx_close
#                    nginx_keepalive overhead scale canary upgrade udp
#                    liveness)
#   BENCH_LIVENESS_SECONDS=600   the healthy server's run under liveness
#                    probes every 100 ms (30 when quick)
#   BENCH_SCALE_ROLLS=100   rolls of the largest scale run (5 when quick);
#                    the smaller ones get a fifth, at least 2
set -u
HANDOFF=${1:?usage: bench.sh PATH/TO/handoff}
HANDOFF=$(cd "$(dirname "$HANDOFF")" && pwd)/$(basename "$HANDOFF")
top=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$top/tests/bench
WORKER=$top/tests/servers/actserver.py
# nginx and start_server live in /usr/sbin and /usr/bin; a non-root PATH
# often lacks the first.
PATH=$PATH:/usr/sbin:/sbin

# --- packages: installed here, like tools/setup, so a fresh Debian 12 runs it
need_pkgs="hey wrk libserver-starter-perl tini nginx-light python3 curl procps dnsmasq-base dnsperf bind9-dnsutils"
missing=
for p in $need_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench: installing$missing" >&2
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null ||
        { echo "bench: apt-get install$missing failed" >&2; exit 1; }
fi
[ -x "$HANDOFF" ] || { echo "bench: $HANDOFF is not executable" >&2; exit 1; }
# Debian's python3 for every contender's worker, not a version manager's
# shim first in PATH (pyenv's runs a shell script and pyenv itself before
# Python: 0.4 s of CPU at every start, taken from the serving worker).
PATH=/usr/bin:$PATH
NGINX=$(command -v nginx)

# --- sizes ----------------------------------------------------------------
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 1 ] && ROLLS=${BENCH_ROLLS:-2} || ROLLS=${BENCH_ROLLS:-20}
scale() { # DIVISOR: ROLLS/DIVISOR, at least 1
    local n=$((ROLLS / $1))
    [ "$n" -ge 1 ] && echo "$n" || echo 1
}
R_STEADY=$ROLLS
R_HALF=$(scale 2)   # no drain, keep-alive, nginx
R_LONG=$(scale 4)   # 2 s requests: each roll drains for 2 s
R_SLOW=$(scale 5)   # 3 s to ready: each roll takes 3-4 s
R_FAIL=$(scale 5)
if [ "$QUICK" = 1 ]; then
    BASE_SECS=2 TP_ROUNDS=2 TP_SECS=1 STARTS=3 SCALE_ROLLS=${BENCH_SCALE_ROLLS:-5}
    CANARY_SECS=3
else
    BASE_SECS=6 TP_ROUNDS=9 TP_SECS=2 STARTS=10 SCALE_ROLLS=${BENCH_SCALE_ROLLS:-100}
    CANARY_SECS=10
fi
HEY_C=8        # clients of the main load, a new connection per request
SLOW_C=4       # clients of the 2 s requests, so some are in flight at every roll
WRK_C=32

R=${BENCH_OUT:-}
if [ -n "$R" ]; then
    mkdir -p "$R" && R=$(cd "$R" && pwd)
else
    R=$(mktemp -d "${TMPDIR:-/tmp}/handoff-bench.XXXXXX")
fi
echo "rolls=$ROLLS quick=$QUICK handoff=$HANDOFF" >"$R/meta"
# The machine, for the README's "Numbers": what a reader needs to compare.
{
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    echo "cores=$(nproc)"
    echo "memory_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "handoff=$("$HANDOFF" -V 2>&1 | head -n1)"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "server_starter=$(dpkg-query -W -f='${Version}' libserver-starter-perl 2>/dev/null)"
    echo "hey=$(dpkg-query -W -f='${Version}' hey 2>/dev/null)"
    echo "wrk=$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)"
} >"$R/machine"

# --- process bookkeeping: everything started here is stopped by its pid ---
STARTED=()
track() { STARTED+=("$1"); }

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    [ -n "${1:-}" ] || return 1
    st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# wait_gone PID SECONDS: poll every 10 ms until PID has exited.
wait_gone() {
    local pid=$1 n=$(($2 * 100)) i
    for ((i = 0; i < n; i++)); do
        alive "$pid" || return 0
        sleep 0.01
    done
    return 1
}

# stop_pid PID SIGNAL SECONDS: signal, wait bounded, then SIGKILL.
stop_pid() {
    alive "$1" || return 0
    kill -"$2" "$1" 2>/dev/null
    wait_gone "$1" "$3" || kill -KILL "$1" 2>/dev/null
    wait_gone "$1" 2
}

# Every process this run starts carries HANDOFF_BENCH_RUN in its
# environment, whoever its parent is (handoff, start_server, nginx, hey).
export HANDOFF_BENCH_RUN=$$

# leftovers: pid and command line of each process of this run still alive
# but this script: marked in its environment, or a descendant of one that
# is or of this script (nginx rewrites its own environment area with its
# process title).
leftovers() {
    env -u HANDOFF_BENCH_RUN python3 - "$$" <<'PY'
import os, sys
me, mark = sys.argv[1], b"HANDOFF_BENCH_RUN=" + sys.argv[1].encode()
procs = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/stat") as f:
            ppid = f.read().rsplit(")", 1)[1].split()[1]
        with open(f"/proc/{pid}/environ", "rb") as f:
            marked = mark in f.read().split(b"\0")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (OSError, IndexError):
        continue
    procs[pid] = (ppid, marked, cmd)
# This script's own environment in /proc predates the export: it is added
# by pid, so that what it started directly counts whatever its children did
# with their environment.
ours = {p for p, (pp, m, c) in procs.items() if m} | {me}
for _ in range(8):  # children of ours, a few levels down
    ours |= {p for p, (pp, m, c) in procs.items() if pp in ours}
for p in sorted(ours, key=int):
    # This script and its own subshells are not leftovers.
    if p in (me, str(os.getpid())) or "tests/bench/bench.sh" in procs[p][2]:
        continue
    print(p, procs[p][2][:120])
PY
}

cleanup() {
    local p kids left i
    for p in "${STARTED[@]}"; do
        alive "$p" || continue
        kids=$(pgrep -P "$p" 2>/dev/null)
        kill -TERM "$p" 2>/dev/null
        wait_gone "$p" 5 || kill -KILL "$p" $kids 2>/dev/null
    done
    # Whatever a supervisor left behind (a worker that outlived it): given
    # 5 s to go, then named and killed by pid.
    for ((i = 0; i < 50; i++)); do
        left=$(leftovers)
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -n "$left" ]; then
        echo "bench: left behind, now killed:" >&2
        echo "$left" >&2
        for p in $(echo "$left" | cut -d' ' -f1); do kill -KILL "$p" 2>/dev/null; done
    fi
    rm -f "$R"/*.bad
    [ -n "${BENCH_OUT:-}" ] || rm -rf "$R"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# at SECONDS: sleep until SECONDS after $T0, so rolls keep their schedule
# whatever each one costs (a late roll just starts at once).
at() {
    local d
    d=$(awk -v t0="$T0" -v s="$1" -v now="$EPOCHREALTIME" 'BEGIN { d = t0 + s - now; printf "%.3f", (d > 0 ? d : 0) }')
    sleep "$d"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# answer: the pid that answers on $PORT (empty if none does within 2 s).
answer() {
    curl -s --max-time 2 "http://127.0.0.1:$PORT/" 2>/dev/null | sed -n 's/^pid=\([0-9]*\).*/\1/p'
}

# wait_answer SECONDS [PID]: until something answers on $PORT; fails at
# once if PID (the process that should answer) exits first.
wait_answer() {
    local n=$(($1 * 10)) i
    for ((i = 0; i < n; i++)); do
        [ -n "$(answer)" ] && return 0
        [ -n "${2:-}" ] && ! alive "$2" && return 1
        sleep 0.1
    done
    return 1
}

# wait_log FILE REGEX SECONDS: until a line of FILE matches.
wait_log() {
    local n=$(($3 * 50)) i
    for ((i = 0; i < n; i++)); do
        grep -Eq -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.02
    done
    echo "bench: timed out waiting for /$2/ in $1" >&2
    return 1
}

# sup_stats PID: "VmRSS VmHWM cpu-ms" of a supervisor, from /proc. The CPU
# time is schedstat's (ns), since stat's clock ticks (10 ms) show 0 here.
sup_stats() {
    local rss hwm cpu
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    cpu=$(awk '{ printf "%.1f", $1 / 1e6 }' "/proc/$1/schedstat" 2>/dev/null)
    echo "${rss:--} ${hwm:--} ${cpu:--}"
}

# rss_split PID: "RssAnon RssFile" in kB: what the process itself allocated,
# and the pages of its binary and libraries it maps (shared with any other
# process that maps them).
rss_split() {
    awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { print (a == "" ? "-" : a), (f == "" ? "-" : f) }' \
        "/proc/$1/status" 2>/dev/null
}

# --- contenders -------------------------------------------------------------
# Each has NAME_start (sets PORT, SUP), NAME_roll I (one roll, bounded;
# appends "i outcome old new gone_ms" to $D/rolls) and NAME_stop. The worker
# options are in WARGS; BAD is the file that makes the version on disk bad.

# handoff: the sockets by LISTEN_FDS, promoted on READY=1 (sd_notify).
handoff_start() {
    "$HANDOFF" --traffic "${HTRAFFIC:-steered}" --pass systemd -n 1 -l 127.0.0.1:0 -- \
        python3 "$WORKER" "${WARGS[@]}" \
        >/dev/null 2>"$D/handoff.log" &
    SUP=$!
    track "$SUP"
    HGEN=1 HACTIVE=1
    wait_log "$D/handoff.log" 'event=promote gen=1 ' 30 || return 1
    PORT=$(grep -Eo 'event=listen .*address=[^ ]*:[0-9]+' "$D/handoff.log" | head -n1 | grep -Eo '[0-9]+$')
    wait_answer 10
}
handoff_roll() {
    local new=$((HGEN + 1)) old=$HACTIVE sig
    HGEN=$new
    # When the signal left, against the log's event=roll (same clock).
    sig=$EPOCHREALTIME
    kill -USR2 "$SUP"
    wait_log "$D/handoff.log" "event=(promote|roll_failed) gen=$new " 60 || return 1
    if grep -q "event=promote gen=$new " "$D/handoff.log"; then
        wait_log "$D/handoff.log" "event=gone gen=$old " 60
        HACTIVE=$new
        echo "$1 promoted $old $new - $sig" >>"$D/rolls"
    else
        wait_log "$D/handoff.log" "event=gone gen=$new " 60
        echo "$1 failed $old $new - $sig" >>"$D/rolls"
    fi
}
handoff_stop() { stop_pid "$SUP" TERM 35; }

# handoff with one socket for every generation (traffic = shared), as
# before steering: the comparison the warm-up scenario is for.
hshared_start() { HTRAFFIC=shared handoff_start; }
hshared_roll() { handoff_roll "$@"; }
hshared_stop() { handoff_stop; }

# Server::Starter: start_server holds the socket (SERVER_STARTER_PORT) and
# on SIGHUP starts a new worker, waits --interval seconds and, if it is
# still alive, sends the old one --signal-on-hup. A new worker that died is
# started again, every interval, until one lives.
ss_start() {
    PORT=$(free_port)
    start_server --port="127.0.0.1:$PORT" --signal-on-hup=TERM --interval="$SS_INTERVAL" -- \
        python3 "$WORKER" --server-starter "${WARGS[@]}" >"$D/ss.log" 2>&1 &
    SUP=$!
    track "$SUP"
    wait_answer 20 || return 1
    # Its first start_worker sleeps the interval before it handles a HUP.
    sleep "$SS_INTERVAL"
}
ss_roll() {
    local old t0 failed
    old=$(answer)
    t0=$(now_ms)
    failed=$(grep -Ec 'failed to start|died unexpectedly' "$D/ss.log")
    kill -HUP "$SUP"
    if [ "$FAILMODE" = per-roll ]; then
        # The bad version dies; start_server tries again every interval:
        # the version is fixed (BAD removed) once it has seen one failure.
        # If the bad worker lives longer than the interval (a slow start on
        # a busy machine), start_server has already sent the old one its
        # TERM and then sees the new one "die unexpectedly": a failure too.
        local n=$((SS_INTERVAL * 3 + 10)) t1
        t1=$(awk -v t="$EPOCHREALTIME" -v n="$n" 'BEGIN { printf "%d", t + n }')
        while [ "${EPOCHREALTIME%.*}" -lt "$t1" ]; do
            [ "$(grep -Ec 'failed to start|died unexpectedly' "$D/ss.log")" -gt "$failed" ] && break
            sleep 0.02
        done
        rm -f "$BAD"
    fi
    wait_gone "$old" 60 || return 1
    # Serving again (a worker that died after its interval is restarted).
    wait_answer 20 || return 1
    echo "$1 promoted $old - $(($(now_ms) - t0))" >>"$D/rolls"
}
ss_stop() { stop_pid "$SUP" TERM 35; }

# Naive: the worker binds its own port; a roll is kill, wait, start anew.
naive_spawn() {
    python3 "$WORKER" --bind-self "$PORT" "${WARGS[@]}" >/dev/null 2>&1 &
    WPID=$!
    track "$WPID"
    wait_answer 20 "$WPID"
}
naive_start() {
    PORT=$(free_port)
    SUP=
    naive_spawn
}
naive_roll() {
    local old=$WPID t0 gone outcome=promoted
    t0=$(now_ms)
    kill -TERM "$old"
    wait_gone "$old" 35 || kill -KILL "$old"
    gone=$(($(now_ms) - t0))
    if ! naive_spawn; then
        # The new version failed: the best a script can do is start the
        # old one again at once (here: the version is fixed).
        outcome=failed
        rm -f "$BAD"
        naive_spawn || return 1
    fi
    echo "$1 $outcome $old $WPID $gone" >>"$D/rolls"
}
naive_stop() { stop_pid "$WPID" TERM 35; }

# --- load -------------------------------------------------------------------
HEYPIDS=()
# hey_start OUT URLPATH CLIENTS [keepalive]: hey in the background until hey_stop.
hey_start() {
    local ka=-disable-keepalive
    [ "${4:-}" = keepalive ] && ka=
    hey -z 3600s -c "$3" -t 10 $ka "http://127.0.0.1:$PORT$2" >"$1" 2>&1 &
    HEYPIDS+=($!)
    track $!
}
# hey_stop: SIGINT makes hey print its summary; bounded.
hey_stop() {
    local p
    for p in "${HEYPIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
    for p in "${HEYPIDS[@]}"; do wait_gone "$p" 20 || kill -KILL "$p" 2>/dev/null; done
    HEYPIDS=()
}

# note_replaced I BEFORE: after roll I, record in $D/replaced whether it
# replaced the processes: a pid never seen before answers.
note_replaced() {
    local after
    after=$(answer)
    if [ -n "$after" ] && ! grep -qx "$after" "$D/seen"; then
        echo "$after" >>"$D/seen"
        echo "$1 yes $2 $after" >>"$D/replaced"
    else
        echo "$1 no $2 $after" >>"$D/replaced"
    fi
}

# --- one scenario against one contender (hey load) -------------------------
# Scenario settings, as globals: WOPTS (worker options), FAILMODE (none,
# always: the version on disk is bad from the first roll on, per-roll: bad
# for each roll, fixed after it), KEEPALIVE, SLOWREQ, SS_INTERVAL.
run_hey() { # SCENARIO CONTENDER ROLLS PACE
    local scen=$1 c=$2 n=$3 pace=$4 i before
    D=$R/$scen/$c
    mkdir -p "$D"
    : >"$D/rolls"
    BAD=$R/$scen.$c.bad
    rm -f "$BAD"
    WARGS=("${WOPTS[@]//@BAD@/$BAD}")
    WARGS=("${WARGS[@]//@REQ@/$D/requests}")
    echo "  $scen: $c" >&2
    if ! "${c}_start"; then
        echo "start failed" >"$D/error"
        "${c}_stop"
        return
    fi
    [ "$FAILMODE" = always ] && touch "$BAD"
    answer >"$D/seen"
    HEYPIDS=()
    hey_start "$D/hey.out" / "$HEY_C" $KEEPALIVE
    [ "$SLOWREQ" = 1 ] && hey_start "$D/hey.slow" "/slow?ms=2000" "$SLOW_C"
    T0=$EPOCHREALTIME
    for ((i = 1; i <= n; i++)); do
        at "$(awk -v i="$i" -v p="$pace" 'BEGIN { print 1 + (i - 1) * p }')"
        [ "$FAILMODE" = per-roll ] && touch "$BAD"
        before=$(answer)
        if ! "${c}_roll" "$i"; then
            echo "roll $i did not finish" >>"$D/error"
            rm -f "$BAD"
            break
        fi
        [ "$FAILMODE" = per-roll ] && rm -f "$BAD"
        note_replaced "$i" "$before"
    done
    if [ "$n" -eq 0 ]; then at "$BASE_SECS"; else at "$(awk -v n="$n" -v p="$pace" 'BEGIN { print 1 + n * p }')"; fi
    hey_stop
    [ -n "${SUP:-}" ] && sup_stats "$SUP" >"$D/sup"
    "${c}_stop"
    rm -f "$BAD"
}

# want NAME: NAME is to run (BENCH_ONLY is empty or names it).
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

# scenario NAME ROLLS PACE CONTENDERS...: run one scenario against each
# contender, the list rotated by the scenario's index.
SCEN_INDEX=0
scenario() {
    local name=$1 n=$2 pace=$3
    shift 3
    want "$name" || { SCEN_INDEX=$((SCEN_INDEX + 1)); return; }
    local list=("$@") k=$# j
    echo "$name" >>"$R/scenarios"
    for ((j = 0; j < k; j++)); do
        run_hey "$name" "${list[$(((j + SCEN_INDEX) % k))]}" "$n" "$pace"
    done
    SCEN_INDEX=$((SCEN_INDEX + 1))
}

START=$(date +%s)
[ -n "${BENCH_OUT:-}" ] && echo "bench: raw results in $R" >&2
CONTENDERS=(handoff naive ss)

# Steady state, no roll: the p99 every roll is held against.
WOPTS=() FAILMODE=none KEEPALIVE= SLOWREQ=0 SS_INTERVAL=1
scenario baseline 0 0 "${CONTENDERS[@]}"

# Steady rolls: a roll every 1.3 s (start_server needs its 1 s interval).
scenario steady "$R_STEADY" 1.3 "${CONTENDERS[@]}"

# A new version 3 s slow to become ready. start_server cannot know when a
# worker is ready: it needs --interval=4 (3 s plus Python's start, in whole
# seconds, the unit of its sleep), or it drains the old one too soon.
WOPTS=(--bad-if "@BAD@" --ready-after 3) FAILMODE=always SS_INTERVAL=4
scenario slow_ready "$R_SLOW" 6 "${CONTENDERS[@]}"

# A new version that exits at start.
WOPTS=(--bad-if "@BAD@" --exit-at-start 1) FAILMODE=per-roll SS_INTERVAL=1
scenario fail_start "$R_FAIL" 3.5 "${CONTENDERS[@]}"

# 2 s requests in flight during every roll (a second hey on /slow).
WOPTS=() FAILMODE=none SLOWREQ=1
scenario long_requests "$R_LONG" 4 "${CONTENDERS[@]}"
SLOWREQ=0

# A new version that accepts at once but answers 503 for 2 s, READY=1 once
# warm: steered, handoff gives it no client before then; with one shared
# socket (handoff's traffic = shared, Server::Starter) it serves errors.
# Each request the worker answers is logged (CLOCK_MONOTONIC): readiness ->
# the first client connection of the new generation.
WOPTS=(--warm-up 2 --log-requests @REQ@) SS_INTERVAL=3
scenario warm_up "$R_HALF" 4 handoff hshared ss
WOPTS=() SS_INTERVAL=1

# A server without graceful drain: it dies at once on SIGTERM.
WOPTS=(--no-drain)
scenario no_drain "$R_HALF" 1.3 "${CONTENDERS[@]}"

# Keep-alive clients: HTTP/1.1, idle connections closed when draining.
WOPTS=(--http11) KEEPALIVE=keepalive
scenario keepalive "$R_HALF" 1.3 "${CONTENDERS[@]}"
KEEPALIVE=

# --- nginx -----------------------------------------------------------------
# ngx_conf DIR PORT: the one configuration every nginx here runs; only the
# prefix and the port differ. It answers with the pid of its worker.
ngx_conf() {
    mkdir -p "$1"
    cat >"$1/nginx.conf" <<CONF
worker_processes 2;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1;
    uwsgi_temp_path $1; scgi_temp_path $1;
    server { listen 127.0.0.1:$2; location / { return 200 "pid=\$pid\n"; } }
}
CONF
}

# nginx under handoff, through the shim; SIGQUIT is nginx's graceful stop.
nghandoff_start() {
    PORT=$(free_port)
    ngx_conf "$D/ngx" "$PORT"
    "$HANDOFF" -l "127.0.0.1:$PORT" --drain-signal QUIT -- \
        "$NGINX" -p "$D/ngx" -c "$D/ngx/nginx.conf" -g 'daemon off;' >/dev/null 2>"$D/handoff.log" &
    SUP=$!
    track "$SUP"
    HGEN=1 HACTIVE=1
    wait_log "$D/handoff.log" 'event=promote gen=1 ' 30 || return 1
    wait_answer 10
}
nghandoff_roll() { handoff_roll "$@"; }
nghandoff_stop() { handoff_stop; }

# nginx alone: its master rereads the configuration, starts new workers and
# drains the old ones with SIGQUIT.
ngreload_start() {
    PORT=$(free_port)
    ngx_conf "$D/ngx" "$PORT"
    "$NGINX" -p "$D/ngx" -c "$D/ngx/nginx.conf" -g 'daemon off;' >"$D/ngx/out" 2>&1 &
    NGPID=$!
    SUP=
    track "$NGPID"
    wait_answer 10
}
ngreload_roll() {
    local olds t0 p
    olds=$(pgrep -P "$NGPID")
    t0=$(now_ms)
    "$NGINX" -p "$D/ngx" -c "$D/ngx/nginx.conf" -s reload 2>>"$D/ngx/out" || return 1
    for p in $olds; do wait_gone "$p" 60 || return 1; done
    echo "$1 promoted - - $(($(now_ms) - t0))" >>"$D/rolls"
}
ngreload_stop() {
    local kids
    kids=$(pgrep -P "$NGPID")
    stop_pid "$NGPID" QUIT 35
    for p in $kids; do stop_pid "$p" KILL 1; done
}

# nginx stopped gracefully (SIGQUIT), then started again.
ngnaive_start() { ngreload_start; }
ngnaive_roll() {
    local old=$NGPID t0 gone
    t0=$(now_ms)
    kill -QUIT "$old"
    wait_gone "$old" 35 || return 1
    gone=$(($(now_ms) - t0))
    "$NGINX" -p "$D/ngx" -c "$D/ngx/nginx.conf" -g 'daemon off;' >>"$D/ngx/out" 2>&1 &
    NGPID=$!
    track "$NGPID"
    wait_answer 10 "$NGPID" || return 1
    echo "$1 promoted $old $NGPID $gone" >>"$D/rolls"
}
ngnaive_stop() { ngreload_stop; }

# run_wrk SCENARIO CONTENDER ROLLS PACE [close]: wrk for the whole schedule.
run_wrk() {
    local scen=$1 c=$2 n=$3 pace=$4 mode=${5:-} i before dur wrkpid
    local hdr=()
    [ "$mode" = close ] && hdr=(-H 'Connection: close')
    D=$R/$scen/$c
    mkdir -p "$D"
    : >"$D/rolls"
    echo "  $scen: $c" >&2
    "${c}_start" || { echo "start failed" >"$D/error"; "${c}_stop"; return; }
    answer >"$D/seen"
    dur=$(awk -v n="$n" -v p="$pace" 'BEGIN { printf "%d", 1 + n * p + 1.5 }')
    wrk -t2 -c"$WRK_C" -d"${dur}s" --timeout 10s --latency "${hdr[@]}" "http://127.0.0.1:$PORT/" >"$D/wrk.out" 2>&1 &
    wrkpid=$!
    track "$wrkpid"
    T0=$EPOCHREALTIME
    for ((i = 1; i <= n; i++)); do
        at "$(awk -v i="$i" -v p="$pace" 'BEGIN { print 1 + (i - 1) * p }')"
        before=$(answer)
        "${c}_roll" "$i" || { echo "roll $i did not finish" >>"$D/error"; break; }
        note_replaced "$i" "$before"
    done
    wait_gone "$wrkpid" $((dur + 15)) || kill -KILL "$wrkpid"
    [ -n "${SUP:-}" ] && sup_stats "$SUP" >"$D/sup"
    "${c}_stop"
}

NGINX_CONTENDERS=(nghandoff ngreload ngnaive)
for mode in close keepalive; do
    name=nginx_$mode
    want "$name" || { SCEN_INDEX=$((SCEN_INDEX + 1)); continue; }
    echo "$name" >>"$R/scenarios"
    for ((j = 0; j < 3; j++)); do
        run_wrk "$name" "${NGINX_CONTENDERS[$(((j + SCEN_INDEX) % 3))]}" "$R_HALF" 1 "$mode"
    done
    SCEN_INDEX=$((SCEN_INDEX + 1))
done

# --- overhead ----------------------------------------------------------------
if want overhead; then
    echo "  overhead: throughput" >&2
    # nginx alone and under handoff, both idle but for the round being measured;
    # rounds alternate, and which goes first alternates too.
    mkdir -p "$R/tp/alone" "$R/tp/handoff"
    D=$R/tp/alone
    ngreload_start
    APORT=$PORT ALONE=$NGPID
    D=$R/tp/handoff
    nghandoff_start
    HPORT=$PORT
    D=$R/tp
    for mode in keepalive close; do
        hdr=()
        [ "$mode" = close ] && hdr=(-H 'Connection: close')
        for ((r = 1; r <= TP_ROUNDS; r++)); do
            if [ $((r % 2)) = 1 ]; then order="alone handoff"; else order="handoff alone"; fi
            for who in $order; do
                [ "$who" = alone ] && p=$APORT || p=$HPORT
                timeout $((TP_SECS + 20)) wrk -t2 -c"$WRK_C" -d"${TP_SECS}s" --latency "${hdr[@]}" \
                    "http://127.0.0.1:$p/" >"$D/$mode.$who.$r" 2>&1
            done
        done
    done
    [ -n "${SUP:-}" ] && sup_stats "$SUP" >"$D/sup"
    handoff_stop
    NGPID=$ALONE
    ngreload_stop

    echo "  overhead: start-up, RSS next to tini" >&2
    python3 "$BENCH/startup.py" "$HANDOFF" "$WORKER" "$STARTS" >"$R/startup" 2>>"$R/startup.err"

    # RSS: tini and handoff, each managing the same worker that has served 200
    # requests.
    D=$R/rss
    mkdir -p "$D"
    PORT=$(free_port)
    tini -s -- python3 "$WORKER" --bind-self "$PORT" >/dev/null 2>&1 &
    TPID=$!
    track "$TPID"
    if wait_answer 10; then
        for i in $(seq 200); do answer >/dev/null; done
        echo "tini $(sup_stats "$TPID") $(rss_split "$TPID")" >"$D/rss"
    fi
    stop_pid "$TPID" TERM 10
    WARGS=()
    handoff_start && for i in $(seq 200); do answer >/dev/null; done
    echo "handoff $(sup_stats "$SUP") $(rss_split "$SUP")" >>"$D/rss"
    handoff_stop
fi

# --- scale ---------------------------------------------------------------
# handoff alone with many listeners and many processes, rolled back to back
# with `handoff roll` (which returns once the new generation is promoted or
# rolled back). The worker is tinyworker.c: a C program that takes
# LISTEN_FDS, says READY=1 and dies on SIGTERM, so that 64 processes x 100
# rolls measure the supervisor rather than a worker's start. One axis at a
# time from the largest point (1,000 listeners, 64 processes, 100 rolls):
# listeners 10, 100 at 64 processes, then processes 1, 8 at 1,000 listeners.
# scale_run LISTENERS PROCESSES ROLLS: one line "L P N wall_ms
# rss_after_start_kB rss_end_kB peak_rss_kB cpu_ms ok" in $R/scale/result;
# the per-roll times are in the log (report.py reads them).
scale_run() {
    local l=$1 p=$2 n=$3 i args=() t0 t1 st en ok=ok port rolls_ms=()
    D=$R/scale/$l.$p
    mkdir -p "$D"
    echo "  scale: $l listeners, $p processes, $n rolls" >&2
    for ((i = 0; i < l; i++)); do args+=(-l 127.0.0.1:0); done
    "$HANDOFF" --control "$D/ctl.sock" --pass systemd --ready notify -n "$p" \
        --ready-timeout 60s --drain-timeout 10s "${args[@]}" -- "$TINY" --mono \
        >/dev/null 2>"$D/handoff.log" &
    SUP=$!
    track "$SUP"
    if ! wait_log "$D/handoff.log" 'event=promote gen=1 ' 120; then
        echo "$l $p $n - - - - - - start-failed" >>"$R/scale/result"
        handoff_stop
        return
    fi
    st=$(sup_stats "$SUP")
    t0=$EPOCHREALTIME
    for ((i = 1; i <= n; i++)); do
        # Bounded: a roll that hangs ends the run, it does not stall the bench.
        if ! timeout 120 "$HANDOFF" roll --control "$D/ctl.sock" >/dev/null 2>>"$D/roll.err"; then
            ok="roll-$i-failed"
            break
        fi
    done
    t1=$EPOCHREALTIME
    # The last old generation drains too: wait for it, so that the memory
    # figure is taken with one generation left, as it would be in service.
    wait_log "$D/handoff.log" "event=gone gen=$n " 30 || ok="gen-$n-not-gone"
    # The last listener still answers after all the rolls.
    port=$(grep -Eo 'event=listen .*address=[^ ]*:[0-9]+' "$D/handoff.log" | tail -n1 | grep -Eo '[0-9]+$')
    curl -s --max-time 5 "http://127.0.0.1:$port/" | grep -q '^pid=' || ok="last-listener-silent"
    en=$(sup_stats "$SUP")
    # rss_after_start rss_end hwm_end cpu_ms (cpu of the whole run).
    echo "$l $p $n $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }') \
$(echo "$st" | cut -d' ' -f1) $en $ok" >>"$R/scale/result"
    handoff_stop
}

if want scale; then
    TINY=$(dirname "$HANDOFF")/tests/bench/tinyworker
    if [ ! -x "$TINY" ]; then
        TINY=$R/tinyworker
        ${CC:-cc} -O2 -o "$TINY" "$BENCH/tinyworker.c" || { echo "bench: cannot build tinyworker" >&2; exit 1; }
    fi
    # 1,000 listeners x 64 processes: handoff holds 1,000 fds, each worker
    # 1,000 more; the soft limit (often 1,024) is raised to the hard one.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null
    mkdir -p "$R/scale"
    : >"$R/scale/result"
    echo scale >>"$R/scenarios"
    # The full point gets every roll; the smaller ones a fifth (at least
    # 2): they are compared per roll, and 100 rolls of each would double
    # the bench's time for the same figures.
    axis=$((SCALE_ROLLS / 5))
    [ "$axis" -ge 2 ] || axis=2
    scale_run 1000 64 "$SCALE_ROLLS"
    for l in 10 100; do scale_run "$l" 64 "$axis"; done
    for p in 1 8; do scale_run 1000 "$p" "$axis"; done
fi

# --- progressive delivery ------------------------------------------------------
# The canary's share and stickiness over 10,000 client addresses; a failed
# guard -> the first connection served by the old generation; nginx with a
# 10% canary against nginx alone and against the same canary done by an
# nginx split_clients proxy in front of two nginx (the hop paid today).
if want canary; then
    echo "  canary: share over 10,000 addresses, guard to rollback" >&2
    D=$R/canary
    mkdir -p "$D"
    echo canary >>"$R/scenarios"
    PORT=$(free_port)
    "$HANDOFF" --pass systemd --control "$D/ctl" -l "127.0.0.1:$PORT" --canary 10%/60s \
        --guard "http://127.0.0.1:$PORT/health" --guard-interval 100ms \
        -- python3 "$WORKER" --bad-gens 3 --sick-after 2 >/dev/null 2>"$D/handoff.log" &
    SUP=$!
    track "$SUP"
    wait_log "$D/handoff.log" 'event=promote gen=1 ' 30
    "$HANDOFF" roll --control "$D/ctl" >/dev/null 2>&1 &
    track $!
    wait_log "$D/handoff.log" 'event=canary gen=2 ' 30
    python3 "$top/tests/servers/manyclients.py" --port "$PORT" --seconds "$CANARY_SECS" \
        --threads 8 --sources 10000 --out "$D/share"
    "$HANDOFF" promote --control "$D/ctl" >/dev/null 2>&1
    wait_log "$D/handoff.log" 'event=promote gen=2 ' 30
    # Generation 3's health fails 2 s after its start: its guard rolls back
    # while clients from 2,000 addresses connect.
    python3 "$top/tests/servers/manyclients.py" --port "$PORT" --seconds 8 \
        --threads 8 --sources 2000 --net 127.9 --out "$D/guard" &
    track $!
    cl=$!
    "$HANDOFF" roll --control "$D/ctl" >"$D/roll3" 2>&1
    wait "$cl"
    handoff_stop

    echo "  canary: nginx alone, under handoff with a 10% canary, behind a split_clients proxy" >&2
    mkdir -p "$D/ng"
    # nginx under handoff, in a canary for the whole measure: two
    # generations serve, steered by the program.
    PORT=$(free_port)
    ngx_conf "$D/ng/h" "$PORT"
    "$HANDOFF" -l "127.0.0.1:$PORT" --drain-signal QUIT --control "$D/ng/ctl" --canary 10%/10m -- \
        "$NGINX" -p "$D/ng/h" -c "$D/ng/h/nginx.conf" -g 'daemon off;' >/dev/null 2>"$D/ng/handoff.log" &
    SUP=$!
    track "$SUP"
    wait_log "$D/ng/handoff.log" 'event=promote gen=1 ' 30
    "$HANDOFF" roll --control "$D/ng/ctl" >/dev/null 2>&1 &
    track $!
    wait_log "$D/ng/handoff.log" 'event=canary gen=2 ' 30
    HPORT=$PORT HSUP=$SUP
    # nginx alone
    APORT=$(free_port)
    ngx_conf "$D/ng/a" "$APORT"
    "$NGINX" -p "$D/ng/a" -c "$D/ng/a/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 &
    ALONE=$!
    track "$ALONE"
    # split_clients: a proxy nginx sends 10% of client addresses to one
    # backend nginx, the rest to another, over keep-alive upstreams.
    B1=$(free_port) B2=$(free_port) XPORT=$(free_port)
    ngx_conf "$D/ng/b1" "$B1"
    ngx_conf "$D/ng/b2" "$B2"
    mkdir -p "$D/ng/x"
    cat >"$D/ng/x/nginx.conf" <<CONF
worker_processes 2;
pid $D/ng/x/nginx.pid;
error_log $D/ng/x/error.log;
events { worker_connections 2048; }
http {
    access_log off;
    client_body_temp_path $D/ng/x; proxy_temp_path $D/ng/x; fastcgi_temp_path $D/ng/x;
    uwsgi_temp_path $D/ng/x; scgi_temp_path $D/ng/x;
    split_clients "\${remote_addr}\${remote_port}" \$pool { 10% canary; * stable; }
    upstream stable { server 127.0.0.1:$B1; keepalive 32; }
    upstream canary { server 127.0.0.1:$B2; keepalive 32; }
    server {
        listen 127.0.0.1:$XPORT;
        location / { proxy_pass http://\$pool; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
    for d in b1 b2 x; do
        "$NGINX" -p "$D/ng/$d" -c "$D/ng/$d/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 &
        track $!
        echo $! >"$D/ng/$d.pid"
    done
    for p in "$HPORT" "$APORT" "$XPORT"; do PORT=$p; wait_answer 10; done
    for ((r = 1; r <= TP_ROUNDS; r++)); do
        for who in alone handoff proxy; do
            case $who in alone) p=$APORT ;; handoff) p=$HPORT ;; proxy) p=$XPORT ;; esac
            timeout $((TP_SECS + 20)) wrk -t2 -c"$WRK_C" -d"${TP_SECS}s" --latency \
                "http://127.0.0.1:$p/" >"$D/ng/$who.$r" 2>&1
        done
    done
    SUP=$HSUP
    handoff_stop
    for d in b1 b2 x; do stop_pid "$(cat "$D/ng/$d.pid")" QUIT 10; done
    NGPID=$ALONE
    ngreload_stop
fi

# --- upgrading handoff itself ----------------------------------------------
# handoff upgrade (the master executes a new build of itself in its own
# process) against what upgrading handoff costs without it: stop the master
# and start it again, as a restart script would. Both under the same load:
# hey, a new connection per request, and gapprobe.py, one client back to
# back, whose answers show how long a client waited. Each event is marked
# (wall clock, as the probe's) in $D/events: "i start end master_ms
# outcome master_pid_after answering_pid_before answering_pid_after".
# The upgrades alternate the build under test and tests/upgrade/handoff-next
# (the same code, another -V) when it is built.
if want upgrade; then
    N_UP=$R_HALF
    NEXT=$(dirname "$HANDOFF")/tests/upgrade/handoff-next
    [ -x "$NEXT" ] || NEXT=$HANDOFF
    # up_start: the master on $PORT (the same port again after a stop).
    up_start() {
        "$HANDOFF" --control "$D/ctl.sock" --pass systemd -n 1 -l "127.0.0.1:$PORT" -- \
            python3 "$WORKER" >/dev/null 2>>"$D/handoff.log" &
        SUP=$!
        track "$SUP"
    }
    for c in upgrade restart; do
        D=$R/upgrade/$c
        mkdir -p "$D"
        : >"$D/events"
        echo "  upgrade: $c x $N_UP" >&2
        PORT=$(free_port)
        up_start
        if ! wait_answer 30 "$SUP"; then
            echo "start failed" >"$D/error"
            handoff_stop
            continue
        fi
        echo "$SUP" >"$D/first_pid"
        echo "$HEY_C" >"$R/upgrade/hey_c"
        HEYPIDS=()
        hey_start "$D/hey.out" / "$HEY_C"
        python3 "$BENCH/gapprobe.py" "$PORT" "$D/probe" &
        probe=$!
        track "$probe"
        sleep 1
        for ((i = 1; i <= N_UP; i++)); do
            before=$(answer)
            t0=$EPOCHREALTIME
            if [ "$c" = upgrade ]; then
                if [ $((i % 2)) = 1 ]; then bin=$NEXT; else bin=$HANDOFF; fi
                out=$(timeout 60 "$HANDOFF" upgrade --control "$D/ctl.sock" --binary "$bin" 2>&1)
                t1=$EPOCHREALTIME
                echo "$out" >>"$D/upgrade.out"
                case $out in
                upgraded*) outcome=ok ms=${out##*ms=} ;;
                *) outcome=refused ms=- ;;
                esac
            else
                stop_pid "$SUP" TERM 35
                up_start
                wait_answer 30 "$SUP" && outcome=ok || outcome=failed
                t1=$EPOCHREALTIME
                ms=-
            fi
            echo "$i $t0 $t1 $ms $outcome $SUP $before $(answer)" >>"$D/events"
            sleep 1
        done
        kill -TERM "$probe" 2>/dev/null
        wait_gone "$probe" 10
        hey_stop
        sup_stats "$SUP" >"$D/sup"
        handoff_stop
    done
fi

# --- DNS over UDP -------------------------------------------------------------
# dnsmasq (it binds its own 127.0.0.1 socket, UDP and TCP on one port) under
# dnsperf at 3,000 queries/s for 21 s with 5 rolls: through handoff's shim,
# steered (the default for UDP) and with one shared socket, next to the same
# dnsmasq stopped and started again by a shell loop, as an operator's
# restart does. Then a version that answers SERVFAIL for 2 s after it
# starts reading (udpgen.py --dns --warm 2), steered and shared. dnsperf -v
# prints every answer's rcode and latency: the p99 comes from those. The
# figures and handoff's swap_us (the program swap at promotion) are in
# report.py's "DNS over UDP".
if want udp; then
    DNS_QPS=3000
    UDPGEN=$top/tests/servers/udpgen.py
    # udp_port: a port of 127.0.0.1 free for UDP and TCP both, the kernel's choice.
    udp_port() {
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
    # dns_answers: www.example's A record comes back over UDP within 1 s.
    dns_answers() {
        [ -n "$(dig +short +tries=1 +time=1 -p "$PORT" @127.0.0.1 www.example A 2>/dev/null)" ]
    }
    # wait_dns SECONDS [PID]: until $PORT answers; fails at once if PID exits.
    wait_dns() {
        local n=$(($1 * 20)) i
        for ((i = 0; i < n; i++)); do
            dns_answers && return 0
            [ -n "${2:-}" ] && ! alive "$2" && return 1
            sleep 0.05
        done
        return 1
    }
    DNSMASQ=(dnsmasq -k -C /dev/null --listen-address=127.0.0.1 --bind-interfaces
        --no-resolv --no-hosts --address=/example/10.0.0.1 --user="$(id -un)" --pid-file=)
    # dnsmasq through the shim, a UDP and a TCP listener on one port
    # (udp_dns.sh's flags); HTRAFFIC steered or shared.
    dnshandoff_start() {
        PORT=$(udp_port)
        "$HANDOFF" --traffic "$HTRAFFIC" -l "dns=udp:127.0.0.1:$PORT" -l "dnstcp=127.0.0.1:$PORT" -- \
            "${DNSMASQ[@]}" --port="$PORT" >/dev/null 2>"$D/handoff.log" &
        SUP=$!
        track "$SUP"
        HGEN=1 HACTIVE=1
        wait_log "$D/handoff.log" 'event=promote gen=1 ' 30 && wait_dns 10
    }
    # The same dnsmasq alone: a restart is kill, wait for its exit, start
    # again on the same port.
    dnsrestart_spawn() {
        "${DNSMASQ[@]}" --port="$PORT" >/dev/null 2>>"$D/dnsmasq.log" &
        WPID=$!
        track "$WPID"
        wait_dns 10 "$WPID"
    }
    dnsrestart_start() {
        PORT=$(udp_port)
        SUP=
        dnsrestart_spawn
    }
    dnsrestart_roll() {
        local old=$WPID t0
        t0=$(now_ms)
        kill -TERM "$old"
        wait_gone "$old" 35 || kill -KILL "$old"
        dnsrestart_spawn || return 1
        echo "$1 promoted $old $WPID $(($(now_ms) - t0))" >>"$D/rolls"
    }
    # udpgen.py answering SERVFAIL for its first 2 s: it says READY=1 as it
    # begins reading, before it is warm, so both runs wait ready = delay:3s,
    # the operator's allowance for the warm-up.
    warmgen_start() {
        PORT=$(udp_port)
        "$HANDOFF" --traffic "$HTRAFFIC" --pass systemd --ready delay:3s -l "dns=udp:127.0.0.1:$PORT" -- \
            python3 "$UDPGEN" --dns --warm 2 --rcvbuf 4194304 >/dev/null 2>"$D/handoff.log" &
        SUP=$!
        track "$SUP"
        HGEN=1 HACTIVE=1
        wait_log "$D/handoff.log" 'event=promote gen=1 ' 30 || return 1
        # The first generation warms up before any query comes.
        sleep 2.2
        wait_dns 10
    }
    # dns_run NAME START ROLL ROLLS PACE: dnsperf for the whole schedule, a
    # roll every PACE s from 2 s on, 3 s more after the last.
    dns_run() {
        local name=$1 start=$2 roll=$3 n=$4 pace=$5 i dur dp
        D=$R/udp/$name
        mkdir -p "$D"
        : >"$D/rolls"
        echo "  udp: $name" >&2
        if ! "$start"; then
            echo "start failed" >"$D/error"
            [ -n "${SUP:-}" ] && handoff_stop
            [ -n "${WPID:-}" ] && stop_pid "$WPID" TERM 10
            return
        fi
        dur=$(awk -v n="$n" -v p="$pace" 'BEGIN { printf "%d", 2 + (n - 1) * p + 3 }')
        dnsperf -s 127.0.0.1 -p "$PORT" -d "$R/udp/queries" -Q "$DNS_QPS" -l "$dur" -t 2 -v \
            >"$D/dnsperf.out" 2>&1 &
        dp=$!
        track "$dp"
        T0=$EPOCHREALTIME
        for ((i = 1; i <= n; i++)); do
            at "$(awk -v i="$i" -v p="$pace" 'BEGIN { print 2 + (i - 1) * p }')"
            "$roll" "$i" || { echo "roll $i did not finish" >>"$D/error"; break; }
        done
        wait_gone "$dp" $((dur + 15)) || kill -KILL "$dp"
        echo "$DNS_QPS $dur $n" >"$D/load"
        if [ -n "${SUP:-}" ]; then
            sup_stats "$SUP" >"$D/sup"
            handoff_stop
        else
            stop_pid "$WPID" TERM 10
        fi
        WPID='' SUP=''
    }
    mkdir -p "$R/udp"
    for i in $(seq 1000); do echo "www.example A"; done >"$R/udp/queries"
    echo udp >>"$R/scenarios"
    WPID='' SUP=''
    HTRAFFIC=steered dns_run steered dnshandoff_start handoff_roll 5 3.5
    HTRAFFIC=shared dns_run shared dnshandoff_start handoff_roll 5 3.5
    dns_run restart dnsrestart_start dnsrestart_roll 5 3.5
    HTRAFFIC=steered dns_run warm_steered warmgen_start handoff_roll 5 4.5
    HTRAFFIC=shared dns_run warm_shared warmgen_start handoff_roll 5 4.5
fi

if want liveness; then
    LIVE=$top/tests/servers/liveserver.py
    # live_run NAME SECONDS INTERVAL PLAN: liveserver.py under hey for
    # SECONDS (8 connections, each request bounded by 2 s), its generations
    # doing what PLAN says (liveserver.py --plan); liveness = an HTTP GET of
    # the server every INTERVAL, 3 failures in a row (none: no liveness).
    live_run() {
        local name=$1 secs=$2 every=$3 plan=$4 flags=()
        D=$R/liveness/$name
        mkdir -p "$D"
        echo "  liveness: $name" >&2
        printf '%s\n' "$plan" >"$D/plan"
        PORT=$(free_port)
        [ "$every" = none ] ||
            flags=(--liveness "http://127.0.0.1:$PORT/" --liveness-interval "$every"
                --liveness-failures 3 --liveness-timeout 500ms)
        "$HANDOFF" -l "127.0.0.1:$PORT" --pass systemd --ready notify --drain-timeout 3s --stop-timeout 3s \
            "${flags[@]}" -- python3 "$LIVE" --plan "$D/plan" >/dev/null 2>"$D/handoff.log" &
        SUP=$!
        track "$SUP"
        if ! wait_log "$D/handoff.log" 'event=promote gen=1 ' 30; then
            echo "start failed" >"$D/error"
            handoff_stop
            return
        fi
        hey -z "${secs}s" -c 8 -t 2 -disable-keepalive "http://127.0.0.1:$PORT/" >"$D/hey.out" 2>&1
        echo "$secs $every" >"$D/load"
        handoff_stop
        SUP=''
    }
    mkdir -p "$R/liveness"
    echo liveness >>"$R/scenarios"
    # A version that hangs 3 s after its start (accepts, never answers),
    # with liveness every 500 ms and without.
    live_run hang_liveness 20 500ms "1 --hang-after 3"
    live_run hang_none 20 none "1 --hang-after 3"
    # No false verdict: a healthy server probed every 100 ms under load.
    [ "$QUICK" = 1 ] && lsecs=${BENCH_LIVENESS_SECONDS:-30} || lsecs=${BENCH_LIVENESS_SECONDS:-600}
    live_run healthy "$lsecs" 100ms "* "
    # GET /readyz from SIGTERM on, with stop_delay 2s: the time until the
    # first 503 (an orchestrator's probe stops sending clients), while the
    # server still answers; 5 stops.
    for i in 1 2 3 4 5; do
        D=$R/liveness/readyz
        mkdir -p "$D"
        PORT=$(free_port) MPORT=$(free_port)
        printf '* \n' >"$D/plan"
        "$HANDOFF" -l "127.0.0.1:$PORT" --pass systemd --ready notify --stop-delay 2s \
            --metrics "127.0.0.1:$MPORT" -- python3 "$LIVE" --plan "$D/plan" >/dev/null 2>"$D/handoff.log" &
        SUP=$!
        track "$SUP"
        wait_log "$D/handoff.log" 'event=promote gen=1 ' 30 || { handoff_stop; continue; }
        t0=$EPOCHREALTIME
        kill -TERM "$SUP"
        for ((k = 0; k < 400; k++)); do
            c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$MPORT/readyz")
            [ "$c" = 503 ] && break
        done
        t1=$EPOCHREALTIME
        body=$(curl -s --max-time 1 "http://127.0.0.1:$PORT/")
        echo "$c $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }') ${body%% *}" >>"$D/stops"
        handoff_stop
        SUP=''
    done
fi

echo "$(($(date +%s) - START))" >"$R/elapsed"
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$R/machine"
python3 "$BENCH/report.py" "$R" | tee "$R/table.md"
