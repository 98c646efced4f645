# deb.sh: the Debian package, end to end. Builds it with dpkg-buildpackage
# from a copy of the source tree (the files git tracks or would track, as
# they are in the work tree: nothing a build left behind), checks it with
# lintian, installs it, rolls an unchanged server through the installed
# shim, installs it again (an upgrade to dpkg, whose postinst finds no
# master to upgrade), installs a newer version of it while a master runs
# from it under load (the postinst upgrades that master in place), then
# purges it and checks that none of its files is left.
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
RMRUN=
deb_cleanup() {
    cleanup # lib.sh's: the handoff started here, then $T
    [ -z "$RMRUN" ] || rmdir /run/handoff 2>/dev/null
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

# A newer package installed while a master runs from the installed one,
# under load: its postinst finds the master by its control socket in
# /run/handoff/ and upgrades it in place. The newer package is this one
# repacked with a higher Version in its control file and nothing else
# changed: the binary is the same build, so both sides say the same
# handoff -V; what shows is that dpkg replaced /usr/bin/handoff (a new
# inode; the master's exe reads "(deleted)" until the postinst runs) and
# that the postinst made the running master execute the new file: the
# same pid and workers, its exe the installed file's inode, 0 failed.
if ! command -v hey >/dev/null 2>&1; then
    echo "hey not installed: the postinst's upgrade under load was not checked"
elif [ -n "$running" ]; then
    echo "masters run here ($running): the postinst would upgrade them too; its upgrade of ours was not checked"
else
    t0=$SECONDS
    debver2=$debver+1
    dpkg --compare-versions "$debver2" gt "$debver" || fail "$debver2 is not later than $debver"
    rm -rf "$T/deb2"
    dpkg-deb -R "$DEB" "$T/deb2" || fail "dpkg-deb -R $DEB"
    sed -i "s/^Version: .*/Version: $debver2/" "$T/deb2/DEBIAN/control"
    DEB2="$T/handoff_${debver2}_repacked.deb"
    dpkg-deb -Zgzip -z1 -b "$T/deb2" "$DEB2" >/dev/null || fail "dpkg-deb -b $DEB2"

    [ -d /run/handoff ] || { mkdir -m 0755 /run/handoff && RMRUN=yes; }
    CTL=/run/handoff/deb-test-$$.sock
    start_handoff --pass systemd -n 2 --control "$CTL" -l 127.0.0.1:0 -- python3 "$SERVER"
    wait_log 'event=promote gen=1 ' 1 30
    workers() { ps -o pid= --ppid "$HPID" | sort -n | tr -d ' ' | tr '\n' ' '; }
    W=$(workers)
    [ -n "$W" ] || fail "no worker"
    ino1=$(stat -L -c %i "/proc/$HPID/exe")
    [ "$(readlink "/proc/$HPID/exe")" = "$HANDOFF" ] || fail "the master runs $(readlink "/proc/$HPID/exe"), not $HANDOFF"
    load_start 8
    dpkg -i "$DEB2" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg -i $DEB2 failed"; }
    grep -q "^Unpacking handoff ($debver2) over ($debver)" "$T/dpkg.out" ||
        { cat "$T/dpkg.out"; fail "dpkg -i $DEB2 did not upgrade $debver to $debver2"; }
    line=$(grep "^handoff: $CTL: " "$T/dpkg.out")
    case $line in
    "handoff: $CTL: upgraded pid=$HPID from=$ver to=$ver ms="*) ;;
    *) cat "$T/dpkg.out"; fail "the postinst did not upgrade the master on $CTL" ;;
    esac
    get / | grep -q '^pid=' || fail "no answer after the package upgrade"
    load_stop
    exe=$(readlink "/proc/$HPID/exe")
    ino2=$(stat -L -c %i "/proc/$HPID/exe")
    [ "$exe" = "$HANDOFF" ] && [ "$ino2" = "$(stat -c %i "$HANDOFF")" ] && [ "$ino2" != "$ino1" ] ||
        fail "after the package upgrade the master runs $exe (inode $ino2; $HANDOFF is $(stat -c %i "$HANDOFF"), was $ino1)"
    [ "$(count 'event=upgrade ')" -eq 1 ] || fail "$(count 'event=upgrade ') event=upgrade lines, expected 1"
    [ "$(workers)" = "$W" ] || fail "workers $(workers) after the package upgrade, were $W"
    [ "$REQS" -gt 100 ] || fail "too little load ($REQS requests)"
    [ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed across the package upgrade"
    mpid=$HPID
    stop_handoff
    [ "$STATUS" -eq 0 ] || fail "exit status $STATUS after the package upgrade and a graceful stop"
    ok "dpkg -i $debver2 (repacked) under hey -c8: the postinst said '${line#handoff: }';" \
        "pid $mpid, workers $W kept, exe $HANDOFF inode $ino1 -> $ino2, 0 failed of $REQS ($((SECONDS - t0)) s)"
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
