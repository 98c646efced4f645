# shellcheck shell=bash
# security.sh: what a worker, a client and a stranger can and cannot do.
# Workers run as another user and group with their supplementary groups
# dropped, while the master (root) keeps binding ports below 1024; unix
# listeners get their mode, owner and group; the control channel is a pair
# of unnamed sockets nobody can connect to; the notify socket sits in a
# private directory; a worker's environment is the master's, minus
# handoff's own variables, plus only the documented ones.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3 curl setpriv
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (users, groups, low ports)"; exit 77; }
getent passwd nobody >/dev/null && getent passwd daemon >/dev/null ||
    { echo "SKIP: users nobody and daemon needed"; exit 77; }
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
# Everyone may cross $T to reach $T/pub (unix sockets, files for nobody).
chmod 0711 "$T"
mkdir -m 0755 "$T/pub"
# A python3 other users can run (not a shim in root's home).
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
cp "$SERVER" "$T/pub/actserver.py"
SERVER=$T/pub/actserver.py

# A free loopback port below 1024 (tried in a bounded range).
low_port() {
    python3 - "$@" <<'EOF'
import socket, sys
skip = {int(p) for p in sys.argv[1:]}
for p in range(980, 600, -1):
    if p in skip:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
EOF
}

# worker_pid N: the pid of the Nth spawn in the log.
worker_pid() {
    grep -Eo 'event=spawn gen=[0-9]+ pid=[0-9]+' "$LOG" | sed -n "${1:-1}p" | grep -Eo '[0-9]+$'
}

# status_field PID FIELD: a line of /proc/PID/status without its name.
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' ' | sed 's/ $//'; }

# try_connect UID PATH: connect to a unix socket as UID; prints ok or errno.
try_connect() {
    setpriv --reuid "$1" --regid "$1" --clear-groups "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, sys.argv[2] == "dgram" and socket.SOCK_DGRAM or socket.SOCK_STREAM)
try:
    if sys.argv[2] == "dgram":
        s.sendto(b"READY=1", sys.argv[1])
    else:
        s.connect(sys.argv[1])
    print("ok")
except OSError as e:
    print(e.errno)
' "$2" "${3:-stream}"
}

# --- 1. user and group --------------------------------------------------
p1=$(low_port)
p2=$(low_port "$p1")
[ -n "$p1" ] && [ -n "$p2" ] || fail "no free port below 1024"
cat >"$T/pub/user.conf" <<EOF
[listen web]
address = 127.0.0.1:$p1
[worker]
command = $PY $SERVER
pass = systemd
user = nobody
group = nogroup
EOF
HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
    "$HANDOFF" -c "$T/pub/user.conf" >"$T/stdout" 2>"$LOG" &
HPID=$!
STARTED="$STARTED $HPID"
wait_log 'event=promote gen=1 ' 1
w=$(worker_pid 1)
[ "$(status_field "$w" Uid)" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] ||
    fail "worker uid: $(status_field "$w" Uid), want $NOBODY x4"
[ "$(status_field "$w" Gid)" = "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" ] ||
    fail "worker gid: $(status_field "$w" Gid), want $NOGROUP x4"
