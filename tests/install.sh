# install.sh: `make installcheck` (and so `make distcheck`): the installed
# handoff finds its shim in pkglibdir, away from any build tree, and rolls
# an unchanged server through it; the installed man pages lint clean.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3 hey
unset LD_PRELOAD # the preload checked is handoff's alone
: "${PKGLIBDIR:?set PKGLIBDIR}" "${MANDIR:?set MANDIR}"

case "$HANDOFF" in
*/.libs/* | "$TOP_SRCDIR"/*) fail "$HANDOFF is not an installed binary" ;;
esac
[ -r "$PKGLIBDIR/handoff-shim.so" ] || fail "no $PKGLIBDIR/handoff-shim.so"


# The worker says what it was preloaded with, then becomes the server.
PORT=$(free_port)
echo installed >"$T/index.html"
start_handoff -l "127.0.0.1:$PORT" --drain-signal INT -- sh -c \
    'echo "$LD_PRELOAD" >"$0/preload.$HANDOFF_GENERATION"; exec python3 -m http.server --bind 127.0.0.1 "$1" --directory "$0"' \
    "$T" "$PORT"
wait_log 'event=promote' 1
[ "$(cat "$T/preload.1")" = "$PKGLIBDIR/handoff-shim.so" ] ||
    fail "the worker's LD_PRELOAD is '$(cat "$T/preload.1")', expected $PKGLIBDIR/handoff-shim.so"
[ "$(get /index.html)" = installed ] || fail "the server does not answer through the shim"
load_start 4
for i in 2 3 4; do roll_and_wait "$i"; done
load_stop
[ "$(count 'event=ready .*via=listen')" -ge 4 ] || fail "the shim did not report readiness"
[ "$FAILED" -le 12 ] || fail "$FAILED of $REQS requests failed"
grep -q 'connection refused' "$T/hey.out" && fail "connections refused during the rolls"
stop_handoff
ok "installed: the shim from $PKGLIBDIR, 3 rolls under load, none refused ($FAILED of $REQS lost in flight at SIGINT)"

if command -v mandoc >/dev/null 2>&1; then
    n=0
    for page in "$MANDIR"/man5/handoff.conf.5 "$MANDIR"/man7/handoff-protocol.7 \
        "$MANDIR"/man7/handoff-shim.7 "$MANDIR"/man8/handoff.8; do
        [ -r "$page" ] || fail "$page is not installed"
        out=$(mandoc -Tlint -Wwarning "$page" 2>&1) && [ -z "$out" ] || fail "$page: $out"
        n=$((n + 1))
    done
    ok "$n man pages installed, clean under mandoc -Tlint"
fi
