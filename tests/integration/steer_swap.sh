#!/usr/bin/env bash
# steer_swap.sh: a steering program the kernel refuses at a promotion
# changes nothing: the old generation stays active, routed and undrained,
# the new one fails its roll, and the next roll works.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl "${CC:-cc}"

# 1. The largest program: 16 IPv6 canary_clients of /128 (the longest to
# match) with three generations alive (the old one lingers 3 s after its
# drain signal), rolls back to back: each program fits, each roll promotes.
# The last generation ignores the stop's SIGTERM too: stop_timeout 1 s (not
# the default 30 s) bounds that stop, which is not judged here.
nets=$(for i in $(seq 1 16); do printf "2001:db8:%x::%x/128\n" "$i" "$i"; done | paste -sd " ")
start_handoff --pass systemd --ready notify --drain-timeout 3s --drain-delay 100ms --stop-timeout 1s \
    --canary-clients "$nets" -l 127.0.0.1:0 -l '[::1]:0' -- python3 "$SERVER" --ignore-drain
wait_log 'event=promote gen=1 ' 1 30
for i in 2 3 4 5; do roll_and_wait "$i"; done
[ "$(count 'event=(roll_failed|steer_failed)')" -eq 0 ] ||
    fail "16 IPv6 canary_clients, 3 generations: $(grep -E 'event=(roll_failed|steer_failed)' "$LOG" | head -n 2)"
[ "$(count 'event=promote gen=5 ')" -eq 1 ] || fail "gen 5 was not promoted"
grep -Eq 'event=roll gen=[0-9]+ ' "$LOG" && [ "$(awk '/event=roll gen=4 /{r=NR} /event=gone gen=2 /{g=NR} END{print (r && g && r < g)}' "$LOG")" = 1 ] ||
    fail "gen 2 was gone before gen 4's roll: never three generations at once"
case $(get /) in *gen=5) ;; *) fail "gen 5 does not answer" ;; esac
stop_handoff
mv "$LOG" "$T/big.log"
ok "16 IPv6 canary_clients, three generations at once, 4 rolls back to back: every program attached, every roll promoted"

# The kernel's refusal, on demand: setsockopt(SO_ATTACH_REUSEPORT_CBPF)
# fails with ENOMEM while the file $ATTACH_FAIL_IF exists (only once, the
# file removed, when ATTACH_FAIL_ONCE is set).
cat >"$T/failattach.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int
setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
    static int (*real)(int, int, int, const void *, socklen_t);
    const char *f = getenv("ATTACH_FAIL_IF");

    if (real == NULL)
        real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
    if (level == SOL_SOCKET && name == 51 && f != NULL && access(f, F_OK) == 0) {
        if (getenv("ATTACH_FAIL_ONCE") != NULL)
            unlink(f); /* the next swap is taken */
        errno = ENOMEM;
        return -1;
    }
    return real(fd, level, name, v, len);
}
EOF
"${CC:-cc}" -shared -fPIC -o "$T/failattach.so" "$T/failattach.c" -ldl ||
    { echo "SKIP: cannot build the test library"; exit 77; }
# 2. A refused swap. A sanitizer's runtime must come first in the preload,
# which is for handoff alone: the workers run without it.
PRELOAD="$(ldd "$HANDOFF" 2>/dev/null | grep -Eo '/[^ ]*lib[a-z]*san\.so[^ ]*' | paste -sd ' ') $T/failattach.so"
PRELOAD=${PRELOAD# }
LD_PRELOAD="$PRELOAD" "$HANDOFF" --version >/dev/null 2>&1 ||
    { echo "SKIP: $HANDOFF does not run with LD_PRELOAD=$PRELOAD"; exit 77; }

export ATTACH_FAIL_IF="$T/fail"
LD_PRELOAD="$PRELOAD" start_handoff --pass systemd --ready notify \
    -l 127.0.0.1:0 -- env -u LD_PRELOAD python3 "$SERVER" --bad-gens 2 --warm-up 1
wait_log 'event=promote gen=1 ' 1 30
body=$(get /)
case $body in *gen=1) ;; *) fail "gen 1 does not answer: $body" ;; esac
kill -USR2 "$HPID"
wait_log 'event=spawn gen=2 ' 1 30
touch "$T/fail" # gen 2 has joined; its promotion's swap is refused
wait_log 'event=(promote|roll_failed) gen=2 ' 1 30
rm -f "$T/fail"
[ "$(count 'event=promote gen=2 ')" -eq 0 ] ||
    fail "gen 2 was promoted although its program was refused"
grep -q 'event=roll_failed gen=2 reason="the steering program could not be attached' "$LOG" ||
    fail "no roll_failed naming the refused program"
[ "$(count 'event=(retire|drain) gen=1 ')" -eq 0 ] ||
    fail "gen 1 was retired although the program still routes to it"
wait_log 'event=gone gen=2 ' 1 30
n=0
for _ in $(seq 20); do
    case $(get /) in *gen=1) n=$((n + 1)) ;; esac
done
[ "$n" -eq 20 ] || fail "after the refused swap, $n of 20 requests answered by gen 1"
ok "a refused program swap at promotion: gen 2 failed its roll, gen 1 stays active and answers 20 of 20"

kill -USR2 "$HPID"
wait_log 'event=promote gen=3 ' 1 30
wait_log 'event=gone gen=1 ' 1 30
case $(get /) in *gen=3) ;; *) fail "gen 3 does not answer after its promotion" ;; esac
ok "the next roll promotes gen 3 and retires gen 1"
stop_handoff

