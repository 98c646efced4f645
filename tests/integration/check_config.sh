# check_config.sh: -t prints the effective configuration; bad files and
# flags are refused with one line naming FILE:LINE or the flag, exit 2.
. "$TOP_SRCDIR/tests/integration/lib.sh"

conf="$T/good.conf"
long=$(printf 'x%.0s' $(seq 230))
cat >"$conf" <<CONF
[handoff]
stop_timeout = 10s
[listen web]
address = 127.0.0.1:8080
[worker]
command = /bin/echo "a b" $long ; a comment
processes = 3
pass = systemd
ready = http:http://127.0.0.1:9000/health
drain_signal = QUIT
liveness = dns:127.0.0.1:53/www.example
liveness_interval = 500ms
max_rss = 512K
watchdog = 3s
liveness_action = restart
CONF
"$HANDOFF" -c "$conf" -n 4 -t >"$T/out" 2>&1 || fail "good file refused: $(cat "$T/out")"
grep -q '^processes = 4$' "$T/out" || fail "-n did not override processes"
grep -q '^drain_signal = SIGQUIT$' "$T/out" || fail "drain_signal not printed"
grep -q "^command = /bin/echo a\\\\ b $long\$" "$T/out" || fail "long command line not read whole: $(grep command "$T/out")"
for kv in 'liveness = dns:127.0.0.1:53/www.example' 'liveness_interval = 500ms' \
    'liveness_failures = 3' 'liveness_timeout = 2s' 'max_rss = 512K' 'watchdog = 3s' \
    'liveness_action = restart'; do
    grep -qx "$kv" "$T/out" || fail "-t does not print '$kv': $(grep -E '^(liveness|watchdog|max_rss)' "$T/out")"
done
# The printed configuration reads back to the same.
sed 1d "$T/out" >"$T/again.conf"
"$HANDOFF" -c "$T/again.conf" -t | sed 1d >"$T/out2"
diff <(sed 1d "$T/out") "$T/out2" >/dev/null || fail "printed configuration does not read back the same"
ok "-t: effective configuration, flags over file, a 270-character line, round trip"

# A bare URL, as people type it, is http:URL; -t prints a form that loads back.
"$HANDOFF" -l 127.0.0.1:8080 --ready http://127.0.0.1:8080/healthz -t -- /bin/true \
    >"$T/url" 2>&1 || fail "--ready http://URL refused: $(cat "$T/url")"
grep -q '^ready = http:http://127.0.0.1:8080/healthz$' "$T/url" ||
    fail "--ready http://URL printed as: $(grep '^ready' "$T/url")"
sed 1d "$T/url" >"$T/url.conf"
"$HANDOFF" -c "$T/url.conf" -t >"$T/url2" 2>&1 || fail "printed ready does not load back: $(cat "$T/url2")"
printf '[listen a]\naddress = :1\n[worker]\ncommand = true\nready = http://[::1]:9/h\n' >"$T/url3.conf"
"$HANDOFF" -c "$T/url3.conf" -t >"$T/url3" 2>&1 || fail "ready = http://URL in a file refused: $(cat "$T/url3")"
ok "ready: a bare http:// URL, from a flag or a file, printed as http:URL"

