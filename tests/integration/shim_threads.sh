# shim_threads.sh: threads that bind managed addresses at the same time
# each get their own socket through the shim.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl

CC=${CC:-cc}
# Eight threads, released together by a barrier, each bind one managed
# port and serve it; the main thread writes how many binds succeeded.
cat >"$T/threads.c" <<'C'
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#define N 8
static pthread_barrier_t go;
static int ports[N], bound[N], errs[N];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;
static void *
serve(void *arg)
{
    int i = (int)(long)arg, s = socket(AF_INET, SOCK_STREAM, 0), c;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(ports[i])};
    char buf[4096], out[128];

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    pthread_barrier_wait(&go);
    bound[i] = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(s, 16) == 0;
    errs[i] = errno;
    pthread_mutex_lock(&mu);
    done++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    while (bound[i]) {
        if ((c = accept(s, NULL, NULL)) < 0)
            continue;
        (void)!read(c, buf, sizeof(buf));
        snprintf(out, sizeof(out), "HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nthread=%d\n", i);
        (void)!write(c, out, strlen(out));
        close(c);
    }
    return NULL;
}
int
main(int argc, char **argv)
{
    pthread_t t[N];
    FILE *f;
    int n = 0;

    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        ports[i] = atoi(argv[2 + i]);
        pthread_create(&t[i], NULL, serve, (void *)(long)i);
    }
    pthread_mutex_lock(&mu);
    while (done < N)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    f = fopen(argv[1], "w");
    for (int i = 0; i < N; i++) {
        n += bound[i];
        if (!bound[i])
            fprintf(f, "thread %d: %s\n", i, strerror(errs[i]));
    }
    fprintf(f, "bound=%d\n", n);
    fclose(f);
    for (;;)
        pause();
}
C
"$CC" -pthread -o "$T/threads" "$T/threads.c" || fail "cannot build the server"

ports= flags=
for _ in $(seq 8); do
    p=$(free_port)
    ports="$ports $p"
    flags="$flags -l 127.0.0.1:$p"
done
start=$SECONDS
# shellcheck disable=SC2086
start_handoff $flags --ready-timeout 30s -- "$T/threads" "$T/result" $ports
wait_log 'event=(promote|roll_failed) ' 1 40
for _ in $(seq 400); do [ -s "$T/result" ] && break; sleep 0.05; done
cat "$T/result"
grep -q '^bound=8$' "$T/result" || fail "concurrent binds: $(tail -n1 "$T/result") of 8 after $((SECONDS - start)) s"
grep -q 'event=promote' "$LOG" || fail "not promoted"
for p in $ports; do
    PORT=$p
    get / | grep -q '^thread=[0-7]$' || fail "port $p does not serve"
done
ok "8 threads bound 8 managed ports at once: all 8 bound and serve"
stop_handoff

# fork() while another thread waits for the master's answer: the child's
# copy of the channel lock must not stay held by a thread it does not have.
# A fake master delays its answer to the first request by 3 s, says so on a
# pipe (then the worker forks), and answers the others at once (ENOENT: the
# bind goes ahead). The child stops its parent while it binds: the waiting
# thread shares the channel and could read the child's answer.
need python3
python3 - "$HANDOFF" <<'PY' >"$T/fork.out" 2>&1 || fail "bind in a child forked during a bind: $(cat "$T/fork.out")"
import os, select, signal, socket, struct, subprocess, sys, time
shim = os.path.join(os.path.dirname(sys.argv[1]), ".libs", "handoff-shim.so")
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
held_r, held_w = os.pipe()
# Ports the kernel chose: a bind to port 0 is never asked of the master.
free = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free.append(s)
ports = [str(s.getsockname()[1]) for s in free]
for s in free:
    s.close()
env = dict(os.environ, LD_PRELOAD=shim, HANDOFF_FD=str(a.fileno()), HELD_FD=str(held_r),
           PORTS=" ".join(ports))
code = r"""
import os, socket, sys, threading, time
ports = [int(p) for p in os.environ["PORTS"].split()]
def slow():
    socket.socket().bind(("127.0.0.1", ports[0]))
threading.Thread(target=slow, daemon=True).start()
os.read(int(os.environ["HELD_FD"]), 1)  # the thread holds the channel now
pid = os.fork()
if pid == 0:
    import signal
    parent = os.getppid()
    os.kill(parent, signal.SIGSTOP)
    while open("/proc/%d/stat" % parent).read().rsplit(")", 1)[1].split()[0] != "T":
        time.sleep(0.01)
    t0 = time.time()
    try:
        socket.socket().bind(("127.0.0.1", ports[1]))
        r = "bound"
    except OSError as e:
        r = "error " + str(e)
    os.kill(parent, signal.SIGCONT)
    print("child", r, "%.1f" % (time.time() - t0), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""
p = subprocess.Popen([sys.executable, "-c", code], env=env, pass_fds=[a.fileno(), held_r],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                     start_new_session=True)
a.close()
first, end = None, time.time() + 20
def answer(i):
    body = b"errno=2\n"
    b.send(struct.pack("=HHIII", 1, 5, i, len(body), 0) + body)
while p.poll() is None and time.time() < end:
    if select.select([b], [], [], 0.1)[0]:
        pkt = b.recv(4096)
        if len(pkt) < 16:
            break  # every copy of the worker's end is closed
        i = struct.unpack("=HHIII", pkt[:16])[2]
        if first is None:
            first = (i, time.time())
            os.write(held_w, b"x")
        else:
            answer(i)
    if first and first[1] and time.time() - first[1] > 3:
        answer(first[0])
        first = (first[0], 0)
try:
    p.wait(timeout=max(0.1, end - time.time()))  # its end may close first
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    print("the child hung: no answer in 20 s")
    sys.exit(1)
out = p.stdout.read()
print(out.strip())
line = [l for l in out.splitlines() if l.startswith("child ")]
assert line and line[0].startswith("child bound "), out
assert float(line[0].split()[-1]) < 2, out
PY
cat "$T/fork.out"
ok "a child forked while a thread waits for the master binds at once: $(grep '^child' "$T/fork.out")"
