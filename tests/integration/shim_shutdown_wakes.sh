# shim_shutdown_wakes.sh: shutdown() of a managed socket wakes a thread
# blocked in accept() on it, as the kernel would (EINVAL), so a server that
# stops that way drains instead of being killed.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

# One thread blocks in accept(); on the drain signal the main thread shuts
# the socket down and waits 3 s for the thread: exit 0 if it came back,
# 3 if it is still blocked.
PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" --drain-timeout 10s -- python3 -c '
import os, signal, socket, sys, threading
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
woke = []
def serve():
    try:
        while True:
            s.accept()[0].close()
    except OSError as e:
        woke.append(e.errno)
t = threading.Thread(target=serve)
t.start()
signal.sigwait({signal.SIGTERM})
s.shutdown(socket.SHUT_RDWR)
t.join(3)
print("woke", woke, flush=True)
os._exit(0 if not t.is_alive() else 3)
' "$PORT"
wait_log 'event=promote' 1
sleep 0.3  # the thread is in accept() by now
roll_and_wait 2
wait_log 'event=exit gen=1 ' 1 20
grep 'event=exit gen=1 ' "$LOG"
grep -q 'event=exit gen=1 .*code=0 ' "$LOG" ||
    fail "the thread blocked in accept() did not wake on shutdown(): $(grep 'event=exit gen=1 ' "$LOG")"
grep -q "woke \[22\]" "$T/stdout" "$LOG" || fail "accept() did not fail with EINVAL"
ok "shutdown() wakes the thread blocked in accept() with EINVAL: the old generation exited 0 on its drain signal"
stop_handoff
