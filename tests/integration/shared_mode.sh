#!/usr/bin/env bash
# shared_mode.sh: the core roll, drain, fault and shim tests again, every
# listener with traffic = shared (the others run them steered, the default).
set -u
dir=$(cd "$(dirname "$0")" && pwd)
export HANDOFF_TRAFFIC=shared
rc=0
for t in roll_under_load roll_slow_start roll_failures drain restart reload faults shim; do
    echo "=== $t.sh with traffic = shared"
    bash "$dir/$t.sh"
    r=$?
    if [ "$r" -eq 77 ]; then
        echo "SKIP: $t.sh"
    elif [ "$r" -ne 0 ]; then
        echo "FAIL: $t.sh with traffic = shared (exit $r)"
        rc=1
    fi
done
exit "$rc"