# 3. A refused swap at a canary step: the canary fails and rolls back as a
# refused promotion does. Step 1 (50%) holds 5 s, long enough to arm the
# refusal once it is logged; step 2's swap (90%) is the one refused.
mv "$LOG" "$T/promote.log"
CTL="$T/ctl.sock"
export ATTACH_FAIL_ONCE=1
rm -f "$T/fail"
LD_PRELOAD="$PRELOAD" start_handoff --pass systemd --ready notify \
    --control "$CTL" -l 127.0.0.1:0 -- env -u LD_PRELOAD python3 "$SERVER"
wait_log 'event=promote gen=1 ' 1 30
"$HANDOFF" roll --canary "50%/5s 90%/5s" --control "$CTL" >"$T/roll.out" 2>&1 &
roll=$!
wait_log 'event=canary gen=2 .*step=1/2' 1 30
touch "$T/fail"
wait_log 'event=(promote|roll_failed|rollback) gen=2 ' 1 30
for _ in $(seq 300); do kill -0 "$roll" 2>/dev/null || break; sleep 0.1; done
wait "$roll"
rc=$?
[ ! -e "$T/fail" ] || fail "no program swap was refused after step 1"
[ "$rc" -ne 0 ] || fail "handoff roll exited 0 although step 2 was refused: $(cat "$T/roll.out")"
grep -q 'steering program could not be attached .*canary step 2 of 2' "$T/roll.out" ||
    fail "handoff roll does not name the refused step: $(cat "$T/roll.out")"
[ "$(count 'event=promote gen=2 ')" -eq 0 ] || fail "gen 2 was promoted although step 2 was refused"
grep -q 'event=canary gen=2 .*step=2/2' "$LOG" && fail "step 2 was logged as taken although refused"
st=$("$HANDOFF" status --control "$CTL")
echo "$st" | grep -q 'gen 1: active.*share=100.00%' || fail "status after the refused step: $st"
echo "$st" | grep -Eq 'gen 2: (canary|active)' && fail "gen 2 still serves after the refused step: $st"
n=0
for _ in $(seq 20); do
    case $(get /) in *gen=1) n=$((n + 1)) ;; esac
done
[ "$n" -eq 20 ] || fail "after the refused canary step, $n of 20 requests answered by gen 1"
ok "a refused swap at canary step 2: handoff roll exit $rc ($(head -n 1 "$T/roll.out")), gen 1 active at 100% and answers 20 of 20"
"$HANDOFF" roll --control "$CTL" | grep -q 'promoted gen=3' || fail "the next roll after the refused step"
ok "the next roll promotes gen 3"
stop_handoff

# 4. A refused swap at a rollback changes nothing either: the canary keeps
# its share and its state, handoff rollback exits 1 naming the refusal; once
# the kernel takes programs again, the rollback works. The canary's one
# step holds 60 s: only the rollbacks end it.
mv "$LOG" "$T/step.log"
unset ATTACH_FAIL_ONCE
rm -f "$T/fail" "$CTL"
LD_PRELOAD="$PRELOAD" start_handoff --pass systemd --ready notify \
    --control "$CTL" -l 127.0.0.1:0 -- env -u LD_PRELOAD python3 "$SERVER"
wait_log 'event=promote gen=1 ' 1 30
"$HANDOFF" roll --canary "50%/60s" --control "$CTL" >"$T/roll.out" 2>&1 &
roll=$!
wait_log 'event=canary gen=2 .*step=1/1' 1 30
touch "$T/fail"
out=$("$HANDOFF" rollback --control "$CTL" 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 1 ] || fail "handoff rollback exit $rc with the swap refused: $out"
echo "$out" | grep -q 'steering program could not be attached' ||
    fail "handoff rollback does not name the refusal: $out"
grep -q 'event=rollback_failed gen=2 to=1 guard=operator' "$LOG" || fail "no rollback_failed logged"
[ "$(count 'event=rollback gen=2 ')" -eq 0 ] || fail "a rollback was logged although its swap was refused"
st=$("$HANDOFF" status --control "$CTL")
echo "$st" | grep -q 'gen 2: canary.*share=50.00% step=1/1' || fail "status after the refused rollback: $st"
kill -0 "$roll" 2>/dev/null || fail "handoff roll ended at the refused rollback: $(cat "$T/roll.out")"
ok "a refused swap at a rollback: handoff rollback exit 1 ($out), gen 2 still a canary at 50%"
rm -f "$T/fail"
out=$("$HANDOFF" rollback --control "$CTL" 2>&1) || fail "handoff rollback once programs attach again: $out"
echo "$out" | grep -q 'rolled back gen=2 to=1' || fail "handoff rollback: $out"
for _ in $(seq 300); do kill -0 "$roll" 2>/dev/null || break; sleep 0.1; done
wait "$roll" && fail "handoff roll exited 0 although its canary was rolled back: $(cat "$T/roll.out")"
n=0
for _ in $(seq 20); do
    case $(get /) in *gen=1) n=$((n + 1)) ;; esac
done
[ "$n" -eq 20 ] || fail "after the rollback, $n of 20 requests answered by gen 1"
ok "the rollback once the kernel takes the program: $out, gen 1 answers 20 of 20"
stop_handoff
