# shim_early_ctor.sh: a library whose constructor runs before the shim's
# and calls intercepted functions does not crash the server.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl

CC=${CC:-cc}
# libearly.so is a DT_NEEDED library of the server: the dynamic linker runs
# its constructor before the preloaded shim's.
cat >"$T/early.c" <<'C'
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
int early_private_port;
__attribute__((constructor(101))) static void
early(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int one = 1, s;

    close(-1);
    fcntl(-1, F_GETFL);
    setsockopt(-1, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    epoll_ctl(-1, EPOLL_CTL_DEL, -1, NULL);
    poll(NULL, 0, 0);
    /* A private port: the master does not manage it, the bind goes ahead. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &al) == 0)
        early_private_port = ntohs(a.sin_port);
    close(s);
}
C
cat >"$T/server.c" <<'C'
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
extern int early_private_port;
int
main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    int s = socket(AF_INET, SOCK_STREAM, 0), c;
    char buf[4096], body[64], out[256];

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0) {
        perror("bind");
        return 1;
    }
    snprintf(body, sizeof(body), "private=%d\n", early_private_port > 0);
    for (;;) {
        if ((c = accept(s, NULL, NULL)) < 0)
            continue;
        (void)!read(c, buf, sizeof(buf));
        snprintf(out, sizeof(out),
                 "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
        (void)!write(c, out, strlen(out));
        close(c);
    }
}
C
"$CC" -shared -fPIC -o "$T/libearly.so" "$T/early.c" || fail "cannot build libearly.so"
"$CC" -o "$T/server" "$T/server.c" -L"$T" -learly -Wl,-rpath,"$T" ||
    fail "cannot build the server"

PORT=$(free_port)
start_handoff -l "127.0.0.1:$PORT" --restart never -- "$T/server" "$PORT"
wait_log 'event=(promote|roll_failed|exit) ' 1
grep -E 'event=exit .*(signal|code)' "$LOG" && fail "the server died: $(grep 'event=exit' "$LOG")"
[ "$(count 'event=ready .*via=listen')" -eq 1 ] || fail "readiness not reported by the shim"
[ "$(get /)" = "private=1" ] || fail "the server does not serve, or its constructor's private bind failed: '$(get /)'"
ok "a library constructor that runs before the shim's calls close(-1), fcntl, setsockopt, epoll_ctl, poll and a private bind: no crash, the server serves"
stop_handoff
