# shellcheck shell=bash
# reload_user.sh: a reload that adds or changes user hands the notify
# socket (and its private directory) to the new user, so that its workers
# can say READY=1; a failed roll gives them back to the active one's.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3 curl
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (users)"; exit 77; }
getent passwd nobody >/dev/null && getent passwd daemon >/dev/null ||
    { echo "SKIP: users nobody and daemon needed"; exit 77; }
NOBODY=$(id -u nobody)
# Files nobody can read, as in security.sh.
chmod 0711 "$T"
mkdir -m 0755 "$T/pub"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
cp "$SERVER" "$T/pub/actserver.py"
SERVER=$T/pub/actserver.py

# notify_owner GEN: the owners of the notify directory and socket that
# generation GEN's worker was given.
notify_owner() {
    local w nsock
    w=$(grep -Eo "event=spawn gen=$1 pid=[0-9]+" "$LOG" | tail -n 1 | grep -Eo '[0-9]+$')
    nsock=$(tr '\0' '\n' <"/proc/$w/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
    echo "$(stat -c %U "$(dirname "$nsock")") $(stat -c %U "$nsock")"
}

conf() { # USER [ARGS]: the configuration, with user = USER if not empty
    cat >"$T/pub/h.conf" <<CONF
[listen web]
address = 127.0.0.1:0
[worker]
command = $PY $SERVER ${2:-}
pass = systemd
ready = notify
ready_timeout = 5s
${1:+user = $1}
CONF
}

conf
start_handoff -c "$T/pub/h.conf"
wait_log 'event=promote gen=1 ' 1
[ "$(notify_owner 1)" = "root root" ] || fail "notify directory and socket: $(notify_owner 1), want root's"

# user = nobody added: its worker must reach NOTIFY_SOCKET.
conf nobody
kill -HUP "$HPID"
wait_log 'event=(promote|roll_failed) gen=2 ' 1 20
grep -q 'event=promote gen=2 ' "$LOG" ||
    fail "reload adding user = nobody: $(grep -o 'event=roll_failed gen=2 .*' "$LOG")"
w=$(grep -Eo 'event=spawn gen=2 pid=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ "$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$w/status")" = "$NOBODY" ] ||
    fail "generation 2 does not run as nobody"
[ "$(notify_owner 2)" = "nobody nobody" ] || fail "after the reload: $(notify_owner 2), want nobody's"
ok "reload adding user = nobody: READY=1 reached the master, notify directory and socket are nobody's"

# And a later roll, to the same user, too.
roll_and_wait 3
grep -q 'event=promote gen=3 ' "$LOG" || fail "the roll after the reload failed"
ok "the next roll as nobody is promoted"

# Back to no user (root): the socket follows.
conf
kill -HUP "$HPID"
wait_log 'event=(promote|roll_failed) gen=4 ' 1 20
grep -q 'event=promote gen=4 ' "$LOG" || fail "reload dropping user failed"
[ "$(notify_owner 4)" = "root root" ] || fail "after dropping user: $(notify_owner 4), want root's"
ok "reload dropping user: notify directory and socket are root's again"

# A reload to user = daemon whose roll fails: generation 4 (root) keeps
# the socket. Then a good reload to nobody.
conf daemon "--exit-at-start 3"
kill -HUP "$HPID"
wait_log 'event=roll_failed gen=5 ' 1
[ "$(notify_owner 4)" = "root root" ] || fail "after a failed roll as daemon: $(notify_owner 4), want root's"
conf nobody
kill -HUP "$HPID"
wait_log 'event=(promote|roll_failed) gen=6 ' 1 20
grep -q 'event=promote gen=6 ' "$LOG" || fail "reload to nobody after a failed one: not promoted"
ok "failed roll as daemon: the socket went back to root; the next reload as nobody is promoted"
stop_handoff
exit 0
