# shellcheck shell=bash
# man_lint.sh: the man pages are clean under mandoc -Tlint and document the
# interface the code has: every flag and key of supervisor/config.c, the
# options of the control client (supervisor/control_client.c), every variable
# handoff sets for a worker or reads itself, no long option the code lacks,
# and every function the LD_PRELOAD shim exports (Makefile.am) in
# handoff-shim.7.
set -u

: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
MAN="$TOP_SRCDIR/man"
CONFIG_C="$TOP_SRCDIR/supervisor/config.c"
CONTROL_C="$TOP_SRCDIR/supervisor/control_client.c"
CHECK_C="$TOP_SRCDIR/supervisor/config_check.c" # the variables worker.c sets
MAKEFILE_AM="$TOP_SRCDIR/Makefile.am"
PAGES="$MAN/handoff.8 $MAN/handoff.conf.5 $MAN/handoff-protocol.7 $MAN/handoff-shim.7"

command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc not installed"; exit 77; }

status=0
bad() { echo "FAIL: $*"; status=1; }

# 1. mandoc -Tlint -Wwarning prints nothing for any page.
for page in $PAGES; do
    [ -f "$page" ] || { bad "$page is missing"; continue; }
    out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
    if [ -n "$out" ]; then
        bad "mandoc -Tlint -Wwarning ${page#"$TOP_SRCDIR"/}:"
        printf '%s\n' "$out" | sed 's/^/    /'
    else
        echo "ok: mandoc -Tlint -Wwarning ${page#"$TOP_SRCDIR"/}: no messages"
    fi
done
[ "$status" -eq 0 ] || exit 1

# The tables of config.c, read from the source so that this test follows it.
flag_rows=$(sed -n '/^} flag_keys\[\] = {/,/^};/p' "$CONFIG_C")
long_flags=$(printf '%s\n' "$flag_rows" | sed -n 's/^ *{"\([a-z-]*\)", .*/\1/p')
short_flags=$(printf '%s\n' "$flag_rows" | sed -n "s/^ *{\"[a-z-]*\", '\\(.\\)'.*/\\1/p")
other_long=$(sed -n 's/.*(struct option){"\([a-z-]*\)".*/\1/p' "$CONFIG_C")
# handoff status|roll|stop: {"json", no_argument, NULL, 'j'},
client_long=$(sed -n 's/^ *{"\([a-z-]*\)", \(no\|required\)_argument,.*/\1/p' "$CONTROL_C")
# What handoff reads from its own environment: getenv("NAME").
read_vars=$(cat "$TOP_SRCDIR"/supervisor/*.c | grep -o 'getenv("[A-Z_]*")' |
    sed 's/getenv("\(.*\)")/\1/' | sort -u)
file_keys=$(sed -n '/^static const struct key keys\[\] = {/,/^};/p' "$CONFIG_C" |
    sed -n 's/^ *{"[a-z]*", "\([a-z_]*\)".*/\1/p')
worker_vars=$(sed -n '/^static const char \*const handoff_vars/,/^};/p' "$CHECK_C" |
    grep -o '"[A-Z_]*=\{0,1\}"' | tr -d '"=')
# The shim's exports: -export-symbols-regex '^(bind|listen|...)$$'
shim_exports=$(sed -n "s/.*-export-symbols-regex '^(\([a-z0-9_|]*\))\\$\\$'.*/\1/p" \
    "$MAKEFILE_AM" | tr '|' '\n')

[ -n "$long_flags" ] || bad "no long flag found in flag_keys[] of config.c"
[ -n "$file_keys" ] || bad "no key found in keys[] of config.c"
[ -n "$other_long" ] || bad "no struct option literal found in config.c"
[ -n "$client_long" ] || bad "no option of the client found in control_client.c"
[ -n "$read_vars" ] || bad "no getenv() found in supervisor/*.c"
[ -n "$worker_vars" ] || bad "no variable found in handoff_vars[] of config_check.c"
[ -n "$shim_exports" ] || bad "no -export-symbols-regex '^(...)\$\$' found in Makefile.am"
[ "$status" -eq 0 ] || exit 1

# A long option as handoff.8 writes it: .Fl \-ready\-timeout
fl_pattern() { printf '%s' "$1" | sed 's/-/\\\\\\{0,1\\}-/g'; }

# 2. Every long flag of flag_keys[] (and -c, -l, -t, -h, -V) is in handoff.8.
n=0
for f in $long_flags $other_long $client_long; do
    n=$((n + 1))
    grep -q "Fl \\\\\\{0,1\\}-$(fl_pattern "$f")\\([^a-z\\\\-]\\|\$\\)" "$MAN/handoff.8" ||
        bad "handoff.8 does not document --$f"
done
echo "checked $n long options of config.c against .Fl in handoff.8"

n=0
for s in $short_flags c l t h V; do
    n=$((n + 1))
    grep -q "Fl $s\\([^A-Za-z]\\|\$\\)" "$MAN/handoff.8" ||
        bad "handoff.8 does not document -$s"
done
echo "checked $n short options of config.c against .Fl in handoff.8"

# 2b. Every command of the client (control_is_command) is named in the
# DESCRIPTION of handoff.8, where it says what the first argument does.
commands=$(sed -n '/^control_is_command(/,/^}/p' "$CONTROL_C" | grep -o '"[a-z]*"' | tr -d '"')
[ -n "$commands" ] || bad "no command found in control_is_command() of control_client.c"
description=$(sed -n '/^\.Sh DESCRIPTION/,/^\.Ss /p' "$MAN/handoff.8")
n=0
for c in $commands; do
    n=$((n + 1))
    grep -q "^\.Cm $c\( \|\$\)" <<<"$description" ||
        bad "handoff.8's DESCRIPTION does not name the command $c"
done
echo "checked $n client commands against handoff.8's DESCRIPTION"

# 2c. The limits of canary.h are those handoff.conf.5 states.
steps_max=$(sed -n 's/^#define CANARY_MAX_STEPS \([0-9]*\).*/\1/p' "$TOP_SRCDIR/supervisor/canary.h")
cidrs_max=$(sed -n 's/^#define CANARY_MAX_CIDRS \([0-9]*\).*/\1/p' "$TOP_SRCDIR/supervisor/canary.h")
[ -n "$steps_max" ] && [ -n "$cidrs_max" ] || bad "no CANARY_MAX_STEPS or CANARY_MAX_CIDRS in canary.h"
grep -qi "at most $steps_max steps" "$MAN/handoff.conf.5" ||
    bad "handoff.conf.5 does not say canary takes at most $steps_max steps"
grep -qi "at most $cidrs_max networks" "$MAN/handoff.conf.5" ||
    bad "handoff.conf.5 does not say canary_clients takes at most $cidrs_max networks"

# 3. Every key of keys[] has an entry in handoff.conf.5's key lists.
n=0
for k in $file_keys; do
    n=$((n + 1))
    grep -q "^\\.It Ic $k No = " "$MAN/handoff.conf.5" ||
        bad "handoff.conf.5 has no '.It Ic $k No = ...' entry"
    grep -qw -- "$k" "$MAN/handoff.8" || [ "$k" = mode ] ||
        bad "handoff.8 never names the key $k"
done
echo "checked $n keys of config.c against handoff.conf.5"

# 4. No .Fl long option in handoff.8 that the code lacks.
known=" $(printf '%s\n' "$long_flags" "$other_long" "$client_long" | tr '\n' ' ')"
n=0
# shellcheck disable=SC2013 # option names are single words
for f in $(grep -o 'Fl \\\{0,1\}-[a-z\\-]*' "$MAN/handoff.8" |
           sed -e 's/^Fl //' -e 's/\\//g' -e 's/^-//' | sort -u); do
    [ -n "$f" ] || continue # ".Fl \-" alone is the end of the options
    n=$((n + 1))
    case "$known" in
    *" $f "*) ;;
    *) bad "handoff.8 documents --$f, which config.c does not have" ;;
    esac
