# inherit.sh: stock servers that know nothing of handoff take their sockets
# from the variables of pass = inherit (Starman from SERVER_STARTER_PORT,
# gunicorn from LISTEN_FDS, nginx from NGINX, without the shim) and roll
# under load with no failed request.
. "$TOP_SRCDIR/tests/integration/lib.sh"
# nginx lives in /usr/sbin, which a non-root PATH often lacks.
PATH=$PATH:/usr/sbin:/sbin
need hey curl python3 pgrep starman gunicorn nginx


# gen_pid N: the pid of generation N's process (the server's own master).
gen_pid() { sed -n "s/.*event=spawn gen=$1 pid=\([0-9]*\) .*/\1/p" "$LOG" | head -n1; }

# parent_of PID: its parent's pid (empty if it is gone). Not from a split
# of /proc/PID/stat: a renamed Starman's comm has spaces.
parent_of() { ps -o ppid= -p "$1" | tr -d ' '; }

# served_by N: until a request is answered by a worker process of
# generation N (bounded); sets SERVED to that worker's pid.
served_by() {
    local master i
    master=$(gen_pid "$1")
    [ -n "$master" ] || fail "no spawn line for generation $1"
    for i in $(seq 50); do
        SERVED=$(pid_serving)
        [ -n "$SERVED" ] && [ "$(parent_of "$SERVED")" = "$master" ] && return 0
        sleep 0.1
    done
    fail "generation $1 (pid $master) does not serve: last answer from pid ${SERVED:-none}"
}

# rolls_under_load NAME ROLLS [LOSS]: generation 1 serves; then ROLLS rolls
# under hey (a new connection per request), each promoted, each previous
# generation gone before the next roll, and after each a new worker pid
# answers; no request failed, or at most LOSS that the server itself
# dropped (read EOF or reset, never refused or timed out); then stop, and
# no process of NAME is left.
rolls_under_load() {
    local name=$1 rolls=$2 loss=${3:-0} t0=$SECONDS k prev seen bad
    wait_log 'event=(promote|roll_failed) ' 1 30
    [ "$(count 'event=roll_failed ')" -eq 0 ] || fail "$name: generation 1 was not promoted"
    served_by 1
    seen=" $SERVED "
    load_start 4
    for k in $(seq 2 $((rolls + 1))); do
        roll_and_wait "$k"
        [ "$(count 'event=promote ')" -eq "$k" ] || fail "$name: roll $((k - 1)) was not promoted"
        wait_log "event=gone gen=$((k - 1)) " 1 30
        served_by "$k"
        case "$seen" in
        *" $SERVED "*) fail "$name: roll $((k - 1)): pid $SERVED answered before the roll too" ;;
        esac
        seen="$seen$SERVED "
    done
    load_stop
    [ "$REQS" -gt 0 ] || fail "$name: hey made no request"
    [ "$FAILED" -le "$loss" ] || fail "$name: $FAILED of $REQS requests failed during $rolls rolls"
    bad=$(sed -n '/Error distribution/,$p' "$T/hey.out" | grep -E '^ *\[' |
        grep -Ev ': EOF$|connection reset by peer$' || true)
    [ -z "$bad" ] || fail "$name: failures other than a dropped connection: $bad"
    stop_handoff
    [ "$STATUS" -eq 0 ] || fail "$name: handoff exited $STATUS"
    prev=$(pgrep -f "$T/" || true)
    [ -z "$prev" ] || fail "$name: still running after the stop: $(ps -o pid=,args= -p $prev)"
    ok "$name: $rolls rolls under hey -c 4, $REQS requests, $FAILED failed, every roll promoted, a new pid after each, nothing left ($((SECONDS - t0)) s)"
}

