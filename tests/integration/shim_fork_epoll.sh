# shim_fork_epoll.sh: a forked child that closes a managed socket leaves
# its parent's epoll registration of it alone.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

# The parent registers the listening socket in an epoll set, forks a child
# that closes it and exits (a helper that tidies the fds it inherited),
# then serves from epoll events.
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" -- python3 -c '
import os, select, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
ep = select.epoll()
ep.register(s.fileno(), select.EPOLLIN)
pid = os.fork()
if pid == 0:
    s.close()
    os._exit(0)
os.waitpid(pid, 0)
while True:
    for fd, ev in ep.poll():
        c, _ = s.accept()
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        c.close()
' "$PORT"
wait_log 'event=promote' 1
for i in 1 2 3; do
    got=$(curl -s --max-time 3 "http://127.0.0.1:$PORT/")
    [ "$got" = ok ] || fail "request $i after the child closed the socket: no answer in 3 s ('$got')"
done
ok "a child's close() of the inherited socket: the parent's epoll still reports it, 3 of 3 requests answered"
stop_handoff