# bad CASE: file text (\n-escaped) or "" | flags | expected message regex
n=0
bad() {
    local text=$1 pat=$2
    shift 2
    local args=("$@")
    if [ -n "$text" ]; then
        printf '%b\n' "$text" >"$T/bad.conf"
        args=(-c "$T/bad.conf" "${args[@]}")
    fi
    "$HANDOFF" "${args[@]}" >"$T/bout" 2>"$T/berr"
    local rc=$?
    [ "$rc" -eq 2 ] || fail "expected exit 2, got $rc for: $text ${args[*]}"
    [ "$(wc -l <"$T/berr")" -ge 1 ] || fail "no message for: $text ${args[*]}"
    grep -Eq -- "$pat" "$T/berr" || fail "message '$(head -n1 "$T/berr")' does not match /$pat/"
    n=$((n + 1))
}
F="$T/bad.conf"
W='[listen a]\naddress = :1\n[worker]\ncommand = x\npass = systemd\n'
bad "[handoff]\nstop_timeout = 5x" "^handoff: $F:2: stop_timeout: bad duration" -t
bad "[handoff]\nlog_format = xml" "$F:2: log_format: .*logfmt" -t
bad "[handoff]\nlog_level = loud" "$F:2: log_level:" -t
bad "[handoff]\nbogus = 1" "$F:2: bogus: unknown key" -t
bad "[nope]\nx = 1" "$F:1: unknown section \\[nope\\]" -t
bad "x = 1" "$F:1: x: key outside a section" -t
bad "[handoff\nstop_timeout = 1s" "$F:1: syntax error" -t
bad "${W}processes = 0" "$F:6: processes: bad number" -t
bad "${W}processes = many" "$F:6: processes:" -t
bad "${W}pass = magic" "$F:6: pass:" -t
bad "${W}ready = sometimes" "$F:6: ready: unknown readiness" -t
bad "${W}ready = tcp:nohost" "$F:6: ready: .*tcp:HOST:PORT" -t
bad "${W}ready = http:ftp://x/" "$F:6: ready:" -t
bad "${W}ready = delay:soon" "$F:6: ready: bad duration" -t
bad "${W}ready = notify:x" "$F:6: ready: .*takes no argument" -t
bad "${W}ready = listen" "ready = listen needs pass = shim or protocol" -t
bad "${W}drain_signal = SIGNOPE" "$F:6: drain_signal: unknown signal" -t
bad "${W}drain_signal = KILL" "drain_signal cannot be SIGKILL" -t
bad "${W}drain_timeout = -1s" "$F:6: drain_timeout: bad duration" -t
bad "${W}restart = sometimes" "$F:6: restart:" -t
bad "${W}user = no-such-user-here" "user: no such user" -t
bad "${W}group = no-such-group-here" "group: no such group" -t
bad "${W}directory = /nonexistent" "$F:6: directory: directory \"/nonexistent\": No such file or directory" -t
bad "${W}directory = /etc/passwd" "$F:6: directory: directory \"/etc/passwd\" is not a directory" -t
bad "${W}environment = 1BAD=x" "$F:6: environment: bad environment entry" -t
# A NUL byte would cut the value short without a word.
bad "${W}ready = delay:1s\0garbage" "^handoff: $F:6: a NUL byte" -t
bad "${W}command = \"unterminated" "$F:6: command: unterminated" -t
bad "[listen a]\naddress = 1.2.3:80\n[worker]\ncommand = x" "$F:2: address: bad IPv4" -t
bad "[listen a]\naddress = ::1:80\n[worker]\ncommand = x" "$F:2: address: IPv6 addresses go in brackets" -t
bad "[listen a]\naddress = 127.0.0.1:70000\n[worker]\ncommand = x" "$F:2: address: bad port" -t
bad "[listen a]\naddress = unix:relative\n[worker]\ncommand = x" "$F:2: address: .*absolute" -t
bad "[listen a]\naddress = 127.0.0.1:80\nmode = 0660\n[worker]\ncommand = x" "mode: only for unix" -t
bad "[listen a]\naddress = unix:/tmp/x.sock\nmode = 999\n[worker]\ncommand = x" "$F:3: mode: bad mode" -t
bad "[listen a]\naddress = :80\n[listen a]\naddress = :81\n[worker]\ncommand = x" "$F:3: listener \"a\" defined twice" -t
bad "[listen a]\naddress = :80\n[listen b]\naddress = :80\n[worker]\ncommand = x" "address :80 is also \\[listen a\\]" -t
bad "[listen b@d]\naddress = :80" "$F:1: listener name" -t
bad "[worker]\ncommand = x" "no listener" -t
bad "[handoff]\nprobe_ports = 61000-61001" "$F:2: probe_ports: bad port range" -t
bad "[listen a]\naddress = :80\ntraffic = proxied\n[worker]\ncommand = x" "$F:3: traffic: .*steered or shared" -t
bad "" "^handoff: --traffic:" -l :1 --traffic both -t -- true
bad "" "^handoff: --drain-delay: bad duration" -l :1 --drain-delay soon -t -- true
bad "${W}canary = 110%/30s" "$F:6: canary: .*below 100%" -t
bad "${W}canary = 25%/30s 5%/1m" "$F:6: canary: .*steps must increase" -t
bad "${W}canary = 5%/0s" "$F:6: canary: .*more than 0" -t
bad "${W}canary_clients = 10.0.0.0/40" "$F:6: canary_clients: .*bad prefix length" -t
bad "${W}canary_clients = nowhere" "$F:6: canary_clients: .*not an IPv4 or IPv6" -t
bad "${W}guard_latency = 1" "$F:6: guard_latency: bad ratio" -t
bad "${W}guard = ping:x" "$F:6: guard: unknown guard" -t
bad "${W}guard = tcp:1.2.3.4:http\nguard_latency = 1.5" "$F:6: guard: .*tcp:HOST:PORT" -t
bad "${W}guard = exec:true\nguard_latency = 1.5" "$F:7: guard_latency: guard_latency needs an http:, tcp: or dns: guard" -t
bad "[listen a]\naddress = 127.0.0.1:80\ntraffic = shared\n[worker]\ncommand = x\ncanary = 5%/1m" "$F:6: canary: a canary needs steered traffic" -t
bad "${W}liveness = ping:x" "$F:6: liveness: unknown liveness \"ping:x\"" -t
bad "${W}liveness = tcp:1.2.3.4:http" "$F:6: liveness: .*tcp:HOST:PORT" -t
bad "${W}max_rss = 10MB" "$F:6: max_rss: \"10MB\": expected a size" -t
bad "${W}liveness_action = reboot" "$F:6: liveness_action: .*roll or restart" -t
bad "${W}liveness_failures = 0" "$F:6: liveness_failures:" -t
bad "${W}liveness_interval = 5ms" "$F:6: liveness_interval: must be at least 10ms" -t
bad "${W}watchdog = 5ms" "$F:6: watchdog: must be at least 10ms" -t
bad "${W}restart = never\nwatchdog = 1s\nliveness_action = restart" "$F:8: liveness_action: .*restart = never" -t
bad "${W}environment = WATCHDOG_USEC=5" "$F:6: environment: .*WATCHDOG_USEC" -t
bad "" "^handoff: --max-rss: \"1T\": expected a size" -l :1 --max-rss 1T -t -- true
bad "" "^handoff: --liveness-action: .*roll or restart" -l :1 --liveness-action kill -t -- true
bad "" "^handoff: --canary: .*below 100%" -l :1 --canary 100%/1s -t -- true
bad "" "^handoff: --guard-latency: bad ratio" -l :1 --guard-latency 0.5 -t -- true
bad "" "^handoff: --canary-clients: .*not an IPv4" -l :1 --canary-clients 300.1.1.1 -t -- true
bad "" "^handoff: -l: bad port" -l 127.0.0.1:x -t -- true
bad "" "^handoff: --ready-timeout: bad duration" -l :1 --ready-timeout soon -t -- true
bad "" "^handoff: --drain-signal: unknown signal" -l :1 --drain-signal NOPE -t -- true
bad "" "^handoff: --pass:" -l :1 --pass nope -t -- true
bad "" "^handoff: -n: bad number|^handoff: --processes: bad number" -l :1 -n 0 -t -- true
bad "" "unknown flag" --frobnicate -l :1 -- true
bad "" "no command" -l :1 --pass systemd -t
bad "" "^handoff: $T/missing.conf: No such file" -c "$T/missing.conf" -t
# Unknown keys are errors in every section, not only [handoff].
bad "${W}frobnicate = 1" "$F:6: frobnicate: unknown key in \\[worker\\]" -t
bad "[listen a]\naddress = :1\nport = 2\n[worker]\ncommand = x" "$F:3: port: unknown key in \\[listen\\]" -t
bad "${W}ready_timeout = 0s" "$F:6: ready_timeout: must be more than 0" -t
bad "${W}ready_interval = 1ms" "$F:6: ready_interval: must be at least" -t
bad "${W}command =" "$F:6: command: empty command" -t
bad "${W}processes = 99999999999999999999" "$F:6: processes: bad number" -t
# A flag missing its value names the flag, long or short.
bad "" "^handoff: --ready-timeout: needs a value" -l :1 --pass systemd --ready-timeout
bad "" "^handoff: --config: needs a value" -l :1 --config
bad "" "^handoff: -n: needs a value" -l :1 -n
bad "" "^handoff: -e: bad environment entry" -l :1 --pass systemd -e NOEQ -t -- x
bad "" "^handoff: --backlog: bad number" -l :1 --pass systemd --backlog -5 -t -- x
bad "" "^handoff: -C: directory" -l :1 --pass systemd -C /nonexistent -t -- x
# Messages that said something else than what is wrong.
bad "" "^handoff: --control: \"/nonexistent/x.sock\": the directory /nonexistent: No such file" \
    -l 127.0.0.1:0 --pass systemd --control /nonexistent/x.sock -- true
