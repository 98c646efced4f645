# shim_ready_wait.sh: ready = listen waits for the server to wait on a
# managed socket (or accept on one), not for any poll of any fd.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

# After listen() the server warms up for 1.5 s waiting on a pipe with
# select(), poll() and epoll (a set without the listener), 0.5 s each, then
# serves from an epoll set that holds the listener.
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" -- python3 -c '
import os, select, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
r, w = os.pipe()
select.select([r], [], [], 0.5)
p = select.poll()
p.register(r, select.POLLIN)
p.poll(500)
warm = select.epoll()
warm.register(r, select.EPOLLIN)
warm.poll(0.5)
ep = select.epoll()
ep.register(s.fileno(), select.EPOLLIN)
while True:
    ep.poll()
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    c.close()
' "$PORT"
wait_log 'event=ready ' 1
ms=$(grep -Eo 'event=ready .*ready_ms=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ "$ms" -ge 1400 ] || fail "ready after ${ms} ms: before the server waited on its socket (1.5 s of warm-up)"
[ "$(get /)" = ok ] || fail "the server does not serve"
ok "ready = listen came after the warm-up waits on other fds: ready_ms=$ms"

# A server that blocks in accept() without polling is ready when it does.
stop_handoff
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" -- python3 -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    c.close()
' "$PORT"
wait_log 'event=promote' 1
[ "$(get /)" = ok ] || fail "the accepting server does not serve"
ok "a server that blocks in accept() is ready"
stop_handoff
