# deb.sh: the Debian package, end to end. Builds it with dpkg-buildpackage
# from a copy of the source tree (the files git tracks or would track, as
# they are in the work tree: nothing a build left behind), checks it with
# lintian, installs it, rolls an unchanged server through the installed
# shim, installs it again (an upgrade to dpkg, whose postinst finds no
# master to upgrade), then purges it and checks that none of its files is
# left.
# Needs root (it installs a package) and dpkg-buildpackage; run by
# `tools/run deb`, not by make check: the build alone takes a minute.
#   HANDOFF_DEB_KEEP=DIR  keep the built .deb files in DIR
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
HANDOFF=/usr/bin/handoff
. "$TOP_SRCDIR/tests/integration/lib.sh"
unset LD_PRELOAD # the preload checked is handoff's alone

[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root (the test installs a package)"; exit 77; }
need dpkg-buildpackage dpkg-deb dpkg-query git curl python3
[ -d "$TOP_SRCDIR/debian" ] ||
    { echo "SKIP: no debian/ in $TOP_SRCDIR (release tarballs do not ship it: use a git checkout)"; exit 77; }
git -C "$TOP_SRCDIR" rev-parse --git-dir >/dev/null 2>&1 ||
    { echo "SKIP: $TOP_SRCDIR is not a git checkout"; exit 77; }
deps=$(cd "$TOP_SRCDIR" && dpkg-checkbuilddeps 2>&1) ||
    { echo "SKIP: ${deps#dpkg-checkbuilddeps: error: } (tools/setup deb installs them)"; exit 77; }
# A handoff this test did not install is left alone: dpkg would overwrite
# it, and the purge at the end would remove it.
if dpkg-query -W -f='${Status}' handoff 2>/dev/null | grep -q 'ok installed'; then
    echo "SKIP: the handoff package is already installed; dpkg --purge handoff first"
    exit 77
fi
[ -e "$HANDOFF" ] && { echo "SKIP: $HANDOFF exists and is not the package's"; exit 77; }

INSTALLED=
deb_cleanup() {
    cleanup # lib.sh's: the handoff started here, then $T
    if [ -n "$INSTALLED" ]; then
        dpkg --purge handoff >/dev/null 2>&1 || echo "could not purge handoff: dpkg --purge handoff"
    fi
}
trap deb_cleanup EXIT

MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
SHIM=/usr/lib/$MA/handoff/handoff-shim.so

# The upstream part of debian/changelog's version is configure.ac's.
ver=$(sed -n 's/^AC_INIT(\[handoff\], \[\([^]]*\)\].*/\1/p' "$TOP_SRCDIR/configure.ac")
debver=$(sed -n '1s/^handoff (\([^)]*\)).*/\1/p' "$TOP_SRCDIR/debian/changelog")
[ -n "$ver" ] && [ "${debver%-*}" = "$ver" ] ||
    fail "debian/changelog's version $debver is not configure.ac's $ver plus a Debian revision"
ok "debian/changelog $debver matches configure.ac $ver"

# The copy: what git lists (tracked and untracked, not ignored), as it is now.
SRC="$T/src/handoff-$ver"
mkdir -p "$SRC"
(cd "$TOP_SRCDIR" && git ls-files -z -co --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$SRC" || fail "could not copy the source tree"
[ ! -e "$SRC/configure" ] && [ ! -e "$SRC/Makefile" ] || fail "the copy holds build output"
if ! (cd "$SRC" && timeout 900 dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
    tail -n 40 "$T/build.log"
    fail "dpkg-buildpackage failed (its last lines above)"
fi
DEB=$(ls "$T"/src/handoff_"$debver"_*.deb 2>/dev/null)
[ -f "$DEB" ] || fail "no handoff_${debver}_*.deb in $T/src: $(ls "$T/src")"
units=$(grep -Ec '^PASS: tests/unit/' "$T/build.log")
ok "dpkg-buildpackage -us -uc -b: $(basename "$DEB"), $units unit tests passed in the build"
[ -z "${HANDOFF_DEB_KEEP:-}" ] || { mkdir -p "$HANDOFF_DEB_KEEP" && cp "$T"/src/*.deb "$HANDOFF_DEB_KEEP"/; }

# What it holds: the binary, the shim where the binary looks, the man
# pages, the example unit; no .la, and no unit where systemd would see it.
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$T/contents"
for f in /usr/bin/handoff "$SHIM" /usr/share/man/man8/handoff.8.gz \
    /usr/share/man/man5/handoff.conf.5.gz /usr/share/man/man7/handoff-shim.7.gz \
    /usr/share/man/man7/handoff-protocol.7.gz \
    /usr/share/doc/handoff/examples/systemd/handoff.service \
    /usr/share/doc/handoff/examples/systemd/handoff.conf /usr/share/doc/handoff/copyright \
    /usr/share/doc/handoff/examples/prometheus/prometheus.yml \
    /usr/share/doc/handoff/examples/prometheus/alerts.yml; do
    grep -qxF "$f" "$T/contents" || fail "the package lacks $f"
done
! grep -E '\.la$|^/(usr/)?lib/systemd/|^/etc/' "$T/contents" ||
    fail "the package holds the files above, which it should not"
ok "the package holds handoff, $SHIM, 4 man pages, the example unit and Prometheus files, and enables no service"

if command -v lintian >/dev/null 2>&1; then
    # Clean: no error, no warning (debian/handoff.lintian-overrides holds
    # the one that does not apply, an ITP bug to close).
    lintian --fail-on error,warning "$DEB" >"$T/lintian.out" 2>&1 ||
        { cat "$T/lintian.out"; fail "lintian reports errors or warnings"; }
    overridden=$(lintian --show-overrides "$DEB" 2>/dev/null | grep -c '^O: ')
    ok "lintian: no error, no warning ($overridden overridden, in debian/handoff.lintian-overrides)"
else
    echo "lintian not installed: the package was not linted"
fi

INSTALLED=yes
dpkg -i "$DEB" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg -i failed"; }
dpkg-query -L handoff >"$T/files" || fail "dpkg-query -L handoff"
[ "$("$HANDOFF" -V)" = "handoff $ver" ] || fail "handoff -V says '$("$HANDOFF" -V)', expected 'handoff $ver'"
grep -aqF "/usr/lib/$MA/handoff" "$HANDOFF" || fail "$HANDOFF does not hold the path /usr/lib/$MA/handoff"
ok "installed: $HANDOFF -V says handoff $ver"

# mapped_shims PID: the handoff shims mapped in PID, one a line.
mapped_shims() { awk '/handoff-shim/ {print $6}' "/proc/$1/maps" | sort -u; }
# worker_of GEN: the pid of generation GEN's worker, from the log.
worker_of() { sed -n "s/.*event=spawn gen=$1 pid=\([0-9]*\).*/\1/p" "$LOG" | head -n1; }

# An unchanged server rolled through the installed shim: the worker maps
# that shim and no other, before and after the roll.
PORT=$(free_port)
echo "installed package" >"$T/index.html"
start_handoff -l "127.0.0.1:$PORT" --drain-signal INT -- \
    python3 -m http.server --bind 127.0.0.1 --directory "$T" "$PORT"
wait_log 'event=promote gen=1 ' 1 30
[ "$(get /index.html)" = "installed package" ] || fail "the server does not answer through the shim"
w1=$(worker_of 1)
[ -n "$w1" ] && [ -r "/proc/$w1/maps" ] || fail "no live worker for generation 1 ('$w1')"
[ "$(mapped_shims "$w1")" = "$SHIM" ] || fail "worker $w1 maps '$(mapped_shims "$w1")', expected $SHIM"
kill -USR2 "$HPID"
wait_log 'event=promote gen=2 ' 1 30
[ "$(get /index.html)" = "installed package" ] || fail "no answer after the roll"
w2=$(worker_of 2)
[ -n "$w2" ] && [ "$w2" != "$w1" ] && [ -r "/proc/$w2/maps" ] || fail "no new worker for generation 2 ('$w2')"
[ "$(mapped_shims "$w2")" = "$SHIM" ] || fail "worker $w2 maps '$(mapped_shims "$w2")', expected $SHIM"
stop_handoff
ok "python3 -m http.server rolled through $SHIM: workers $w1 then $w2, both answered"

# The same package installed again is an upgrade to dpkg (postinst
# configure with the version before): with no master's control socket in
# /run/handoff.sock or /run/handoff/, the postinst upgrades nothing, says
# nothing and succeeds. Skipped when this machine runs such a master: the
# postinst would upgrade it.
running=
for s in /run/handoff.sock /run/handoff/*.sock; do [ ! -S "$s" ] || running="$running $s"; done
if [ -z "$running" ]; then
    dpkg -i "$DEB" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg -i over the installed package failed"; }
    grep -q "^Setting up handoff ($debver)" "$T/dpkg.out" || { cat "$T/dpkg.out"; fail "dpkg -i again did not configure handoff"; }
    ! grep '^handoff: ' "$T/dpkg.out" || fail "the postinst spoke of a master, and none runs"
    ok "dpkg -i over $debver (postinst configure $debver): no master found, nothing said, exit 0"
else
    echo "masters run here ($running): the postinst's upgrade with none was not checked"
fi

if command -v man >/dev/null 2>&1; then
    page=$(man -w 8 handoff 2>&1)
    [ "$page" = /usr/share/man/man8/handoff.8.gz ] || fail "man -w 8 handoff: $page"
    for p in 5:handoff.conf 7:handoff-shim 7:handoff-protocol; do
        man -w "${p%%:*}" "${p#*:}" >/dev/null 2>&1 || fail "man -w ${p%%:*} ${p#*:} finds nothing"
    done
    ok "man -w finds handoff(8), handoff.conf(5), handoff-shim(7), handoff-protocol(7)"
else
    [ -f /usr/share/man/man8/handoff.8.gz ] || fail "no /usr/share/man/man8/handoff.8.gz"
    ok "/usr/share/man/man8/handoff.8.gz is installed (man not installed)"
fi

# Purged, nothing of it stays: every file and every directory of its own.
dpkg --purge handoff >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg --purge handoff failed"; }
INSTALLED=
dpkg-query -W -f='${Status}' handoff 2>/dev/null | grep -q 'ok installed' && fail "still installed after purge"
left=
n=0
while IFS= read -r f; do
    [ "$f" = /. ] && continue
    n=$((n + 1))
    if [ -d "$f" ] && [ ! -L "$f" ]; then
        # Shared directories (/usr/bin, /usr/share/man/man8) stay, owned by
        # other packages; its own go.
        dpkg-query -S "$f" >/dev/null 2>&1 || left="$left $f"
    elif [ -e "$f" ] || [ -L "$f" ]; then
        left="$left $f"
    fi
done <"$T/files"
[ -z "$left" ] || fail "left after dpkg --purge:$left"
ok "dpkg --purge handoff: none of its $n paths is left"
