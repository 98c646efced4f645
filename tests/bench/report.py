#!/usr/bin/env python3
"""report.py: turn the raw outputs of bench.sh into one markdown table, the overhead figures and the targets.

usage: report.py RESULTS_DIR   (the directory bench.sh filled)
"""
import datetime
import os
import re
import statistics
import sys

R = sys.argv[1]

SCENARIOS = {
    "baseline": "no roll (steady state)",
    "steady": "steady rolls",
    "slow_ready": "new version 3 s to ready",
    "fail_start": "new version fails at start",
    "long_requests": "2 s requests in flight",
    "warm_up": "new version serves 503 for 2 s before READY=1",
    "no_drain": "no graceful drain",
    "keepalive": "keep-alive clients",
    "nginx_close": "nginx, wrk, new connection per request",
    "nginx_keepalive": "nginx, wrk keep-alive",
}
CONTENDERS = {
    "handoff": "handoff",
    "hshared": "handoff, traffic = shared",
    "naive": "stop-and-start",
    "ss": "Server::Starter",
    "nghandoff": "handoff (shim)",
    "ngreload": "nginx -s reload",
    "ngnaive": "stop-and-start",
}
HANDOFFS = ("handoff", "nghandoff")  # judged by the targets


def steering(events, requests, probe_lo=23000, probe_hi=23999):
    """Per promotion: promote (mono_us) -> the first request the new
    generation answered for a client (not from a probe port), in ms; and
    every swap_us logged."""
    first = {}
    for line in read(requests).splitlines():
        kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
        if "t" not in kv or probe_lo <= int(kv.get("port", 0)) <= probe_hi:
            continue
        g, t = kv["gen"], float(kv["t"])
        first[g] = min(first.get(g, t), t)
    lat, swaps = [], []
    for ms, ev, f in events:
        if ev == "promote" and f.get("old", "0") != "0":
            if "swap_us" in f:
                swaps.append(int(f["swap_us"]))
            if f["gen"] in first and "mono_us" in f:
                lat.append((first[f["gen"]] - int(f["mono_us"]) / 1e6) * 1000)
    return lat, swaps


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


# --- hey and wrk ---------------------------------------------------------
def classify(msg):
    m = msg.lower()
    if "connection refused" in m:
        return "refused"
    if "timeout" in m or "deadline exceeded" in m:
        return "timeout"
    if "reset" in m or "eof" in m or "broken pipe" in m or "closed" in m:
        return "reset"
    return "other"


def parse_hey(path):
    txt = read(path)
    if not txt:
        return None
    head, _, errs = txt.partition("Error distribution:")
    r = {"ok": 0, "non2xx": 0, "refused": 0, "reset": 0, "timeout": 0,
         "other": 0, "errors": []}
    status = head.partition("Status code distribution:")[2]
    for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", status):
        r["ok" if code.startswith("2") else "non2xx"] += int(n)
    for n, msg in re.findall(r"^\s*\[(\d+)\]\s+(.*)$", errs, re.M):
        r[classify(msg)] += int(n)
        r["errors"].append(f"{n} x {msg.strip()}")
    def secs(pat):
        m = re.search(pat, head)
        return float(m.group(1)) * 1000 if m else None
    r["p50"] = secs(r"50%+ in ([\d.]+) secs")
    r["p99"] = secs(r"99%+ in ([\d.]+) secs")
    r["worst"] = secs(r"Slowest:\s+([\d.]+) secs")
    return r


UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}


def wrk_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", s)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


def parse_wrk(path):
    txt = read(path)
    m = re.search(r"^\s*(\d+) requests in", txt, re.M)
    if not m:
        return None
    done = int(m.group(1))
    r = {"refused": 0, "reset": 0, "timeout": 0, "other": 0, "errors": []}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", txt)
    r["non2xx"] = int(m.group(1)) if m else 0
    r["ok"] = done - r["non2xx"]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", txt)
    if m:
        c, rd, w, t = map(int, m.groups())
        # wrk's connect is non-blocking: a refused connection fails at its
        # first write, and is counted as a write error.
        r["refused"], r["reset"], r["timeout"] = c + w, rd, t
        r["errors"].append(m.group(0))
    m = re.search(r"^\s*Latency\s+\S+\s+\S+\s+(\S+)", txt, re.M)
    r["worst"] = wrk_ms(m.group(1)) if m else None
    for q in ("50", "99"):
        m = re.search(rf"^\s*{q}%\s+(\S+)", txt, re.M)
        r["p" + q] = wrk_ms(m.group(1)) if m else None
    m = re.search(r"Requests/sec:\s*([\d.]+)", txt)
    r["rps"] = float(m.group(1)) if m else None
    return r


def rounds(ws):
    return ", ".join("%.0f" % w["rps"] for w in ws)


def failed(r):
    return r["refused"] + r["reset"] + r["timeout"] + r["non2xx"] + r["other"]


