# shim_sockopts.sh: options a server sets on its own socket before bind()
# (TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE) reach the connections it
# accepts on the master's socket that the shim put in its place.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" -- python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 77)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.recv(4096)
    body = "nodelay=%d keepalive=%d keepidle=%d\n" % (
        c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
        c.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        c.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))
    c.sendall(("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
    c.close()' "$PORT"
wait_log 'event=promote' 1
got=$(get /)
echo "accepted connection: $got"
[ "$got" = "nodelay=1 keepalive=1 keepidle=77" ] ||
    fail "options set before bind() did not reach an accepted connection: '$got'"
ok "TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE set before bind() are on the accepted connection"
stop_handoff
