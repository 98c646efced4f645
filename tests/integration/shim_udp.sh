# shim_udp.sh: a server's own bind() of a managed UDP address, through the
# shim: it gets its generation's socket, with the options it set before
# bind() (IP_PKTINFO, SO_RCVBUF) set for real; the options that would take
# the socket out of its group or replace the steering program are kept to
# the process; connect() is refused; a server that closes every inherited
# fd before it binds (os.closerange, close_range) still gets its socket.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

P=$(free_port_udp)
start_handoff -l dns=udp:127.0.0.1:$P -- python3 -c '
import errno, os, socket, sys
port, gen = int(sys.argv[1]), os.environ["HANDOFF_GENERATION"]
IP_PKTINFO = 8  # <linux/in.h>; python has no name for it
os.closerange(3, 1 << 20)  # what daemons do at start: the channel too
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 300000)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
notes = []
try:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    notes.append("reuseport=ok")
except OSError as e:
    notes.append("reuseport=%d" % e.errno)
try:
    s.connect(("127.0.0.1", 9))
    notes.append("connect=ok")
except OSError as e:
    notes.append("connect=%s" % ("EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else e.errno))
notes.append("pktinfo=%d" % s.getsockopt(socket.IPPROTO_IP, IP_PKTINFO))
notes.append("rcvbuf=%d" % s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
notes.append("type=%d" % s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
while True:
    data, anc, flags, peer = s.recvmsg(512, 512)
    cm = [l for (l, t, d) in anc if t == IP_PKTINFO]
    s.sendto(("gen=%s pktinfo=%d %s" % (gen, len(cm), " ".join(notes))).encode(), peer)
' "$P"
wait_log 'event=promote gen=1 '
ask() {
    python3 -c 'import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(5)
c.sendto(b"q", ("127.0.0.1", int(sys.argv[1]))); print(c.recv(512).decode())' "$P"
}
A=$(ask) || fail "no answer"
echo "answer: $A"
case "$A" in "gen=1 pktinfo=1 "*) ;; *) fail "not gen 1 with an IP_PKTINFO cmsg: $A" ;; esac
for want in reuseport=ok connect=EOPNOTSUPP pktinfo=1 rcvbuf=600000 type=2; do
    case " $A " in *" $want "*) ;; *) fail "wanted $want in: $A" ;; esac
done
ok "the UDP socket is the generation's, with its options; reuseport kept, connect refused"
kill -USR2 "$HPID"
wait_log 'event=promote gen=2 '
wait_log 'event=gone gen=1 '
case "$(ask)" in "gen=2 pktinfo=1 "*) ok "the next generation's own bind: served" ;; *) fail "gen 2 does not answer" ;; esac
grep -q "connect() of the UDP socket at fd" "$LOG" || fail "the refused connect() was not explained"
stop_handoff
