# udp_perbind.sh: a server that binds the same managed UDP address twice
# in one process (once per thread, as unbound with so-reuseport does)
# gets two sockets of its generation's, both in the group and both read;
# when a process exits, its extra socket leaves and the others serve on,
# after handoff upgrade too (the extras and their owners are carried).
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

P=$(free_port_udp)
upgrade_setup
start_handoff -n 2 --control "$CTL" -l dns=udp:127.0.0.1:$P -- python3 -c '
import os, select, socket, sys
port, gen = int(sys.argv[1]), os.environ["HANDOFF_GENERATION"]
socks = []
for _ in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.setblocking(False)  # both processes read the first socket: one
    socks.append(s)       # finds it empty after select()
byfd = {s.fileno(): s for s in socks}
while True:
    for fd in select.select(list(byfd), [], [])[0]:
        s = byfd[fd]
        try:
            data, peer = s.recvfrom(512)
        except BlockingIOError:
            continue
        s.sendto(("gen=%s pid=%d ino=%d" % (gen, os.getpid(),
                  os.fstat(fd).st_ino)).encode(), peer)
' "$P"
wait_log 'event=promote gen=1 '

# ask N: N queries, each from a socket of its own (a port of its own: the
# program picks a member by source address and port); prints each answer,
# "lost" for one unanswered in 2 s.
ask() {
    python3 -c 'import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(2)
    c.sendto(b"q", ("127.0.0.1", port))
    try:
        print(c.recv(512).decode())
    except socket.timeout:
        print("lost")
    c.close()' "$P" "$1"
}
A=$(ask 300)
LOST=$(echo "$A" | grep -c '^lost$' || true)
PIDS=$(echo "$A" | sed -n 's/.* pid=\([0-9]*\) .*/\1/p' | sort -u)
INOS=$(echo "$A" | sed -n 's/.* ino=\([0-9]*\)$/\1/p' | sort -u | wc -l)
echo "300 queries: lost=$LOST pids=$(echo $PIDS) sockets=$INOS"
[ "$LOST" = 0 ] || fail "$LOST of 300 queries lost"
[ "$(echo "$PIDS" | wc -w)" = 2 ] || fail "not both processes answered: $(echo $PIDS)"
# Each process: its generation's first socket and one of its own.
for pid in $PIDS; do
    n=$(echo "$A" | grep " pid=$pid " | sed -n 's/.* ino=\([0-9]*\)$/\1/p' | sort -u | wc -l)
    echo "pid $pid: $n sockets answered"
    [ "$n" = 2 ] || fail "pid $pid answered from $n socket(s), wanted 2 (one per bind)"
done
[ "$INOS" = 3 ] || fail "$INOS sockets answered, wanted 3 (the first, shared, and one extra each)"
[ "$(count 'event=member_joined name=dns gen=1 ')" = 2 ] || fail "not 2 member_joined lines"
ok "two binds in one process: two sockets of the generation, each read"

# handoff upgrade, there and back: the extras are carried with their
# processes (not refused, not closed) and still read.
for bin in "$NEXT" "$SELF"; do
    out=$(timeout 60 "$HANDOFF" upgrade --control "$CTL" --binary "$bin" 2>&1) || fail "upgrade to $bin: $out"
    case $out in "upgraded pid=$HPID "*) ;; *) fail "upgrade to $bin: $out" ;; esac
done
A=$(ask 300)
LOST=$(echo "$A" | grep -c '^lost$' || true)
INOS=$(echo "$A" | sed -n 's/.* ino=\([0-9]*\)$/\1/p' | sort -u | wc -l)
echo "after two upgrades, 300 queries: lost=$LOST sockets=$INOS"
[ "$LOST" = 0 ] && [ "$INOS" = 3 ] || fail "after the upgrades: $LOST lost, $INOS sockets answered (wanted 0, 3)"
ok "two upgrades: the 3 sockets still read, 0 of 300 lost"

# The first process exits: its extra leaves (the image that adopted it
# knows it is that process's); the rest keep serving.
VICTIM=$(echo "$PIDS" | head -n1)
kill -KILL "$VICTIM"
wait_log 'event=member_left name=dns gen=1 '
A=$(ask 200)
LOST=$(echo "$A" | grep -c '^lost$' || true)
echo "after pid $VICTIM exited, 200 queries: lost=$LOST"
[ "$LOST" = 0 ] || fail "$LOST of 200 queries lost after a process exited"
echo "$A" | grep -q " pid=$VICTIM " && fail "the exited process answered"
ok "its extra socket left the group; 0 of 200 lost"
stop_handoff