want_groups=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
got_groups=$(status_field "$w" Groups | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$got_groups" = "$want_groups" ] || fail "worker groups: '$got_groups', want nobody's: '$want_groups'"
[ "$(status_field "$HPID" Uid)" = "0 0 0 0" ] || fail "the master is no longer root"
body=$(curl -s --max-time 10 "http://127.0.0.1:$p1/")
[ "$body" = "pid=$w gen=1" ] || fail "port $p1: got '$body' from the nobody worker $w"
ok "worker runs as nobody:nogroup with nobody's groups only ($got_groups), serves port $p1 < 1024"
# nobody's HOME, USER, LOGNAME and SHELL, as su and systemd's User= give.
IFS=: read -r _ _ _ _ _ nhome nshell < <(getent passwd nobody)
wenv=$(tr '\0' '\n' <"/proc/$w/environ")
for kv in "HOME=$nhome" USER=nobody LOGNAME=nobody "SHELL=$nshell"; do
    grep -qx -- "$kv" <<<"$wenv" || fail "user = nobody: no $kv in the worker's environment: $(grep -E '^(HOME|USER|LOGNAME|SHELL)=' <<<"$wenv" | tr '\n' ' ')"
done
ok "user = nobody: HOME=$nhome USER=nobody LOGNAME=nobody SHELL=$nshell, not root's"

# The master stays root: a reload to another low port binds it.
sed -i "s|^address = .*|address = 127.0.0.1:$p2|" "$T/pub/user.conf"
kill -HUP "$HPID"
wait_log 'event=promote gen=2 ' 1
w2=$(worker_pid 2)
body=$(curl -s --max-time 10 "http://127.0.0.1:$p2/")
[ "$body" = "pid=$w2 gen=2" ] || fail "port $p2 after reload: got '$body'"
[ "$(status_field "$w2" Uid)" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] || fail "gen 2 not nobody"
ok "reload to port $p2: the master bound it, the new nobody worker serves it"
stop_handoff

# group alone: the uid stays, the gid changes, every supplementary group
# goes. The master is started with groups 4 and 27 to see them dropped.
setpriv --groups 4,27 "$HANDOFF" --pass systemd -g nogroup -l 127.0.0.1:0 \
    -- "$PY" "$SERVER" >"$T/stdout" 2>"$LOG" &
HPID=$!
STARTED="$STARTED $HPID"
wait_log 'event=promote gen=1 ' 1
w=$(worker_pid 1)
[ "$(status_field "$HPID" Groups)" = "4 27" ] || fail "setpriv did not give handoff groups 4 27"
[ "$(status_field "$w" Uid)" = "0 0 0 0" ] || fail "group alone changed the uid"
[ "$(status_field "$w" Gid)" = "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" ] || fail "gid: $(status_field "$w" Gid)"
[ -z "$(status_field "$w" Groups)" ] || fail "supplementary groups kept: $(status_field "$w" Groups)"
ok "group = nogroup alone: gid $NOGROUP, the master's groups 4 27 dropped"
stop_handoff

# user too, from a master with groups 4 and 27: only nobody's own groups.
setpriv --groups 4,27 "$HANDOFF" --pass systemd -u nobody -e HOME=/srv -l 127.0.0.1:0 \
    -- "$PY" "$SERVER" >"$T/stdout" 2>"$LOG" &
HPID=$!
STARTED="$STARTED $HPID"
wait_log 'event=promote gen=1 ' 1
w=$(worker_pid 1)
got_groups=$(status_field "$w" Groups | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
[ "$got_groups" = "$want_groups" ] || fail "user = nobody under a master with 4 27: groups '$got_groups'"
wenv=$(tr '\0' '\n' <"/proc/$w/environ")
[ "$(grep -c '^HOME=' <<<"$wenv")" -eq 1 ] && grep -qx HOME=/srv <<<"$wenv" && grep -qx USER=nobody <<<"$wenv" ||
    fail "environment = HOME=/srv with user = nobody: $(grep -E '^(HOME|USER)=' <<<"$wenv" | tr '\n' ' ')"
ok "user = nobody: the master's groups 4 27 dropped, nobody's kept ($got_groups); environment's HOME wins"
stop_handoff

# --- 2. unix listeners: mode, owner, group -------------------------------
cat >"$T/pub/unix.conf" <<EOF
[handoff]
control = $T/control.sock
[listen web]
address = 127.0.0.1:0
[listen sock]
address = unix:$T/pub/s.sock
mode = 0660
owner = nobody
group = nogroup
[listen plain]
address = unix:$T/pub/p.sock
[worker]
command = $PY $SERVER
pass = systemd
EOF
start_handoff -c "$T/pub/unix.conf"
wait_log 'event=promote gen=1 ' 1
st=$(stat -c '%a %U %G' "$T/pub/s.sock")
[ "$st" = "660 nobody nogroup" ] || fail "s.sock is '$st', want '660 nobody nogroup'"
st=$(stat -c '%U %G' "$T/pub/p.sock")
[ "$st" = "root root" ] || fail "p.sock without owner is '$st'"
[ "$(try_connect "$NOBODY" "$T/pub/s.sock")" = ok ] || fail "nobody cannot connect to its socket"
r=$(try_connect 1 "$T/pub/s.sock")
[ "$r" = 13 ] || fail "daemon connected to a 0660 nobody:nogroup socket: $r"
ok "unix listener: 0660 nobody:nogroup; nobody connects, daemon gets EACCES"

# --- 3. the control channel: unnamed socketpairs only -------------------
# Every SEQPACKET socket of the master and of the worker has no name (no
# path, no abstract name): nothing to connect to. The only sockets of the
# master with a name are the listeners, the control socket and the notify
# socket, and the control socket is 0600.
w=$(worker_pid 1)
unix_sockets() { # PID: "inode type state path" of its unix sockets
    python3 - "$1" <<'EOF'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
with open("/proc/net/unix") as f:
    next(f)
    for line in f:
        p = line.split()
        if p[6] in inodes:
            print(p[6], p[4], p[5], p[7] if len(p) > 7 else "-")
EOF
}
unix_sockets "$HPID" >"$T/master.sockets"
unix_sockets "$w" >"$T/worker.sockets"
chan=$(tr '\0' '\n' <"/proc/$w/environ" | sed -n 's/^HANDOFF_FD=//p')
chan_inode=$(readlink "/proc/$w/fd/$chan" | tr -dc 0-9)
grep -q "^$chan_inode 0005 03 -$" "$T/worker.sockets" ||
    fail "the worker's HANDOFF_FD=$chan is not an unnamed connected SEQPACKET: $(grep "^$chan_inode " "$T/worker.sockets")"
n=$(awk '$2 == "0005"' "$T/master.sockets" | wc -l)
[ "$n" -ge 1 ] || fail "the master has no SEQPACKET socket"
named=$(awk '$2 == "0005" && $4 != "-"' "$T/master.sockets" "$T/worker.sockets")
[ -z "$named" ] || fail "a SEQPACKET socket has a name: $named"
others=$(awk '$4 != "-" {print $4}' "$T/master.sockets" | sort | tr '\n' ' ')
nsock=$(tr '\0' '\n' <"/proc/$w/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
want=$(printf '%s\n' "$T/control.sock" "$T/pub/s.sock" "$T/pub/p.sock" "$nsock" | sort | tr '\n' ' ')
[ "$others" = "$want" ] || fail "the master's named sockets: '$others', want '$want'"
[ "$(stat -c %a "$T/control.sock")" = 600 ] || fail "control socket mode $(stat -c %a "$T/control.sock")"
r=$(try_connect "$NOBODY" "$T/control.sock")
[ "$r" = 13 ] || fail "nobody reached the control socket: $r"
ok "control channel: $n unnamed SEQPACKET pair(s), nothing else named but listeners, control (0600) and notify"

# --- 4. the notify socket: private -------------------------------------
case "$nsock" in
/*) ;;
*) fail "NOTIFY_SOCKET '$nsock' is not a path (an abstract name anyone may reach)" ;;
esac
[ "$(stat -c '%a %U' "$(dirname "$nsock")")" = "700 root" ] ||
    fail "notify directory: $(stat -c '%a %U' "$(dirname "$nsock")")"
r=$(try_connect "$NOBODY" "$nsock" dgram)
[ "$r" = 13 ] || fail "nobody sent to NOTIFY_SOCKET: $r"
ok "NOTIFY_SOCKET $nsock: in a 0700 root directory; another user gets EACCES"
stop_handoff

# With user = nobody the directory is nobody's, so its worker can send.
cp "$T/pub/unix.conf" "$T/pub/unix-nobody.conf"
printf 'user = nobody\n' >>"$T/pub/unix-nobody.conf"
start_handoff --ready notify -c "$T/pub/unix-nobody.conf"
wait_log 'event=promote gen=1 .*' 1
w=$(worker_pid 1)
nsock=$(tr '\0' '\n' <"/proc/$w/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
[ "$(stat -c '%a %U' "$(dirname "$nsock")")" = "700 nobody" ] ||
    fail "notify directory with user = nobody: $(stat -c '%a %U' "$(dirname "$nsock")")"
r=$(try_connect 1 "$nsock" dgram)
[ "$r" = 13 ] || fail "daemon sent to a nobody worker's NOTIFY_SOCKET: $r"
ok "user = nobody: READY=1 over notify reached the master; the directory is nobody's 0700"
stop_handoff

# --- 5. the environment -------------------------------------------------
# handoff started as if by systemd, with variables of its own parent that
# must not reach the worker, and a marker that must.
run_env() { # PASS: start handoff under a controlled environment
    env -i PATH="$PATH" HOME=/root HANDOFF_TEST_MARKER=kept-42 \
        NOTIFY_SOCKET="$T/parent-notify" LISTEN_FDS=9 LISTEN_PID=1 \
        LISTEN_FDNAMES=parent HANDOFF_FD=99 HANDOFF_GENERATION=77 \
        SERVER_STARTER_PORT=1.2.3.4:1=9 EINHORN_FD_COUNT=1 EINHORN_FD_0=9 \
        SHARED=from-parent \
        "$HANDOFF" --pass "$1" --ready delay:100ms -l web=127.0.0.1:0 \
        -e 'EXTRA=from-config SHARED=from-config' -- sleep 600 \
        >"$T/stdout" 2>"$LOG" &
    HPID=$!
    STARTED="$STARTED $HPID"
    wait_log 'event=promote gen=1 ' 1
}
for pass in systemd shim; do
    run_env "$pass"
    w=$(worker_pid 1)
    tr '\0' '\n' <"/proc/$w/environ" | sort >"$T/env.got"
    {
        echo "PATH=$PATH"
        echo "HOME=/root"
        echo "HANDOFF_TEST_MARKER=kept-42"
        echo "EXTRA=from-config"
        echo "SHARED=from-config"
        echo "NOTIFY_SOCKET=$(sed -n 's/^NOTIFY_SOCKET=//p' "$T/env.got")"
        echo "HANDOFF_GENERATION=1"
        if [ "$pass" = systemd ]; then
            echo "HANDOFF_FD=4"
            echo "LISTEN_FDS=1"
            echo "LISTEN_PID=$w"
            echo "LISTEN_FDNAMES=web"
        else
            echo "HANDOFF_FD=3"
            echo "LD_PRELOAD=$(sed -n 's/^LD_PRELOAD=//p' "$T/env.got")"
        fi
    } | sort >"$T/env.want"
    diff "$T/env.want" "$T/env.got" >"$T/env.diff" ||
        fail "pass=$pass: the worker's environment differs (- expected, + got): $(cat "$T/env.diff")"
    grep -q "^NOTIFY_SOCKET=$T/parent-notify" "$T/env.got" && fail "the parent's NOTIFY_SOCKET leaked"
    grep -q '^LD_PRELOAD=/.*handoff-shim.so$' "$T/env.got" || [ "$pass" != shim ] ||
        fail "pass=shim: LD_PRELOAD is not the shim"
    ok "pass=$pass: worker env = handoff's, minus NOTIFY_SOCKET LISTEN_* HANDOFF_* SERVER_STARTER_PORT EINHORN_*, plus environment and the documented variables"
    stop_handoff
done

# A shim the worker's user cannot read (in a directory only root may
# enter): the worker is not run without it, and the failed start says why.
mkdir -m 0700 "$T/priv" "$T/priv/.libs"
cp "$HANDOFF" "$T/priv/handoff"
cp "$(dirname "$HANDOFF")/.libs/handoff-shim.so" "$T/priv/.libs/"
p=$(free_port)
timeout 60 "$T/priv/handoff" -u nobody --ready-timeout 20s -l "127.0.0.1:$p" \
    -- "$PY" "$SERVER" --bind-self "$p" >"$T/stdout" 2>"$LOG"
rc=$?
want="the shim $T/priv/.libs/handoff-shim.so is not readable by user nobody"
[ "$rc" -eq 126 ] || fail "a shim nobody cannot read: exit $rc, want 126 (the command was not run)"
grep -q "event=roll_failed gen=1 reason=\"worker exited before it was ready (code=126): $want" "$LOG" ||
    fail "roll_failed does not name the shim: $(grep -E 'event=(exec_failed|roll_failed)|ld.so' "$LOG")"
grep -q 'ld.so' "$LOG" && fail "the worker ran without the shim: $(grep ld.so "$LOG")"
ok "a shim nobody cannot read: $(grep -o 'event=roll_failed gen=1 reason="[^"]*"' "$LOG" | cut -c1-200)"
# The same for a roll: readable at the start, not any more at the roll.
chmod 0755 "$T/priv" "$T/priv/.libs"
"$T/priv/handoff" -u nobody -l "127.0.0.1:$p" -- "$PY" "$SERVER" --bind-self "$p" \
    >"$T/stdout" 2>"$LOG" &
HPID=$!
STARTED="$STARTED $HPID"
wait_log 'event=promote gen=1 ' 1
chmod 0700 "$T/priv/.libs"
kill -USR2 "$HPID"
wait_log 'event=(promote|roll_failed) gen=2 ' 1
grep -q "event=roll_failed gen=2 reason=\"worker exited before it was ready (code=126): $want" "$LOG" ||
    fail "the roll's failure does not name the shim: $(grep -E 'event=(exec_failed|roll_failed|promote) gen=2|ld.so' "$LOG")"
kill -0 "$HPID" || fail "handoff exited after the failed roll"
ok "a roll to a shim nobody cannot read fails naming it; gen 1 serves on"
stop_handoff
exit 0
