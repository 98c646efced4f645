# shim_children.sh: a program a server runs (a shell-out, a CGI script)
# does not get the control channel, so it cannot ask for the listening
# sockets; a wrapper that execs the server before it binds still passes
# it on.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

# The child: asks the master for the listener over HANDOFF_FD, as any
# program could, and says what it got.
cat >"$T/child.py" <<'PY'
import os, socket, struct, sys
HDR = struct.Struct("=HHIII")
try:
    chan = socket.socket(fileno=int(os.environ["HANDOFF_FD"]))
    chan.settimeout(3)
    body = b"name=listen0\n"
    chan.send(HDR.pack(1, 3, 42, len(body), 0) + body)
    data, fds, _, _ = socket.recv_fds(chan, 4096, 1)
    rtype = HDR.unpack_from(data)[1]
    print("type=%d fds=%d" % (rtype, len(fds)))
except (OSError, KeyError, ValueError) as e:
    print("no channel: %s" % e)
PY

# The server binds the managed address through the shim, then shells out
# twice: os.system() and a subprocess that keeps its fds.
cat >"$T/server.py" <<'PY'
import os, socket, subprocess, sys
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(16)
os.system("python3 %s/child.py > %s.system" % (os.path.dirname(out), out))
with open(out + ".popen", "w") as f:
    subprocess.run(["python3", os.path.dirname(out) + "/child.py"], stdout=f,
                   close_fds=False)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    c.close()
PY

PORT=$(free_port)
# Through a wrapper shell that execs the server: the shell never binds,
# so the server still gets the channel.
start_handoff -l "127.0.0.1:$PORT" -- sh -c 'exec python3 "$1" "$2" "$3"' sh \
    "$T/server.py" "$PORT" "$T/out"
wait_log 'event=promote' 1
[ "$(get /)" = ok ] || fail "the server behind an exec wrapper does not serve"
for how in system popen; do
    got=$(cat "$T/out.$how" 2>/dev/null)
    echo "child ($how): $got"
    case $got in
    "no channel:"*) ;;
    *) fail "a child run by the server ($how) reached the master: '$got'" ;;
    esac
done
ok "children of the server (os.system, subprocess) get no channel; a wrapper's exec keeps it"
stop_handoff
