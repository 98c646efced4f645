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

# --- 6. a worker's user against the master's paths -----------------------
# The notify directory is the workers' user's: nobody replaces the socket
# with a link to a root file, and the next roll must leave that file root's.
printf 'secret\n' >"$T/root-file"
chmod 0600 "$T/root-file"
start_handoff --pass systemd -u nobody -l 127.0.0.1:0 -- "$PY" "$SERVER"
wait_log 'event=promote gen=1 ' 1
w=$(worker_pid 1)
nsock=$(tr '\0' '\n' <"/proc/$w/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
setpriv --reuid "$NOBODY" --regid "$NOGROUP" --clear-groups \
    sh -c 'rm -f "$1" && ln -s "$2" "$1"' - "$nsock" "$T/root-file" ||
    fail "nobody could not replace its NOTIFY_SOCKET $nsock"
[ -L "$nsock" ] || fail "$nsock is not the link nobody made"
roll_and_wait 2
st=$(stat -c '%U:%G %a' "$T/root-file")
[ "$st" = "root:root 600" ] ||
    fail "nobody linked NOTIFY_SOCKET to a root file, a roll followed: the file is now $st"
ok "NOTIFY_SOCKET replaced by nobody with a link to a root file: after a roll the file is still $st"
stop_handoff

# A unix listener in a directory its worker's user may write: removing its
# file makes the master bind a new socket there (and roll). Removed again
# and again, the master must not keep a descriptor per removal.
mkdir -m 0755 "$T/pub/own"
chown nobody:nogroup "$T/pub/own"
start_handoff --pass systemd -u nobody -l "web=unix:$T/pub/own/web.sock" -- "$PY" "$SERVER"
wait_log 'event=promote gen=1 ' 1
nfd() { ls "/proc/$HPID/fd" | wc -l; }
fds0=$(nfd)
for i in 1 2 3 4; do
    setpriv --reuid "$NOBODY" --regid "$NOGROUP" --clear-groups rm "$T/pub/own/web.sock"
    wait_log 'event=unix_path_lost .*found=check action=new_socket' "$i" 20
    wait_log 'event=promote ' $((i + 1)) 30
    wait_log "event=gone gen=$i " 1 30
done
fds1=$(nfd)
[ "$(try_connect 0 "$T/pub/own/web.sock")" = ok ] || fail "the restored path does not answer"
[ "$fds1" -le "$fds0" ] ||
    fail "4 removals of a unix listener's file: the master's fds $fds0 -> $fds1"
ok "4 removals of a unix listener's file by nobody: the master's fds $fds0 -> $fds1, 4 rolls"
stop_handoff

# The file made again gets its mode from the umask at bind() and its owner
# through a descriptor of the file itself, never by path after bind():
# nobody swaps in a link to a root file while the master is held just
# after bind() (strace delays its return), and that file must not change.
cat >"$T/pub/swap.py" <<'PY'
import os, stat, sys, time
path, target = sys.argv[1], sys.argv[2]
os.unlink(path)
end = time.time() + 20
while time.time() < end:
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            break
    except FileNotFoundError:
        pass
    time.sleep(0.001)
else:
    sys.exit("no socket made again within 20 s")
os.symlink(target, path + ".tmp")
os.rename(path + ".tmp", path)
PY
if command -v strace >/dev/null 2>&1; then
    printf 'secret\n' >"$T/root-file2"
    chmod 0600 "$T/root-file2"
    cat >"$T/pub/own.conf" <<EOF
[listen web]
address = unix:$T/pub/own/web.sock
mode = 0666
owner = nobody
[worker]
command = $PY $SERVER
pass = systemd
user = nobody
EOF
    start_handoff -c "$T/pub/own.conf"
    wait_log 'event=promote gen=1 ' 1
    strace -p "$HPID" -e trace=bind -e inject=bind:delay_exit=1500000 -o "$T/strace.out" &
    STRACEPID=$!
    for _ in $(seq 200); do
        [ "$(status_field "$HPID" TracerPid)" = "$STRACEPID" ] && break
        sleep 0.05
    done
    if [ "$(status_field "$HPID" TracerPid)" != "$STRACEPID" ]; then
        echo "note: strace cannot attach here: the swap after bind() is not tried"
        kill "$STRACEPID" 2>/dev/null
    else
        setpriv --reuid "$NOBODY" --regid "$NOGROUP" --clear-groups \
            "$PY" "$T/pub/swap.py" "$T/pub/own/web.sock" "$T/root-file2" ||
            fail "nobody could not swap the socket file"
        wait_log 'event=unix_path_lost ' 1 20
        kill "$STRACEPID"
        wait "$STRACEPID" 2>/dev/null
        st=$(stat -c '%U:%G %a' "$T/root-file2")
        [ "$st" = "root:root 600" ] ||
            fail "nobody swapped a link to a root file for the socket just bound: the file is now $st"
        ok "a link swapped in right after the master's bind(): the root file is still $st"
    fi
    stop_handoff
fi

# A worker asks for its socket by a path in a FUSE mount that never
# answers (its user may mount one where fusermount is installed): the
# master looks up a worker's path without blocking, and answers on.
cat >"$T/hangfs.py" <<'PY'
import ctypes, os, signal, sys, time
mnt = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/dev/fuse", os.O_RDWR)
opts = ("fd=%d,rootmode=40000,user_id=0,group_id=0" % fd).encode()
if libc.mount(b"hangfs", mnt.encode(), b"fuse", 0, opts) < 0:
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
def bye(*_):
    os.close(fd)  # aborts the connection: what waits on it fails
    libc.umount2(mnt.encode(), 2)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
open(mnt + ".up", "w").close()
while True:
    time.sleep(1)  # never reads /dev/fuse: every request waits
PY
cat >"$T/askfs.py" <<'PY'
import os, socket, struct, sys, time
HDR = struct.Struct("=HHIII")
chan = socket.socket(fileno=int(os.environ["HANDOFF_FD"]))
p = ("address=unix:%s\n" % sys.argv[1]).encode()
with open(sys.argv[2], "w") as f:
    f.write("asking\n")
chan.send(HDR.pack(1, 3, 9, len(p), 0) + p)
data = chan.recv(4096)
_v, t, _id, _l, _r = HDR.unpack_from(data)
kv = dict(l.split("=", 1) for l in data[HDR.size:].decode().splitlines())
with open(sys.argv[2], "a") as f:
    f.write("type=%d errno=%s\n" % (t, kv.get("errno", "-")))
chan.send(HDR.pack(1, 6, 10, 0, 0))
time.sleep(600)
PY
mkdir "$T/fuse"
if [ -c /dev/fuse ]; then
    python3 "$T/hangfs.py" "$T/fuse" >"$T/hangfs.out" 2>&1 &
    FUSEPID=$!
    STARTED="$FUSEPID $STARTED" # first at cleanup: the master waits on it
    for _ in $(seq 100); do [ -e "$T/fuse.up" ] && break; kill -0 "$FUSEPID" 2>/dev/null || break; sleep 0.05; done
fi
if [ -e "$T/fuse.up" ]; then
    start_handoff --control "$T/control.sock" --pass protocol -l web=127.0.0.1:0 \
        -- python3 "$T/askfs.py" "$T/fuse/web.sock" "$T/askfs.out"
    for _ in $(seq 200); do grep -q asking "$T/askfs.out" 2>/dev/null && break; sleep 0.05; done
    grep -q asking "$T/askfs.out" || fail "the worker did not ask"
    rc=0
    "$HANDOFF" status --control "$T/control.sock" --timeout 3s >"$T/cli.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || fail "a worker asked for a path in a FUSE mount that does not answer: the master is stuck: $(cat "$T/cli.out")"
    wait_log 'event=promote gen=1 ' 1
    grep -q '^type=5 errno=2$' "$T/askfs.out" || fail "the worker's GET: $(cat "$T/askfs.out")"
    ok "a GET by a path in a FUSE mount that never answers: ENOENT at once, the master answers status"
    stop_handoff
    kill "$FUSEPID"
    wait "$FUSEPID" 2>/dev/null
else
    echo "note: no FUSE mount here ($(cat "$T/hangfs.out" 2>/dev/null)): the FUSE lookup is not tried"
fi

# The same FUSE mount over a unix listener's directory, which the
# workers' user owns: the master looks for the socket file at each roll
# (and every 2 s), and must not wait on that mount.
if [ -c /dev/fuse ]; then
    mkdir -m 0755 "$T/pub/own2"
    chown nobody:nogroup "$T/pub/own2"
    start_handoff --control "$T/control.sock" --pass systemd -u nobody \
        -l "web=unix:$T/pub/own2/web.sock" -- "$PY" "$SERVER"
    wait_log 'event=promote gen=1 ' 1
    rm -f "$T/pub/own2.up"
    python3 "$T/hangfs.py" "$T/pub/own2" >"$T/hangfs.out" 2>&1 &
    FUSEPID=$!
    STARTED="$FUSEPID $STARTED"
    for _ in $(seq 100); do [ -e "$T/pub/own2.up" ] && break; kill -0 "$FUSEPID" 2>/dev/null || break; sleep 0.05; done
    if [ -e "$T/pub/own2.up" ]; then
        roll_and_wait 2
        rc=0
        "$HANDOFF" status --control "$T/control.sock" --timeout 3s >"$T/cli.out" 2>&1 || rc=$?
        [ "$rc" -eq 0 ] || fail "a FUSE mount over the listener's directory: the master is stuck: $(cat "$T/cli.out")"
        [ "$(count 'event=promote gen=2 ')" -eq 1 ] || fail "the roll over a FUSE-covered directory was not promoted"
        ok "a FUSE mount that never answers over a unix listener's directory: the roll is promoted, status answers"
        stop_handoff
    fi
    kill "$FUSEPID"
    wait "$FUSEPID" 2>/dev/null
fi

# A reload adds a unix listener at a path in nobody's directory, where
# nobody already listens with a full accept queue: the master's probe of
# "is a server there" must not wait for room in that queue.
mkdir -m 0755 "$T/pub/own3"
chown nobody:nogroup "$T/pub/own3"
cat >"$T/pub/full.py" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(0)
held = []
while True:  # fill the queue: connect until it has no room
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(sys.argv[1])
    except BlockingIOError:
        break
    held.append(c)
open(sys.argv[1] + ".full", "w").close()
time.sleep(600)
PY
setpriv --reuid "$NOBODY" --regid "$NOGROUP" --clear-groups \
    "$PY" "$T/pub/full.py" "$T/pub/own3/new.sock" >"$T/full.out" 2>&1 &
FULLPID=$!
STARTED="$STARTED $FULLPID"
for _ in $(seq 200); do [ -e "$T/pub/own3/new.sock.full" ] && break; sleep 0.05; done
[ -e "$T/pub/own3/new.sock.full" ] || fail "the full listener did not start: $(cat "$T/full.out")"
cat >"$T/pub/reload.conf" <<EOF
[handoff]
control = $T/control.sock
[listen web]
address = 127.0.0.1:0
[worker]
command = $PY $SERVER
pass = systemd
EOF
start_handoff -c "$T/pub/reload.conf"
wait_log 'event=promote gen=1 ' 1
printf '[listen new]\naddress = unix:%s\n' "$T/pub/own3/new.sock" >>"$T/pub/reload.conf"
kill -HUP "$HPID"
rc=0
"$HANDOFF" status --control "$T/control.sock" --timeout 3s >"$T/cli.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "a reload adding a path where nobody listens with a full queue: the master is stuck: $(cat "$T/cli.out")"
wait_log 'event=reload_failed .*in use' 1 10
ok "a reload adding a path nobody holds with a full queue: refused as in use, status answers"
stop_handoff
kill "$FULLPID"

# --- 7. the CLI trusts only root or its own user on the control path -----
# A stranger's server where the CLI looks for the master: refused, with the
# path and the stranger's uid named, its answer never shown.
mkdir -m 0755 "$T/pub/fake"
chown nobody:nogroup "$T/pub/fake"
setpriv --reuid "$NOBODY" --regid "$NOGROUP" --clear-groups "$PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(8)
open(sys.argv[1] + ".up", "w").close()
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        c.sendall(b"gen=1 state=active processes=1 share=100% (a fake)\n")
    except OSError:
        pass
    c.close()
' "$T/pub/fake/control.sock" >"$T/fake.out" 2>&1 &
FAKEPID=$!
STARTED="$STARTED $FAKEPID"
for _ in $(seq 200); do [ -e "$T/pub/fake/control.sock.up" ] && break; sleep 0.05; done
[ -S "$T/pub/fake/control.sock" ] || fail "the fake control server did not start: $(cat "$T/fake.out")"
rc=0
"$HANDOFF" status --control "$T/pub/fake/control.sock" --timeout 5s >"$T/cli.out" 2>"$T/cli.err" || rc=$?
[ "$rc" -ne 0 ] || fail "the CLI (root) took a nobody server's answer: $(cat "$T/cli.out")"
grep -q 'a fake' "$T/cli.out" && fail "the CLI printed the fake answer: $(cat "$T/cli.out")"
grep -q "$T/pub/fake/control.sock" "$T/cli.err" && grep -q "uid $NOBODY" "$T/cli.err" ||
    fail "the refusal does not name the path and uid $NOBODY: $(cat "$T/cli.err")"
ok "the CLI as root refuses a control socket served by uid $NOBODY: $(cat "$T/cli.err")"
rc=0
setpriv --reuid 1 --regid 1 --clear-groups "$HANDOFF" status --control "$T/pub/fake/control.sock" \
    --timeout 5s >"$T/cli.out" 2>"$T/cli.err" || rc=$?
[ "$rc" -ne 0 ] && ! grep -q 'a fake' "$T/cli.out" ||
    fail "the CLI as daemon took a nobody server's answer: $(cat "$T/cli.out")"
setpriv --reuid "$NOBODY" --regid "$NOGROUP" --clear-groups "$HANDOFF" status \
    --control "$T/pub/fake/control.sock" --timeout 5s >"$T/cli.out" 2>"$T/cli.err" ||
    fail "the CLI as nobody refused its own user's server: $(cat "$T/cli.err")"
grep -q 'a fake' "$T/cli.out" || fail "the CLI as nobody: '$(cat "$T/cli.out")'"
ok "the CLI as daemon refuses it too; as nobody, its own uid, it takes the answer"
kill "$FAKEPID"
exit 0
