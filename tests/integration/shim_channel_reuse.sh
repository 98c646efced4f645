# shim_channel_reuse.sh: a server that closes HANDOFF_FD, or dup2()s
# another socket onto its number, retires the shim's channel: later binds
# never talk to whatever now has that number.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

# The worker binds its managed socket and reports ready, then puts an
# unrelated SEQPACKET socket at HANDOFF_FD's number three ways: dup2() in
# one forked child, dup3() in another, close() and F_DUPFD in itself. After
# each, a private bind (port 0) must go ahead at once, nothing must arrive
# on the unrelated socket, and a bind of the managed address must fail
# with EADDRINUSE (the master holds it) and say why on stderr.
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" -- python3 -c '
import errno, fcntl, os, select, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(16)
select.select([s], [], [], 0)  # readiness, while the channel is there
n = int(os.environ["HANDOFF_FD"])

def attempt(how):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if how == "dup2":
        os.dup2(a.fileno(), n)
    elif how == "dup3":
        os.dup2(a.fileno(), n, inheritable=False)
    else:
        os.close(n)
        assert fcntl.fcntl(a.fileno(), fcntl.F_DUPFD, n) == n
    t0 = time.time()
    try:
        socket.socket().bind(("127.0.0.1", 0))
        r = "bound"
    except OSError as e:
        r = errno.errorcode[e.errno]
    took = time.time() - t0
    try:
        socket.socket().bind(("127.0.0.1", port))
        m = "bound"
    except OSError as e:
        m = errno.errorcode[e.errno]
    b.setblocking(False)
    try:
        leaked = len(b.recv(4096))
    except BlockingIOError:
        leaked = 0
    with open(out, "a") as f:
        f.write("%s private=%s took=%.1f managed=%s leaked=%d\n" % (how, r, took, m, leaked))

for how in ("dup2", "dup3"):
    pid = os.fork()
    if pid == 0:
        attempt(how)
        os._exit(0)
    os.waitpid(pid, 0)
attempt("close")
while True:
    c, _ = s.accept()
    c.close()
' "$PORT" "$T/result"
wait_log 'event=promote' 1
for _ in $(seq 800); do [ -f "$T/result" ] && [ "$(wc -l <"$T/result")" -ge 3 ] && break; sleep 0.05; done
cat "$T/result"
for how in dup2 dup3 close; do
    grep -q "^$how private=bound took=0.[0-4] managed=EADDRINUSE leaked=0$" "$T/result" ||
        fail "after $how onto HANDOFF_FD: $(grep "^$how" "$T/result")"
done
[ "$(count "handoff-shim: bind 127.0.0.1:$PORT: Address already in use; the control channel \(HANDOFF_FD=[0-9]+\) was closed")" -eq 3 ] ||
    fail "no clear message for a managed bind without the channel"
ok "dup2, dup3 and close of HANDOFF_FD retire the channel: private binds at once, nothing sent to the socket now at that number, managed binds fail with EADDRINUSE and say why"
stop_handoff
