# shim_tables.sh: the shim's tables grow: a managed fd above 1024, more
# than 64 epoll registrations, more than 32 options, and copies of a
# managed fd made with dup(), dup2() and F_DUPFD are all kept.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 4096 ] ||
    { echo "SKIP: the hard limit of open files is below 4096"; exit 77; }
ulimit -n 4096

# Listener 1 is bound at fd 2000 and serves. Listener 2 is added to 100
# epoll sets and closed: with a connection queued on it none may report
# it. Listener 3 gets 40 options, and copies (below fd 1024) whose
# blocking mode must stay the process's own.
PORT=$(free_port)
second=$(free_port)
third=$(free_port)
start_handoff -l "127.0.0.1:$PORT" -l "127.0.0.1:$second" -l "127.0.0.1:$third" -- python3 -c '
import fcntl, os, select, socket, sys
port, second, third, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
res = []
def real_nonblocking(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        flags = [int(l.split()[1], 8) for l in f if l.startswith("flags:")][0]
    return bool(flags & os.O_NONBLOCK)

t = socket.socket()
os.dup2(t.fileno(), 2000)
t.close()
s = socket.socket(fileno=2000)
try:
    s.bind(("127.0.0.1", port))
    res.append("fd2000=bound")
except OSError as e:
    res.append("fd2000=" + e.strerror)
s.listen(16)

w = socket.socket()
w.bind(("127.0.0.1", second))
w.listen(16)
sets = [select.epoll() for _ in range(100)]
for ep in sets:
    ep.register(w.fileno(), select.EPOLLIN)
w.close()
c = socket.create_connection(("127.0.0.1", second))
n = sum(len(ep.poll(0.01)) for ep in sets)
res.append("epoll_events=%d" % n)

o = socket.socket()
o.bind(("127.0.0.1", third))
o.listen(16)
kept = 0
for i in range(40):
    try:
        o.setsockopt(socket.SOL_SOCKET, 1000 + i, i + 1)
        kept += o.getsockopt(socket.SOL_SOCKET, 1000 + i) == i + 1
    except OSError:
        pass
res.append("options=%d" % kept)

copies = {"dup": os.dup(o.fileno()), "dup2": 900, "f_dupfd": fcntl.fcntl(o.fileno(), fcntl.F_DUPFD, 700)}
os.dup2(o.fileno(), 900)
for how, d in copies.items():
    fl = fcntl.fcntl(d, fcntl.F_GETFL)
    fcntl.fcntl(d, fcntl.F_SETFL, fl & ~os.O_NONBLOCK)
    res.append("%s_real_nonblocking=%d" % (how, real_nonblocking(o.fileno())))
    fcntl.fcntl(d, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    res.append("%s_view=%d" % (how, bool(fcntl.fcntl(d, fcntl.F_GETFL) & os.O_NONBLOCK)))
    os.close(d)
with open(out, "w") as f:
    f.write("\n".join(res) + "\n")
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    c.close()
' "$PORT" "$second" "$third" "$T/result"
wait_log 'event=(promote|roll_failed) ' 1
for _ in $(seq 200); do [ -s "$T/result" ] && break; sleep 0.05; done
cat "$T/result"
grep -q '^fd2000=bound$' "$T/result" || fail "managed bind at fd 2000: $(grep fd2000 "$T/result")"
[ "$(get /)" = ok ] || fail "the socket at fd 2000 does not serve"
grep -q '^epoll_events=0$' "$T/result" || fail "closed socket still reported by its epoll sets: $(grep epoll_events "$T/result")"
grep -q '^options=40$' "$T/result" || fail "options kept: $(grep options "$T/result") of 40"
grep -q 'ignored' "$LOG" && fail "an option was dropped: $(grep ignored "$LOG" | head -n1)"
for how in dup dup2 f_dupfd; do
    grep -q "^${how}_real_nonblocking=1$" "$T/result" ||
        fail "clearing O_NONBLOCK on a $how copy made the shared socket blocking"
    grep -q "^${how}_view=1$" "$T/result" || fail "a $how copy does not keep the process's view"
done
ok "fd 2000 managed and serving, 100 epoll sets emptied on close, 40 options kept, dup/dup2/F_DUPFD copies managed"
stop_handoff