bad "" "^handoff: --metrics: \"9480\": expected HOST:PORT, \\[IPV6\\]:PORT or :PORT \\(for every address: \":9480\"\\)" \
    -l :1 --metrics 9480 -t -- true
for spec in '%/1m' '.5%/1m' '1e1%/1m' '50.%/1m'; do
    re=${spec//./\\.}
    bad "" "^handoff: --canary: \"$re\": bad weight \"${re%%%*}\" \\(expected a percentage" \
        -l :1 --canary "$spec" -t -- true
done
bad "[listen a]\naddress 127.0.0.1:8080\n[worker]\ncommand = x" "^handoff: $F:2: expected key = value: no '=' after \"address\"" -t
bad "${W}processes: 3" "^handoff: $F:6: \"processes:\": expected key = value \\('=', not ':'\\)" -t
bad "${W}drain_signal = SIGCHLD" "^handoff: $F:6: drain_signal: drain_signal cannot be SIGCHLD, SIGCONT, SIGURG" -t
bad "" "^handoff: --drain-signal: drain_signal cannot be SIGCHLD, SIGCONT, SIGURG" -l :1 --drain-signal URG -t -- true
bad "${W}environment = HANDOFF_FD=9" "^handoff: $F:6: environment: HANDOFF_FD: handoff sets it itself" -t
bad "${W}environment = LISTEN_FDS=2" "^handoff: $F:6: environment: LISTEN_FDS: handoff sets it itself" -t
bad "" "^handoff: -e: LD_PRELOAD: handoff sets it to load the shim" -l :1 -e LD_PRELOAD=/x.so -t -- true
# -t finds the command as the worker's exec would, or says why not.
bad "${W}command = /no/such/bin" "^handoff: $F:6: command: \"/no/such/bin\": No such file or directory" -t
bad "" "^handoff: command: \"no-such-command-handoff\": not found in PATH \\(" -l :1 -t -- no-such-command-handoff
bad "" "^handoff: command: \"/etc/passwd\": not an executable file" -l :1 -t -- /etc/passwd
printf '#!/bin/sh\n' >"$T/run.sh"
chmod 755 "$T/run.sh"
bad "" "^handoff: command: \"/\./run.sh\": No such file" -l :1 -C / -t -- ./run.sh
[ "$n" -ge 30 ] || fail "only $n bad cases"
ok "$n bad configurations and command lines refused with exit 2 and a message naming the place"

# What -t accepts: a relative command in directory =, LD_PRELOAD for a
# worker without the shim, SIGWINCH (Apache's graceful stop).
"$HANDOFF" -l :1 -C "$T" --drain-signal WINCH -t -- ./run.sh >"$T/out" 2>&1 ||
    fail "a relative command in -C refused: $(cat "$T/out")"
"$HANDOFF" -l :1 --pass systemd -e LD_PRELOAD=/x.so -t -- sh >"$T/out" 2>&1 ||
    fail "LD_PRELOAD with pass = systemd refused: $(cat "$T/out")"
ok "-t: a relative command in -C DIR, LD_PRELOAD without the shim, SIGWINCH accepted"

# A path that is no regular file is refused at once, without reading it:
# a FIFO would block the open, /dev/zero would be read for ever.
mkfifo "$T/fifo"
for f in "$T/fifo" /dev/zero "$T"; do
    timeout 10 "$HANDOFF" -c "$f" -t >/dev/null 2>"$T/ferr"
    rc=$?
    [ "$rc" -eq 2 ] || fail "-c $f -t: exit $rc, expected 2 at once: $(head -c 300 "$T/ferr")"
    grep -Eq "^handoff: $f: not a regular file \\((a FIFO|a character device|a directory)\\)" "$T/ferr" ||
        fail "-c $f: message: $(head -c 300 "$T/ferr")"
done
# Nor one larger than 1 MiB.
head -c 1048577 /dev/zero | tr '\0' ';' >"$T/big.conf"
timeout 10 "$HANDOFF" -c "$T/big.conf" -t >/dev/null 2>"$T/ferr"
rc=$?
[ "$rc" -eq 2 ] || fail "a 1 MiB + 1 file: exit $rc, expected 2"
grep -q "^handoff: $T/big.conf: too large (1048577 bytes, at most 1 MiB)" "$T/ferr" ||
    fail "a 1 MiB + 1 file: message: $(head -c 300 "$T/ferr")"
ok "-c FIFO, -c /dev/zero, -c DIR and a file over 1 MiB: refused at once, exit 2, the file named"

# Refused means nothing started: no listener was bound. The worker's
# command line is this script's alone (another test may run beside it,
# make -j2): a process found with it was started here.
"$HANDOFF" -l 127.0.0.1:0 --pass systemd --drain-timeout x -- sleep "10.$$" 2>/dev/null
[ $? -eq 2 ] || fail "bad flag not refused"
pgrep -fx "sleep 10.$$" >/dev/null && fail "a worker was started despite a bad flag"
ok "nothing starts when a flag is bad"