done
echo "checked $n distinct long options of handoff.8 against config.c"

# 5. Every variable handoff sets for a worker is in handoff.8's ENVIRONMENT.
n=0
for v in $worker_vars; do
    n=$((n + 1))
    grep -q "^\\.It Ev $v" "$MAN/handoff.8" ||
        bad "handoff.8 has no '.It Ev $v' entry"
done
echo "checked $n worker variables (config_check.c handoff_vars) against handoff.8"

# 5b. Every variable handoff reads (getenv) is named in handoff.8.
n=0
for v in $read_vars; do
    n=$((n + 1))
    grep -q "Ev $v\([^A-Z_]\|\$\)" "$MAN/handoff.8" ||
        bad "handoff.8 does not name $v, which handoff reads (no .Ev $v)"
done
echo "checked $n variables read by handoff against handoff.8"

# 6. Every function the shim exports is documented in handoff-shim.7, as
#    .Fn name or .Xr name 2 (possibly among other macros on the line).
n=0
for f in $shim_exports; do
    n=$((n + 1))
    grep -q "\(^\.\|[[:space:]]\)\(Fn $f\|Xr $f 2\)\([[:space:]]\|\$\)" \
        "$MAN/handoff-shim.7" ||
        bad "handoff-shim.7 does not document $f (no .Fn $f or .Xr $f 2)"
done
echo "checked $n exported functions of the shim against handoff-shim.7"

# 7. The pages name each other as they are installed.
for ref in "Xr handoff.conf 5" "Xr handoff-protocol 7"; do
    grep -q "$ref" "$MAN/handoff.8" || bad "handoff.8 lacks .$ref"
done
grep -q "Xr handoff 8" "$MAN/handoff.conf.5" || bad "handoff.conf.5 lacks .Xr handoff 8"
grep -q "Xr handoff 8" "$MAN/handoff-protocol.7" || bad "handoff-protocol.7 lacks .Xr handoff 8"
for ref in "Xr handoff 8" "Xr handoff.conf 5" "Xr handoff-protocol 7" "Xr ld.so 8"; do
    grep -q "$ref" "$MAN/handoff-shim.7" || bad "handoff-shim.7 lacks .$ref"
done

[ "$status" -eq 0 ] && echo "ok: man pages lint clean and match the code"
exit "$status"
