# udp_leave.sh: a UDP socket leaves its group when its generation is gone,
# even while a process outside the generation still holds a copy (a child
# that escaped its process group, as a server's helper may): the datagrams
# of the next generations all reach them. A copy left in the group would
# keep an index the master no longer counts, and take what the program
# sends there.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3 ss

P=$(free_port_udp)
start_handoff -l dns=udp:127.0.0.1:$P --pass systemd --ready notify \
    --drain-delay 100ms -- python3 -c '
import os, socket, sys, time
if os.fork() == 0:  # holds a copy of the socket for 60 s, reads nothing
    os.setsid()
    time.sleep(60)
    os._exit(0)
os.execvp(sys.argv[1], sys.argv[1:])
' python3 "$TOP_SRCDIR/tests/servers/udpgen.py"
wait_log 'event=promote gen=1 '
for g in 2 3; do
    kill -USR2 "$HPID"
    wait_log "event=promote gen=$g " 1 30
    wait_log "event=gone gen=$((g - 1)) " 1 30
done
# Gens 1 and 2 are gone; their sockets live on in the children.
N=$(ss -Huan "sport = :$P" | wc -l)
[ "$N" -ge 3 ] || fail "expected the children's copies beside gen 3's socket, found $N sockets"
python3 "$TOP_SRCDIR/tests/servers/udpclients.py" --target "127.0.0.1:$P" \
    --sources 100 --rate 2000 --count 2000 --timeout 2000 >"$T/load.json" ||
    fail "udpclients failed: $(cat "$T/load.json")"
python3 - "$T/load.json" <<'PY' || fail "datagrams lost or misrouted: $(cat "$T/load.json")"
import json, sys
r = json.load(open(sys.argv[1]))
print("sent=%(sent)d answered=%(answered)d lost=%(lost)d by_gen=%(by_gen)s" % r)
sys.exit(0 if r["lost"] == 0 and r["by_gen"] == {"3": r["sent"]} else 1)
PY
ok "2,000 datagrams to gen 3, none to the sockets left in two children"
stop_handoff
pkill -f "$T/" 2>/dev/null
pkill -f 'time.sleep(60)' 2>/dev/null
exit 0
