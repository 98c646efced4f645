# shim_epoll_wait.sh: ready = listen counts a wait on an epoll fd whose
# set holds a managed socket (poll, ppoll or select on the epoll fd, as
# EventMachine does under thin), under the number epoll_create gave it,
# a dup() of it (made before or after the socket was added, or while the
# set was empty), or in a forked child; a set without the socket does not,
# nor does a file that took the number of an epoll fd close_range() or
# closefrom() closed. A helper spawned (vfork, close_range in the child)
# takes nothing away from the process.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

# The server: the listener in an epoll set; WAY waits on the set's fd,
# then takes the connection epoll reports. Before that it waits 1 s on an
# epoll fd whose set holds a pipe, polled the same way: warm-up.
cat >"$T/server.py" <<'PY'
import ctypes, os, select, socket, subprocess, sys
port, way = int(sys.argv[1]), sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
class pollfd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short),
                ("revents", ctypes.c_short)]
class timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]
def wait(fd, ms):
    if way == "select":
        select.select([fd], [], [], None if ms < 0 else ms / 1000)
    elif way.startswith("ppoll"):
        p = pollfd(fd, select.POLLIN, 0)
        t = timespec(ms // 1000, ms % 1000 * 1000000)
        libc.ppoll(ctypes.byref(p), 1, None if ms < 0 else ctypes.byref(t), None)
    else:
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(ms)
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(16)
s.setblocking(False)
if way.endswith(("closerange", "closefrom")):
    # A copy of a set holding the socket, closed behind close()'s back;
    # the pipe that takes its number is waited on for the warm-up.
    old = select.epoll()
    old.register(s.fileno(), select.EPOLLIN)
    n = os.dup(old.fileno())
    if way.endswith("closerange"):
        libc.close_range(n, n, 0)
    else:
        libc.closefrom(n)
    r, w = os.pipe()
    if r != n:
        sys.exit("the pipe got fd %d, not %d" % (r, n))
    wait(r, 1000)
else:
    r, w = os.pipe()
    warm = select.epoll()
    warm.register(r, select.EPOLLIN)
    wait(warm.fileno(), 1000)
ep = select.epoll()
fd = ep.fileno()
if way.endswith("dupfirst"):  # a copy of the set while it is empty
    fd = os.dup(fd)
ep.register(s.fileno(), select.EPOLLIN)
if way.endswith("dup"):
    fd = os.dup(fd)
if way.endswith("readd"):  # emptied, then filled through the other number
    fd = os.dup(fd)
    ep.unregister(s.fileno())
    ep.register(s.fileno(), select.EPOLLIN)
if way.endswith("fork") and os.fork() > 0:
    os.wait()
    sys.exit(0)
if way.endswith("spawn"):
    # The child closes its fds (close_range) in this process's memory
    # (vfork): the socket and the set stay this process's.
    subprocess.run(["true"], check=True)
while True:
    wait(fd, -1)
    for _ in ep.poll(0):
        try:
            c, _ = s.accept()
        except BlockingIOError:
            continue
        c.setblocking(True)
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        c.close()
PY

for way in poll ppoll select ppoll-dup poll-fork ppoll-dupfirst ppoll-readd \
    poll-closerange poll-closefrom ppoll-spawn; do
    PORT=$(free_port)
    start_handoff --ready-timeout 10s -l "127.0.0.1:$PORT" -- \
        python3 "$T/server.py" "$PORT" "$way"
    wait_log 'event=(promote|roll_failed) ' 1 20
    [ "$(count 'event=promote ')" -eq 1 ] ||
        fail "$way on the epoll fd: never ready: $(grep -o 'event=roll_failed.*' "$LOG" | head -c 200)"
    ms=$(grep -Eo 'event=ready .*ready_ms=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
    [ "$ms" -ge 900 ] || fail "$way: ready after ${ms} ms, during the warm-up wait on a file that is not a set holding the socket"
    [ "$(get /)" = ok ] || fail "$way: the server does not serve"
    ok "$way on an epoll fd holding the managed socket: ready after the warm-up (ready_ms=$ms), serves"
    stop_handoff
done