# --- handoff's log -------------------------------------------------------
def parse_log(path):
    """Every line as (ms since epoch, event, fields). A worker's own
    "worker_ready pid=N mono_us=N" line (tinyworker --mono, written to the
    stderr it shares with handoff) comes as event worker_ready, ms None."""
    out = []
    for line in read(path).splitlines():
        f = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))
        if line.startswith("worker_ready ") and "mono_us" in f:
            out.append((None, "worker_ready", f))
            continue
        if "ts" not in f or "event" not in f:
            continue
        ts = datetime.datetime.strptime(f["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        ms = ts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
        out.append((round(ms), f["event"], f))
    return out


def first(events, event, **keys):
    for ms, ev, f in events:
        if ev == event and all(f.get(k) == str(v) for k, v in keys.items()):
            return ms
    return None


def last(events, event, **keys):
    found = None
    for ms, ev, f in events:
        if ev == event and all(f.get(k) == str(v) for k, v in keys.items()):
            found = ms
    return found


def mono(events, event, pick, **keys):
    """mono_us (µs, CLOCK_MONOTONIC) of the first or last matching event."""
    found = None
    for ms, ev, f in events:
        if ev == event and "mono_us" in f and all(f.get(k) == str(v) for k, v in keys.items()):
            found = int(f["mono_us"])
            if pick == "first":
                break
    return found


def handoff_latencies(events):
    """Per promotion, in ms: (event=ready of the generation's last worker ->
    the program swap begins, promote -> the first drain signal of the old
    generation, the worker's own READY=1 sent -> the swap begins). From
    mono_us (µs) when the log has it, else from ts (1 ms resolution): the
    third needs mono_us and a worker that prints its send time (tinyworker
    --mono). promote's mono_us is taken once every listener has its new
    program (swap_us later than the first): with 1,000 listeners the swap
    is the kernel's work, reported apart (scale_swaps)."""
    rp, pd, wp = [], [], []
    gen_of = {f["pid"]: f["gen"] for ms, ev, f in events if ev == "spawn" and "pid" in f}
    wready = {}
    for ms, ev, f in events:
        if ev == "worker_ready" and f.get("pid") in gen_of:
            g = gen_of[f["pid"]]
            wready[g] = max(wready.get(g, 0), int(f["mono_us"]))
    for ms, ev, f in events:
        if ev != "promote":
            continue
        old = f.get("old", "0")
        if "mono_us" in f:
            p = int(f["mono_us"]) - int(f.get("swap_us", 0))
            ready = mono(events, "ready", "last", gen=f["gen"])
            if ready is not None:
                rp.append((p - ready) / 1000)
            if old != "0":
                drain = mono(events, "drain", "first", gen=old)
                if drain is not None:
                    pd.append((drain - p) / 1000)
            if f["gen"] in wready:
                wp.append((p - wready[f["gen"]]) / 1000)
            continue
        ready = last(events, "ready", gen=f["gen"])
        if ready is not None:
            rp.append(ms - ready)
        if old != "0":
            drain = first(events, "drain", gen=old)
            if drain is not None:
                pd.append(drain - ms)
    return rp, pd, wp


# --- progressive delivery ------------------------------------------------
def client_lines(path):
    for line in read(path).splitlines():
        kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
        if "src" in kv:
            yield kv


def canary_report():
    d = os.path.join(R, "canary")
    if not os.path.isdir(d):
        return
    print()
    print("Progressive delivery:")
    print()
    by, conns = {}, 0
    for kv in client_lines(os.path.join(d, "share")):
        conns += 1
        if kv["status"] == "200":
            by.setdefault(kv["src"], set()).add(kv["gen"])
    if by:
        n = len(by)
        inc = sum(1 for g in by.values() if "2" in g)
        both = sum(1 for g in by.values() if len(g) > 1)
        print(f"- a 10% canary seen from {n} client addresses ({conns} connections): "
              f"{100 * inc / n:.2f}% of the addresses on the canary; {both} answered "
              f"by both generations")
    ev = parse_log(os.path.join(d, "handoff.log"))
    rb = [int(f["mono_us"]) / 1e6 for ms, e, f in ev if e == "rollback" and "mono_us" in f]
    gf = [ms for ms, e, f in ev if e == "guard_failed"]
    if rb:
        canary_src = set()
        first = None
        for kv in client_lines(os.path.join(d, "guard")):
            if kv["gen"] == "3":
                canary_src.add(kv["src"])
        for kv in client_lines(os.path.join(d, "guard")):
            t0 = float(kv["t0"])
            if kv["src"] in canary_src and kv["gen"] == "2" and t0 >= rb[0]:
                first = t0 if first is None else min(first, t0)
        lost = sum(1 for kv in client_lines(os.path.join(d, "guard")) if kv["status"] != "200")
        if first is not None:
            print(f"- a failed guard → rollback → the first connection of a canary "
                  f"client served by the old generation: {(first - rb[0]) * 1000:.2f} ms "
                  f"after the swap (the client's next connect); {lost} failed requests "
                  f"across it")
    res = {}
    for who in ("alone", "handoff", "proxy"):
        ws = [parse_wrk(os.path.join(d, "ng", f))
              for f in sorted(os.listdir(os.path.join(d, "ng"))) if f.startswith(who + ".")] \
            if os.path.isdir(os.path.join(d, "ng")) else []
        ws = [w for w in ws if w and w["rps"]]
        if ws:
            res[who] = (statistics.median(w["rps"] for w in ws),
                        statistics.median(w["p99"] for w in ws if w["p99"] is not None))
    if "alone" in res:
        a = res["alone"]
        for who, label in (("handoff", "nginx under handoff, a 10% canary (two generations, steered)"),
                           ("proxy", "the same canary by an nginx split_clients proxy before two nginx")):
            if who in res:
                print(f"- {label}: {res[who][0]:.0f} req/s, {res[who][0] / a[0]:.3f} of nginx "
                      f"alone's {a[0]:.0f}; p99 {res[who][1]:.2f} ms (alone {a[1]:.2f} ms)")


# --- one row -------------------------------------------------------------
def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def row(scen, c):
    d = os.path.join(R, scen, c)
    if not os.path.isdir(d):
        return None
    res = parse_hey(os.path.join(d, "hey.out")) or parse_wrk(os.path.join(d, "wrk.out"))
    slow = parse_hey(os.path.join(d, "hey.slow"))
    rolls = [l.split() for l in read(os.path.join(d, "rolls")).splitlines() if l.strip()]
    replaced = [l.split() for l in read(os.path.join(d, "replaced")).splitlines() if l.strip()]
    events = parse_log(os.path.join(d, "handoff.log"))
    gone, failed_ms, sig_roll, roll_spawn = [], [], [], []
    for i, outcome, old, new, gms, *sig in rolls:
        if gms != "-":
            if outcome == "promoted" or c == "naive":
                gone.append(int(gms))
            continue
        t0 = first(events, "roll", gen=new)
        if sig and t0 is not None:
            # ts is truncated to the ms: up to 1 ms early.
            sig_roll.append(t0 - float(sig[0]) * 1000)
        spawn = first(events, "spawn", gen=new)
        if spawn is not None and t0 is not None:
            roll_spawn.append(spawn - t0)
        if outcome == "promoted":
            t1 = first(events, "gone", gen=old)
            if t0 is not None and t1 is not None:
                gone.append(t1 - t0)
        else:
            t1 = first(events, "roll_failed", gen=new)
            if t0 is not None and t1 is not None:
                failed_ms.append(t1 - t0)
    sup = read(os.path.join(d, "sup")).split()
    return {
        "res": res, "slow": slow, "rolls": rolls, "replaced": replaced,
        "gone": gone, "failed_ms": failed_ms, "events": events,
        "sig_roll": sig_roll, "roll_spawn": roll_spawn,
        "sup": sup, "error": read(os.path.join(d, "error")).strip(),
    }


def main():
    # In run order, once each (a scenario run twice into the same
    # directory keeps its last results).
    scens = list(dict.fromkeys(s for s in read(os.path.join(R, "scenarios")).split()
                               if s and s not in ("scale", "udp")))
    rows = {}
    print("| scenario | contender | requests | refused | reset | timeout | non-2xx "
          "| p50 ms | p99 ms | worst ms | rolls replaced | roll → old gone ms (median / max) "
          "| supervisor peak RSS kB / CPU s |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for scen in scens:
        for c in CONTENDERS:
            x = row(scen, c)
            if x is None:
                continue
            rows[(scen, c)] = x
            r, s = x["res"], x["slow"]
            if r is None:
                print(f"| {SCENARIOS.get(scen, scen)} | {CONTENDERS[c]} | no result: {x['error']} |||||||||||")
                continue
            tot = dict(r)
            if s:  # the 2 s requests are counted with the rest
                for k in ("ok", "non2xx", "refused", "reset", "timeout", "other"):
                    tot[k] = r[k] + s[k]
            reqs = tot["ok"] + failed(tot)
            other = f" (+{tot['other']} other)" if tot["other"] else ""
            n = len(x["replaced"])
            yes = sum(1 for l in x["replaced"] if l[1] == "yes")
            repl = f"{yes}/{n}" if n else "—"
            if x["error"]:
                repl += " ⚠"
            g = x["gone"]
            gone = f"{statistics.median(g):.0f} / {max(g)}" if g else "—"
            sup = "—"
            if len(x["sup"]) == 3:
                sup = f"{x['sup'][1]} / {float(x['sup'][2]) / 1000:.2f}"
            print(f"| {SCENARIOS.get(scen, scen)} | {CONTENDERS[c]} | {reqs} | {tot['refused']} "
                  f"| {tot['reset']}{other} | {tot['timeout']} | {tot['non2xx']} | {fmt_ms(r['p50'])} "
                  f"| {fmt_ms(r['p99'])} | {fmt_ms(r['worst'])} | {repl} | {gone} | {sup} |")

    # --- notes -----------------------------------------------------------
    print()
    notes = []
    for (scen, c), x in rows.items():
        if x["slow"]:
            s = x["slow"]
            notes.append(f"{SCENARIOS[scen]}, {CONTENDERS[c]}: of the 2 s requests "
                         f"{s['ok']} answered, {failed(s)} failed")
        if x["failed_ms"]:
            notes.append(f"{SCENARIOS[scen]}, {CONTENDERS[c]}: every roll failed and was "
                         f"undone (roll → roll_failed median {statistics.median(x['failed_ms']):.0f} ms), "
                         "the old generation kept serving")
        fails = sum(1 for l in x["rolls"] if l[1] == "failed")
        if fails and c == "naive":
            notes.append(f"{SCENARIOS[scen]}, {CONTENDERS[c]}: {fails} starts of the bad version "
                         "failed; the script then started the good one again")
        if x["error"]:
            notes.append(f"{SCENARIOS[scen]}, {CONTENDERS[c]}: ⚠ {x['error']}")
        if x["res"] and failed(x["res"]) and x["res"]["errors"]:
            notes.append(f"{SCENARIOS[scen]}, {CONTENDERS[c]}: " +
                         "; ".join(e[:110] for e in x["res"]["errors"][:3]))
    # How to read the counts, once for every table.
    notes.insert(0, "requests counts every attempt, answered or not: a refused connection fails "
                 "in microseconds and the load generator tries again at once, so a contender that "
                 "refuses shows more requests, not more served")
    for n in notes:
        print(f"- {n}")

    # --- overhead --------------------------------------------------------
    print()
    print("Overhead:")
    print()
    tp = {}
    for mode in ("keepalive", "close"):
        a, h = [], []
        for f in sorted(os.listdir(os.path.join(R, "tp"))) if os.path.isdir(os.path.join(R, "tp")) else []:
            if f.startswith(mode + "."):
                w = parse_wrk(os.path.join(R, "tp", f))
                if w and w["rps"]:
                    (a if ".alone." in f else h).append(w)
        if a and h:
            ma = statistics.median(w["rps"] for w in a)
            mh = statistics.median(w["rps"] for w in h)
            p99 = statistics.median(w["p99"] for w in h if w["p99"] is not None)
            p99a = statistics.median(w["p99"] for w in a if w["p99"] is not None)
            tp[mode] = (mh / ma, p99)
            label = "keep-alive" if mode == "keepalive" else "new connection per request"
            print(f"- throughput, nginx alone vs under handoff, wrk -c32 {label}, "
                  f"median of {len(a)} alternated rounds: {ma:.0f} vs {mh:.0f} req/s, "
                  f"ratio {mh / ma:.3f} (rounds: alone {rounds(a)}; handoff {rounds(h)}); "
                  f"median p99 alone {p99a:.1f} ms, under handoff {p99:.1f} ms")
    rp, pd, wp, sr, rs = [], [], [], [], []
    for (scen, c), x in rows.items():
        if c in HANDOFFS:
            a, b, _ = handoff_latencies(x["events"])
            rp += a
            pd += b
            sr += x["sig_roll"]
            rs += x["roll_spawn"]
    # The scale runs: tinyworker prints when its READY=1 leaves. One
    # process per generation is the plain case; with 8 or 64, the last
    # worker's READY=1 competes with its 63 siblings' starts for the CPUs.
    wp1 = []
    for name in sorted(os.listdir(os.path.join(R, "scale"))) if os.path.isdir(os.path.join(R, "scale")) else []:
        if not os.path.isdir(os.path.join(R, "scale", name)):
            continue
        a, b, c3 = handoff_latencies(parse_log(os.path.join(R, "scale", name, "handoff.log")))
        rp += a
        pd += b
        wp += c3
        if name.endswith(".1"):
            wp1 += c3
    if sr:
        print(f"- SIGUSR2 sent → event=roll logged, {len(sr)} rolls: median {statistics.median(sr):.1f} ms, "
              f"max {max(sr):.1f} ms (the log's ts is truncated to the ms: up to 1 ms low)")
    if rs:
        print(f"- event=roll → event=spawn (the new worker forked), {len(rs)} rolls: "
              f"median {statistics.median(rs):.0f} ms, max {max(rs)} ms")
    def dist(v):
        v = sorted(v)
        return (f"median {statistics.median(v):.3f} ms, p99 {v[min(len(v) - 1, int(len(v) * 0.99))]:.3f} ms, "
                f"max {max(v):.3f} ms, {sum(1 for x in v if x <= 1)}/{len(v)} within 1 ms")
    if rp:
        print(f"- handoff's own latency, event=ready of a generation's last worker → its program "
              f"swap begins (promote's mono_us - swap_us), {len(rp)} promotions: {dist(rp)}")
    sd = os.path.join(R, "scale")
    for name in sorted((n for n in os.listdir(sd) if re.fullmatch(r"\d+\.\d+", n)),
                       key=lambda n: [int(x) for x in n.split(".")]) if os.path.isdir(sd) else []:
        sw = [int(f["swap_us"]) for ms, ev, f in
              parse_log(os.path.join(R, "scale", name, "handoff.log")) if ev == "promote" and "swap_us" in f]
        nl = int(name.split(".")[0])
        if sw:
            print(f"- program swap at promotion, {nl} listeners x {name.split('.')[1]} processes, "
                  f"{len(sw)} promotions: median {statistics.median(sw) / 1000:.2f} ms "
                  f"({statistics.median(sw) / nl:.0f} µs per listener), max {max(sw) / 1000:.2f} ms")
    if wp1:
        print(f"- a worker's READY=1 sent (its CLOCK_MONOTONIC) → its program swap begins, one process "
              f"per generation, {len(wp1)} promotions (includes the datagram's delivery and the "
              f"master's wake-up): {dist(wp1)}")
    if wp:
        print(f"- the same, every scale run (with 8 or 64 processes, from the last worker's "
              f"READY=1), {len(wp)} promotions: {dist(wp)}")
    x = rows.get(("warm_up", "handoff"))
    if x:
        lat, swaps = steering(x["events"], os.path.join(R, "warm_up", "handoff", "requests"))
        if lat:
            print(f"- steered: event=promote → the new generation's first client request "
                  f"answered (its CLOCK_MONOTONIC), {len(lat)} promotions: median "
                  f"{statistics.median(lat):.2f} ms, max {max(lat):.2f} ms")
        if swaps:
            print(f"- steered: program swap at promotion (every listener), {len(swaps)} "
                  f"promotions: median {statistics.median(swaps)} µs, max {max(swaps)} µs")
    if pd:
        print(f"- event=promote → the first drain signal of the old generation (mono_us; "
              f"steered, after its queue is empty and drain_delay, 1 s), "
              f"{len(pd)} rolls: {dist(pd)}")
    st = {}
    for line in read(os.path.join(R, "startup")).splitlines():
        name, *vals = line.split()
        if vals:
            st[name] = [float(v) for v in vals]
            print(f"- start-up to the first listening socket, {name}, {len(vals)} runs: "
                  f"median {statistics.median(st[name]):.1f} ms, max {max(st[name]):.1f} ms")
    rss = {}
    for line in read(os.path.join(R, "rss", "rss")).splitlines():
        name, cur, hwm, cpu, *split = line.split() + ["-", "-"]
        rss[name] = (cur, hwm, split[0], split[1])
    if "tini" in rss and "handoff" in rss and rss["tini"][0] != "-" and rss["handoff"][0] != "-":
        t, h = int(rss["tini"][0]), int(rss["handoff"][0])
        print(f"- RSS managing the same worker after 200 requests: handoff {h} kB "
              f"(peak {rss['handoff'][1]} kB; anonymous {rss['handoff'][2]} kB, mapped files "
              f"{rss['handoff'][3]} kB), tini {t} kB (peak {rss['tini'][1]} kB; anonymous "
              f"{rss['tini'][2]} kB, mapped files {rss['tini'][3]} kB): {h / t:.2f}x")
    hwms = [int(x["sup"][1]) for (s, c), x in rows.items() if c in HANDOFFS and len(x["sup"]) == 3]
    if hwms:
        print(f"- handoff's peak RSS over the scenarios: {max(hwms)} kB")

    # --- scale -----------------------------------------------------------
    sc = [l.split() for l in read(os.path.join(R, "scale", "result")).splitlines() if l.strip()]
    if sc:
        print()
        print("Scale (handoff alone, tinyworker, rolls back to back with `handoff roll`):")
        print()
        print("| listeners | processes | rolls | wall s | roll → promote ms (median / max) "
              "| roll → old gone ms (median) | RSS after start kB | RSS at end kB "
              "| peak RSS kB | CPU s | check |")
        print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
        pts = {}
        for l, p, n, wall, rs0, rs1, hwm, cpu, ok in ((x + ["-"] * 9)[:9] for x in sc):
            ev = parse_log(os.path.join(R, "scale", f"{l}.{p}", "handoff.log"))
            rm = [int(f["roll_ms"]) for ms, e, f in ev if e == "promote" and f.get("old", "0") != "0"]
            gone = []
            for ms, e, f in ev:
                if e == "promote" and f.get("old", "0") != "0":
                    t0 = first(ev, "roll", gen=f["gen"])
                    t1 = first(ev, "gone", gen=f["old"])
                    if t0 is not None and t1 is not None:
                        gone.append(t1 - t0)
            cpu_s = f"{float(cpu) / 1000:.2f}" if cpu not in ("-", "") else "—"
            wall_s = f"{int(wall) / 1000:.1f}" if wall != "-" else "—"
            print(f"| {l} | {p} | {n} | {wall_s} "
                  f"| {(f'{statistics.median(rm):.0f} / {max(rm)}' if rm else '—')} "
                  f"| {(f'{statistics.median(gone):.0f}' if gone else '—')} "
                  f"| {rs0} | {rs1} | {hwm} | {cpu_s} | {ok} |")
            if wall != "-":
                pts[(int(l), int(p))] = (int(wall), int(hwm), max(1, int(n)))
        def growth(keys, what):
            have = [k for k in keys if k in pts]
            if len(have) < 2:
                return
            w = " → ".join(f"{pts[k][0] / pts[k][2]:.0f} ms" for k in have)
            m = " → ".join(f"{pts[k][1]} kB" for k in have)
            print(f"- {what}: wall time per roll {w}; peak RSS {m}")
        print()
        growth([(10, 64), (100, 64), (1000, 64)], "listeners 10 → 100 → 1,000 at 64 processes")
        growth([(1000, 1), (1000, 8), (1000, 64)], "processes 1 → 8 → 64 at 1,000 listeners")

    canary_report()
    upgrade_report()
    udp_report()
    liveness_report()

    # --- targets ---------------------------------------------------------
    print()
    print("Targets:")
    print()
    def mark(ok):
        return "reached" if ok else "NOT reached"
    bad, race = [], []
    for (scen, c), x in rows.items():
        if c not in HANDOFFS or scen == "no_drain" or not x["res"]:
            continue
        r = dict(x["res"])
        if x["slow"]:
            for k in ("refused", "reset", "timeout", "non2xx", "other"):
                r[k] += x["slow"][k]
        n = failed(r)
        if "keepalive" in scen:
            # The idle keep-alive race is the client's to retry: apart.
            if r["reset"]:
                race.append(f"{SCENARIOS[scen]}: {r['reset']} reset")
            n -= r["reset"]
        if n:
            bad.append(f"{SCENARIOS[scen]}: {n}")
    if any(c in HANDOFFS and s != "no_drain" for s, c in rows):
        print(f"- 0 failed requests in every handoff scenario but no graceful drain: "
              f"{mark(not bad)}{' (' + '; '.join(bad) + ')' if bad else ''}"
              f"{'; keep-alive race, apart: ' + '; '.join(race) if race else ''}")
    base = rows.get(("baseline", "handoff"))
    over = []
    if base and base["res"] and base["res"]["p99"]:
        p99 = base["res"]["p99"]
        for (scen, c), x in rows.items():
            # no_drain is the case handoff cannot save: judged apart.
            if c != "handoff" or scen in ("baseline", "no_drain") or not x["res"]:
                continue
            w = x["res"]["worst"]
            if w is not None and w > 2 * p99:
                over.append(f"{SCENARIOS[scen]} {w:.0f} ms")
        for mode in ("close", "keepalive"):
            x = rows.get((f"nginx_{mode}", "nghandoff"))
            tmode = "keepalive" if mode == "keepalive" else "close"
            if x and x["res"] and tmode in tp and x["res"]["worst"] > 2 * tp[tmode][1]:
                over.append(f"{SCENARIOS['nginx_' + mode]} {x['res']['worst']:.0f} ms "
                            f"vs steady p99 {tp[tmode][1]:.1f} ms")
        print(f"- worst latency during rolls ≤ 2 × steady p99 ({2 * p99:.1f} ms for the Python "
              f"worker): {mark(not over)}{' (' + '; '.join(over) + ')' if over else ''}")
    if tp:
        print("- throughput ratio ≥ 0.98: " + "; ".join(
            f"{'keep-alive' if m == 'keepalive' else 'new connection per request'} "
            f"{v[0]:.3f} {mark(v[0] >= 0.98)}" for m, v in tp.items()))
    if rp:
        # The target is handoff's own latency: from the moment it learns a
        # worker is ready. From the worker's send, the datagram and the
        # master's wake-up are added: shown, and judged apart.
        extra = ""
        if wp1:
            extra = (f"; from the worker's READY=1 send, one process per generation: "
                     f"{mark(max(wp1) <= 1)}, {sum(1 for v in wp1 if v <= 1)}/{len(wp1)} "
                     f"within 1 ms, median {statistics.median(wp1):.3f} ms, max {max(wp1):.3f} ms")
        print(f"- promotion within 1 ms of readiness (handoff's event=ready → its program swap begins): "
              f"{mark(max(rp) <= 1)} ({sum(1 for v in rp if v <= 1)}/{len(rp)}, "
              f"max {max(rp):.3f} ms){extra}")
    if "tini" in rss and "handoff" in rss and rss["tini"][0] != "-" and rss["handoff"][0] != "-":
        t, h = int(rss["tini"][0]), int(rss["handoff"][0])
        print(f"- RSS ≤ 2 MiB: {mark(h <= 2048)} ({h} kB); within 1.5x of tini's: "
              f"{mark(h <= 1.5 * t)} ({h / t:.2f}x)")
    el = read(os.path.join(R, "elapsed")).strip()
    if el:
        print()
        print(f"Run took {el} s; {read(os.path.join(R, 'meta')).strip()}.")
    m = dict(l.split("=", 1) for l in read(os.path.join(R, "machine")).splitlines() if "=" in l)
    if m:
        print()
        print(f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
              f"{m.get('memory_mb', '?')} MB, Linux {m.get('kernel', '?')}, {m.get('os', '?')}; "
              f"load average {m.get('load_at_start', '?')} at start, {m.get('load_at_end', '?')} at end "
              f"(a quiet machine reads below 0.1). {m.get('handoff', '')}, nginx {m.get('nginx', '?')}, "
              f"Server::Starter {m.get('server_starter', '?')}, hey {m.get('hey', '?')}, "
              f"wrk {m.get('wrk', '?')}.")


# --- upgrading handoff itself --------------------------------------------
def upgrade_report():
    """handoff upgrade next to stopping and starting handoff, under the same
    load: failures from hey and the probe, each event's duration, and the
    longest a client waited between two answers across it."""
    d = os.path.join(R, "upgrade")
    if not os.path.isdir(d):
        return
    print()
    print("Upgrading handoff itself (Python worker, hey -c%s new connection per request, "
          "and one probe client back to back):" % read(os.path.join(d, "hey_c"), "8").strip())
    print()
    print("| how | events | requests | refused | reset | timeout | non-2xx | probe failed "
          "| duration ms (median / max) | master's ms= (median / max) "
          "| longest wait between two answers ms (median / max) | hey worst ms | master pid kept "
          "| workers kept |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    labels = {"upgrade": "handoff upgrade", "restart": "stop and start handoff"}
    steady = nfail = None
    for c in ("upgrade", "restart"):
        dc = os.path.join(d, c)
        if not os.path.isdir(dc):
            continue
        err = read(os.path.join(dc, "error")).strip()
        r = parse_hey(os.path.join(dc, "hey.out"))
        ev = [l.split() for l in read(os.path.join(dc, "events")).splitlines() if l.strip()]
        if r is None or not ev:
            print(f"| {labels[c]} | no result: {err or 'no events'} |||||||||||||")
            continue
        probe = []
        for l in read(os.path.join(dc, "probe")).splitlines():
            p = l.split()
            if len(p) == 3:
                probe.append((float(p[0]), float(p[1]), p[2] == "1"))
        answers = sorted(t1 for t0, t1, ok in probe if ok)
        pfail = sum(1 for t0, t1, ok in probe if not ok)
        dur, mms, waits = [], [], []
        pids, kept = set(), 0
        for i, t0, t1, ms, outcome, pid, before, *after in ev:
            t0, t1 = float(t0), float(t1)
            dur.append((t1 - t0) * 1000)
            if ms != "-":
                mms.append(int(ms))
            pids.add(pid)
            if after and after[0] == before and before:
                kept += 1
            # The longest gap between consecutive answers that overlaps
            # the event.
            w = [(b - a) * 1000 for a, b in zip(answers, answers[1:]) if b >= t0 and a <= t1]
            if w:
                waits.append(max(w))
        # The probe's steady pace, away from every event (0.25 s either
        # side; the events are 1 s apart).
        quiet = [(b - a) * 1000 for a, b in zip(answers, answers[1:])
                 if all(b < float(e[1]) - 0.25 or a > float(e[2]) + 0.25 for e in ev)]
        if quiet and c == "upgrade":
            steady = (statistics.median(quiet), max(quiet), len(quiet))
        def mm(v, unit=""):
            return f"{statistics.median(v):.0f} / {max(v):.0f}" if v else "—"
        first_pid = read(os.path.join(dc, "first_pid")).strip()
        pid_kept = "yes" if len(pids) == 1 and (not first_pid or pids == {first_pid}) else "no"
        if c == "upgrade":
            nfail = failed(r) + pfail
        print(f"| {labels[c]} | {len(ev)} | {r['ok'] + failed(r)} | {r['refused']} | {r['reset']} "
              f"| {r['timeout']} | {r['non2xx']} | {pfail} | {mm(dur)} | {mm(mms)} | {mm(waits)} "
              f"| {fmt_ms(r['worst'])} | {pid_kept} | {kept}/{len(ev)} |")
    print()
    if nfail is not None:
        print(f"- 0 failed requests across the upgrades: {'reached' if nfail == 0 else f'NOT reached ({nfail})'}")
    if steady:
        print(f"- the probe's wait between two answers away from any event (upgrade run, "
              f"{steady[2]} answers): median {steady[0]:.1f} ms, max {steady[1]:.1f} ms")
    print("- duration: from the request sent to its answer (handoff upgrade), or from the "
          "stop signal to the first answer of the new master (polled every 100 ms); master's "
          "ms=: the upgrade as the master timed it (the check of the new binary and the exec)")
    for c in ("upgrade", "restart"):
        bad = [l for l in read(os.path.join(d, c, "upgrade.out")).splitlines()
               if l and not l.startswith("upgraded")]
        if bad:
            print(f"- {labels[c]}: {len(bad)} not upgraded: " + "; ".join(b[:100] for b in bad[:3]))


# --- DNS over UDP ----------------------------------------------------------
UDP_RUNS = {
    "steered": "dnsmasq, handoff (steered)",
    "shared": "dnsmasq, handoff, traffic = shared",
    "restart": "dnsmasq, restart (kill, start)",
    "warm_steered": "SERVFAIL for 2 s, handoff (steered)",
    "warm_shared": "SERVFAIL for 2 s, handoff, traffic = shared",
}


def parse_dnsperf(path):
    """dnsperf's summary and, from -v's "> RCODE NAME TYPE SECONDS" lines,
    every answer's latency (ms)."""
    txt = read(path)
    def num(pat):
        m = re.search(pat, txt, re.M)
        return int(m.group(1)) if m else None
    sent = num(r"^\s*Queries sent:\s*(\d+)")
    if sent is None:
        return None
    codes = dict((k, int(v)) for k, v in re.findall(
        r"([A-Z]+) (\d+) \(", (re.search(r"Response codes:(.*)$", txt, re.M) or [None, ""])[1] or ""))
    lat = sorted(float(x) * 1000 for x in re.findall(r"^> [A-Z]+ \S+ \S+ ([\d.]+)$", txt, re.M))
    return {"sent": sent, "completed": num(r"^\s*Queries completed:\s*(\d+)"),
            "lost": num(r"^\s*Queries lost:\s*(\d+)"), "codes": codes, "lat": lat}


def ms2(v):
    """A DNS answer's ms: sub-millisecond, so two decimals."""
    return "—" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.2f}")


def pct(v, q):
    return v[min(len(v) - 1, int(len(v) * q))] if v else None


def udp_report():
    """dnsperf at 3,000 queries/s across 5 rolls: handoff steered and
    shared, a restart; a version warming up; the program swap."""
    d = os.path.join(R, "udp")
    if not os.path.isdir(d):
        return
    print()
    load = read(os.path.join(d, "steered", "load")).split()
    qps, secs = (load[0], load[1]) if len(load) >= 2 else ("3000", "?")
    print(f"DNS over UDP (dnsperf -Q {qps}, about {secs} s, 5 rolls or restarts in each; "
          f"latency from dnsperf -v, every answer's):")
    print()
    print("| server, how | queries sent | lost | SERVFAIL | p50 ms | p99 ms | worst ms "
          "| rolls promoted | roll → old gone ms (median / max) |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    res = {}
    for name, label in UDP_RUNS.items():
        dn = os.path.join(d, name)
        if not os.path.isdir(dn):
            continue
        err = read(os.path.join(dn, "error")).strip()
        r = parse_dnsperf(os.path.join(dn, "dnsperf.out"))
        if r is None:
            print(f"| {label} | no result: {err or 'dnsperf printed no figures'} ||||||||")
            continue
        res[name] = r
        ev = parse_log(os.path.join(dn, "handoff.log"))
        rolls = [l.split() for l in read(os.path.join(dn, "rolls")).splitlines() if l.strip()]
        promoted = sum(1 for l in rolls if l[1] == "promoted")
        gone = []
        for i, outcome, old, new, gms, *sig in rolls:
            if gms != "-":
                gone.append(int(gms))
            elif outcome == "promoted":
                t0, t1 = first(ev, "roll", gen=new), first(ev, "gone", gen=old)
                if t0 is not None and t1 is not None:
                    gone.append(t1 - t0)
        g = f"{statistics.median(gone):.0f} / {max(gone)}" if gone else "—"
        lat = r["lat"]
        print(f"| {label} | {r['sent']} | {r['lost']} | {r['codes'].get('SERVFAIL', 0)} "
              f"| {ms2(pct(lat, 0.5))} | {ms2(pct(lat, 0.99))} | {ms2(lat[-1] if lat else None)} "
              f"| {promoted}/{len(rolls)}{' ⚠ ' + err if err else ''} | {g} |")
    print()
    if "restart" in res and res["restart"]["lost"]:
        for name in ("steered", "shared"):
            if name in res:
                print(f"- queries lost, {UDP_RUNS[name]} vs restart: {res[name]['lost']} vs "
                      f"{res['restart']['lost']} of about {res['restart']['sent']} sent")
    for name in ("steered", "shared", "restart"):
        if name in res and res[name]["lat"] and "restart" in res and res["restart"]["lat"] and name != "restart":
            print(f"- p99 latency, {UDP_RUNS[name]} / restart: "
                  f"{pct(res[name]['lat'], 0.99) / pct(res['restart']['lat'], 0.99):.2f}")
    sw = {}
    for name in ("warm_steered", "steered"):
        sw[name] = [int(f["swap_us"]) for ms, e, f in parse_log(os.path.join(d, name, "handoff.log"))
                    if e == "promote" and f.get("old", "0") != "0" and "swap_us" in f]
    if sw["warm_steered"]:
        v = sw["warm_steered"]
        print(f"- UDP program swap at promotion (swap_us; one steered UDP listener, udpgen.py under "
              f"dnsperf), {len(v)} promotions: median {statistics.median(v)} µs, max {max(v)} µs")
    if sw["steered"]:
        v = sw["steered"]
        print(f"- the same with a UDP and a TCP listener (dnsmasq), {len(v)} promotions: "
              f"median {statistics.median(v)} µs, max {max(v)} µs")
    x = os.path.join(R, "warm_up", "handoff", "handoff.log")
    if os.path.exists(x):
        v = [int(f["swap_us"]) for ms, e, f in parse_log(x)
             if e == "promote" and f.get("old", "0") != "0" and "swap_us" in f]
        if v:
            print(f"- TCP program swap at promotion in this run (warm_up, one steered TCP listener), "
                  f"{len(v)} promotions: median {statistics.median(v)} µs, max {max(v)} µs")
    if "steered" in res:
        n = res["steered"]["lost"]
        print(f"- 0 queries lost across handoff's rolls of dnsmasq, steered: "
              f"{'reached' if n == 0 else f'NOT reached ({n})'}")
    if "warm_steered" in res:
        n = res["warm_steered"]["codes"].get("SERVFAIL", 0)
        print(f"- 0 SERVFAIL from a version warming up, steered: "
              f"{'reached' if n == 0 else f'NOT reached ({n})'}")
    print("- latency is that of the answered queries: a lost one has none, so a run that loses "
          "queries shows no tail for them")
    print("- restart: dnsmasq alone, SIGTERM, its exit awaited, started again; roll → old gone "
          "is there the kill → the new one answering")
    print("- SERVFAIL for 2 s: udpgen.py --dns --warm 2 says READY=1 as it begins reading, before "
          "it is warm: both runs use ready = delay:3s; steered, a generation gets no query before "
          "it is promoted; shared, it reads the one socket from its start")


def liveserver_events(path):
    """liveserver.py's own lines in a handoff log: (what, mono_us)."""
    out = []
    for line in read(path).splitlines():
        m = re.match(r"liveserver: gen=(\S+) pid=\d+ what=(\S+).* mono_us=(\d+)", line)
        if m:
            out.append((m.group(1), m.group(2), int(m.group(3))))
    return out


def liveness_report():
    """A version that hangs, with liveness and without; a healthy one
    probed every 100 ms: replacements that should not happen."""
    d = os.path.join(R, "liveness")
    if not os.path.isdir(d):
        return
    print()
    print("Liveness (liveserver.py under hey -c 8, each request bounded by 2 s, "
          "--drain-timeout 3s):")
    print()
    print("| run | requests | failed | replacements | hang → new gen promoted ms |")
    print("|---|--:|--:|--:|--:|")
    labels = {"hang_liveness": "hangs 3 s after start, liveness every 500 ms, 3 failures",
              "hang_none": "hangs 3 s after start, no liveness",
              "healthy": "healthy, liveness every 100 ms"}
    res = {}
    for name, label in labels.items():
        dn = os.path.join(d, name)
        if not os.path.isdir(dn):
            continue
        load = read(os.path.join(dn, "load")).split()
        if load:
            label += f", {load[0]} s"
        r = parse_hey(os.path.join(dn, "hey.out"))
        err = read(os.path.join(dn, "error")).strip()
        if r is None:
            print(f"| {label} | no result: {err or 'hey printed nothing'} ||||")
            continue
        log = os.path.join(dn, "handoff.log")
        ev = parse_log(log)
        replaced = sum(1 for ms, e, f in ev if e == "replace")
        hang = [us for g, what, us in liveserver_events(log) if what == "hang"]
        prom = [int(f["mono_us"]) for ms, e, f in ev
                if e == "promote" and f.get("old", "0") != "0" and "mono_us" in f]
        took = "—"
        if hang and prom and prom[0] > hang[0]:
            took = f"{(prom[0] - hang[0]) / 1000:.0f}"
        total = r["ok"] + failed(r)
        res[name] = (total, failed(r), replaced)
        print(f"| {label} | {total} | {failed(r)} | {replaced} | {took} |")
    print()
    if "hang_liveness" in res and "hang_none" in res:
        a, b = res["hang_liveness"], res["hang_none"]
        print(f"- requests failed during a hang, liveness vs none: {a[1]} vs {b[1]} "
              f"(of {a[0]} and {b[0]})")
    stops = [l.split() for l in read(os.path.join(d, "readyz", "stops")).splitlines() if l.strip()]
    ms = sorted(float(x[1]) for x in stops if x[0] == "503")
    if ms:
        served = sum(1 for x in stops if len(x) > 2 and x[2].startswith("gen="))
        print(f"- GET /readyz 503 after SIGTERM with stop_delay 2s, {len(stops)} stops: median "
              f"{statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms (from the kill to the first 503, "
              f"curl's start included); the server answered right after in {served} of {len(stops)}")
    if "healthy" in res:
        n = res["healthy"][2]
        print(f"- no replacement of a healthy server probed every 100 ms: "
              f"{'reached' if n == 0 else f'NOT reached ({n})'}")


if __name__ == "__main__":
    main()
