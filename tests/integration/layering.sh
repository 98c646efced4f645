# shellcheck shell=bash
# layering.sh: the modules below the master do not reach up into it. Only
# the files listed here include master.h, name struct master or call a
# master_* function; the others are given a loop, a path, data and a
# callback with its context, and report through that callback.
set -u

: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$TOP_SRCDIR" || exit 99

# Files that include master.h: main.c and master.c, which own the master.
# This list must only shrink.
INCLUDERS="
supervisor/main.c
supervisor/master.c
"
# Files that name struct master or call master_* without including
# master.h (a forward declaration, a header of the above, or
# master.h itself). This list must only shrink too.
NAMERS="
supervisor/master.h
"

status=0
bad() { echo "FAIL: $*"; status=1; }
listed() { printf '%s\n' "$2" | grep -qx "$1"; }

files=$(ls supervisor/*.[ch] shim/*.[ch] 2>/dev/null)
[ -n "$files" ] || { echo "FAIL: no source under $TOP_SRCDIR/supervisor"; exit 1; }

n=0
for f in $files; do
    n=$((n + 1))
    inc=0
    names=0
    grep -q '^[[:space:]]*#[[:space:]]*include[[:space:]]*"master\.h"' "$f" && inc=1
    grep -qE 'struct master([^_[:alnum:]]|$)|(^|[^_[:alnum:]])master_[a-z_]+[[:space:]]*\(' "$f" &&
        names=1
    if [ "$inc" -eq 1 ] && ! listed "$f" "$INCLUDERS"; then
        bad "$f includes master.h: give it what it needs and a callback instead"
    elif [ "$inc" -eq 0 ] && listed "$f" "$INCLUDERS"; then
        bad "$f no longer includes master.h: remove it from INCLUDERS in $0"
    fi
    if [ "$inc" -eq 0 ] && [ "$names" -eq 1 ] && ! listed "$f" "$NAMERS"; then
        bad "$f names struct master or calls master_*:" \
            "$(grep -nE 'struct master([^_[:alnum:]]|$)|(^|[^_[:alnum:]])master_[a-z_]+[[:space:]]*\(' "$f" | head -3)"
    elif [ "$names" -eq 0 ] && listed "$f" "$NAMERS"; then
        bad "$f no longer names the master: remove it from NAMERS in $0"
    fi
done
for f in $INCLUDERS $NAMERS; do
    [ -f "$f" ] || bad "$f is listed but does not exist"
done
echo "checked $n files: $(printf '%s\n' "$INCLUDERS" | grep -c .) include master.h," \
    "$(printf '%s\n' "$NAMERS" | grep -c .) more name it"
[ "$status" -eq 0 ] && echo "ok: only the listed files reach the master"
exit "$status"
