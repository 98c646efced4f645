# upgrade_fds.sh: the master's descriptors after 1 and after 100 upgrades
# are those it held before: the same sockets (listeners, steering members,
# control, notify, metrics, the workers' channels), files and pipes, no
# more and no fewer; only the event loop's own pipes are new, and after the
# first upgrade one descriptor of the image before (O_PATH: the way back if
# the new image cannot take the state over), one and the same count after.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

upgrade_setup
N=100
# A sanitizer build's upgrade is 3 sanitized process starts (the client,
# the check, the new image) and a leak scan at the check's exit: 1.1 s
# each at a load of 13 on 2 cores. Fewer there: a descriptor a build
# leaks at each upgrade shows at the first.
nm "$HANDOFF" 2>/dev/null | grep -q __asan_init && N=20

# fds: the master's descriptor table, one line per target, sorted. A pipe
# both of whose ends the master holds is its event loop's (libuv's signal
# and wake-up pipes, made anew by each image): counted, not named. Any
# other pipe, every socket (by inode) and every file is named.
fds() {
    local f t flags
    for f in /proc/"$HPID"/fd/*; do
        t=$(readlink "$f") || continue
        flags=$(awk '/^flags:/ {print $2}' "/proc/$HPID/fdinfo/${f##*/}" 2>/dev/null)
        # O_PATH (010000000): the image before's binary, whichever it was.
        if [ -n "$flags" ] && [ $((0$flags & 010000000)) -ne 0 ]; then
            echo "O_PATH: the image before"
            continue
        fi
        echo "$t"
    done | sort | uniq -c | while read -r n t; do
        case $t in
        pipe:*) if [ "$n" -eq 2 ]; then echo "pipe (the loop's own, both ends)"; else
            for _ in $(seq "$n"); do echo "$t"; done; fi ;;
        *) for _ in $(seq "$n"); do echo "$t"; done ;;
        esac
    done | sort
}

# Started with nothing above fd 2: what the test's shell holds is not
# handoff's (handoff marks what it inherited close-on-exec, so that would
# go at the first upgrade).
rm -f "$LOG"
(
    # No redirection on the loop: bash would keep fd 2 in a copy it closes.
    for f in /proc/$BASHPID/fd/*; do
        n=${f##*/}
        [ "$n" -gt 2 ] && [ -e "$f" ] && eval "exec $n>&-"
    done
    exec "$HANDOFF" --pass systemd -n 2 --control "$CTL" --metrics 127.0.0.1:0 \
        -l 127.0.0.1:0 -l "unix:$T/unix.sock" -- python3 "$SERVER"
) >"$T/stdout" 2>"$LOG" &
HPID=$!
STARTED="$STARTED $HPID"
wait_log 'event=promote' 1 30
PORT=$(grep -Eo 'event=listen .*address=127[^ ]*:[0-9]+' "$LOG" | head -n1 | grep -Eo '[0-9]+$')
[ -n "$(pid_serving)" ] || fail "not serving"
W=$(ps -o pid= --ppid "$HPID" | sort -n | tr -d ' ' | tr '\n' ' ')

fds >"$T/fds.0"
nfd=$(wc -l <"$T/fds.0")
sockets=$(grep -c '^socket:' "$T/fds.0")
[ "$sockets" -ge 7 ] || fail "only $sockets sockets before the upgrades: $(cat "$T/fds.0")"
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$HPID/status")

# upgrade BIN: one upgrade, answered as such.
upgrade() {
    local out
    out=$("$HANDOFF" upgrade --control "$CTL" --binary "$1" 2>&1) ||
        fail "upgrade $i to $1: exit $?: $out"
    case $out in
    "upgraded pid=$HPID "*) ;;
    *) fail "upgrade $i to $1 answered: $out" ;;
    esac
}

i=1
upgrade "$NEXT"
fds >"$T/fds.1"
# The one descriptor an upgrade adds: the image before it.
{ cat "$T/fds.0"; echo "O_PATH: the image before"; } | sort >"$T/fds.0+"
diff "$T/fds.0+" "$T/fds.1" >"$T/diff.1" ||
    fail "after 1 upgrade the fds differ (< before and the image before, > after): $(cat "$T/diff.1")"
ok "1 upgrade: the same $nfd descriptors ($sockets sockets)"

t0=$(date +%s%N)
for i in $(seq 2 $N); do
    if [ $((i % 2)) -eq 1 ]; then upgrade "$NEXT"; else upgrade "$SELF"; fi
done
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(readlink "/proc/$HPID/exe")" = "$SELF" ] || fail "/proc/$HPID/exe is $(readlink "/proc/$HPID/exe")"
fds >"$T/fds.$N"
diff "$T/fds.1" "$T/fds.$N" >"$T/diff.$N" ||
    fail "after $N upgrades the fds differ (< after 1, > after $N): $(cat "$T/diff.$N")"
[ "$(ps -o pid= --ppid "$HPID" | sort -n | tr -d ' ' | tr '\n' ' ')" = "$W" ] ||
    fail "the workers changed across the upgrades"
[ -n "$(pid_serving)" ] || fail "not serving after $N upgrades"
[ "$(count 'event=upgrade ')" -eq "$N" ] || fail "$(count 'event=upgrade ') event=upgrade lines, expected $N"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$HPID/status")
ok "$N upgrades in $ms ms ($((ms / (N - 1))) ms each): the same $nfd descriptors, workers $W kept (RSS ${rss0} -> ${rss} kB)"

stop_handoff
sanitizers_quiet
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS after a graceful stop"
ok "graceful stop after $N upgrades, exit 0"