# --- Starman (Server::Starter's SERVER_STARTER_PORT) ----------------------
# Plack::Handler::Starman becomes a Net::Server::SS::PreFork when
# SERVER_STARTER_PORT is set, and takes host:port=fd from it. Starman does
# not speak sd_notify, and a probe of the shared port would be answered by
# the old generation; a worker renames itself "starman worker" once it has
# loaded the app, just before its accept loop: the check counts those of the
# new master (%p). QUIT is Starman's graceful stop.
#
# That stop has a race of its own: the master sends HUP to its workers, and
# a Net::Server::PreFork worker exits at once unless its flag "connected" is
# set, which happens only after accept() has returned. A worker that has
# just accepted a connection when the HUP lands exits with it, and the
# client reads EOF or a reset. Under Server::Starter (start_server
# --signal-on-hup=QUIT, same app and load) 5 restarts lost 2 of 11326
# requests the same way. So Starman may lose at most one connection per
# old worker per roll, and only so; the other servers none.
mkdir -p "$T/starman"
cat >"$T/starman/app.psgi" <<'PSGI'
sub { [200, ['Content-Type' => 'text/plain'], ["pid=$$\n"]] };
PSGI
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" --pass inherit --drain-signal QUIT \
    --ready "exec:test \"\$(pgrep -c -P %p -f '^starman worker')\" -ge 2" \
    --ready-interval 50ms -- \
    starman --workers 2 "$T/starman/app.psgi"
rolls_under_load starman 5 10

# --- gunicorn (LISTEN_FDS; GUNICORN_FD is there too) ----------------------
# gunicorn sends READY=1 when its arbiter has booted, before it forks a
# worker, so notify would promote a generation that cannot answer yet. Its
# post_worker_init hook runs in each worker just before its accept loop;
# here it leaves a file named for the master's pid, and the check counts
# them. TERM is gunicorn's graceful stop (the default drain_signal).
# A roll costs gunicorn 5-8 s on a busy 2-core machine (Python starts the
# new arbiter and workers; the old arbiter takes 2-4 s to exit): 3 rolls.
mkdir -p "$T/gunicorn"
cat >"$T/gunicorn/app.py" <<'PY'
import os


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pid=%d\n" % os.getpid()]
PY
cat >"$T/gunicorn/hooks.py" <<PY
import os


def post_worker_init(worker):
    open("$T/gunicorn/ready.%d.%d" % (worker.ppid, worker.pid), "w").close()
PY
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" --pass inherit \
    --ready "exec:test \"\$(ls $T/gunicorn/ready.%p.* 2>/dev/null | wc -l)\" -ge 2" \
    --ready-interval 50ms -- \
    gunicorn --workers 2 --chdir "$T/gunicorn" -c "$T/gunicorn/hooks.py" app:app
rolls_under_load gunicorn 3
grep -q "Listening at: http://127.0.0.1:$PORT" "$LOG" || fail "gunicorn did not take 127.0.0.1:$PORT"

# --- nginx, without the shim (NGINX, its binary upgrade's variable) -------
# nginx matches each fd of NGINX to its listen directive and stays in the
# foreground. It speaks no sd_notify; a worker adds the listening socket
# (fd 3) to its epoll set before it serves, which /proc shows: the check
# counts the workers of the new master that have.
# nginx never makes an inherited socket non-blocking (its own binary
# upgrade hands over sockets that are), so it needs --nonblocking yes: on a
# blocking socket a worker that loses the race for a connection sleeps in
# accept(), deaf to its master's graceful stop (in some runs the last
# generation was killed at stop_timeout), and the connection it accepted
# before may wait unanswered.
mkdir -p "$T/nginx"
cat >"$T/nginx/epolled" <<'SH'
#!/bin/sh
# epolled PID N: at least N children of PID watch fd 3 in an epoll set.
n=0
for c in $(pgrep -P "$1"); do
    grep -qs '^tfd: *3 ' /proc/"$c"/fdinfo/* && n=$((n + 1))
done
[ "$n" -ge "$2" ]
SH
chmod +x "$T/nginx/epolled"
PORT=$(free_port)
ngx_conf "$T/nginx" "$PORT"
start_handoff -l "127.0.0.1:$PORT" --pass inherit --nonblocking yes \
    --drain-signal QUIT --ready "exec:$T/nginx/epolled %p 2" --ready-interval 50ms -- \
    nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -g 'daemon off;'
rolls_under_load nginx 5
# nginx says so on standard error, before it opens its error_log.
[ "$(grep -c 'using inherited sockets from "3;"' "$LOG")" -eq 6 ] ||
    fail "not every nginx took its socket from NGINX: $(grep -c 'inherited sockets' "$LOG")"
