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
    "no_drain": "no graceful drain",
    "keepalive": "keep-alive clients",
    "nginx_close": "nginx, wrk, new connection per request",
    "nginx_keepalive": "nginx, wrk keep-alive",
}
CONTENDERS = {
    "handoff": "handoff",
    "naive": "stop-and-start",
    "ss": "Server::Starter",
    "nghandoff": "handoff (shim)",
    "ngreload": "nginx -s reload",
    "ngnaive": "stop-and-start",
}
HANDOFFS = ("handoff", "nghandoff")


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
    """Every line as (ms since epoch, event, fields)."""
    out = []
    for line in read(path).splitlines():
        f = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))
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


def handoff_latencies(events):
    """(ready -> promote, promote -> first drain of the old gen) per roll."""
    rp, pd = [], []
    for ms, ev, f in events:
        if ev != "promote":
            continue
        ready = last(events, "ready", gen=f["gen"])
        if ready is not None:
            rp.append(ms - ready)
        if f.get("old", "0") != "0":
            drain = first(events, "drain", gen=f["old"])
            if drain is not None:
                pd.append(drain - ms)
    return rp, pd


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
    scens = [s for s in read(os.path.join(R, "scenarios")).split() if s]
    rows = {}
    print("| scenario | contender | requests | refused | reset | timeout | non-2xx "
          "| p50 ms | p99 ms | worst ms | rolls replaced | roll → old gone ms (median / max) "
          "| supervisor peak RSS kB / CPU ms |")
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
                sup = f"{x['sup'][1]} / {x['sup'][2]}"
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
    rp, pd, sr, rs = [], [], [], []
    for (scen, c), x in rows.items():
        if c in HANDOFFS:
            a, b = handoff_latencies(x["events"])
            rp += a
            pd += b
            sr += x["sig_roll"]
            rs += x["roll_spawn"]
    if sr:
        print(f"- SIGUSR2 sent → event=roll logged, {len(sr)} rolls: median {statistics.median(sr):.1f} ms, "
              f"max {max(sr):.1f} ms (the log's ts is truncated to the ms: up to 1 ms low)")
    if rs:
        print(f"- event=roll → event=spawn (the new worker forked), {len(rs)} rolls: "
              f"median {statistics.median(rs):.0f} ms, max {max(rs)} ms")
    if rp:
        print(f"- readiness → promote, from handoff's log (1 ms resolution), {len(rp)} promotions: "
              f"median {statistics.median(rp):.0f} ms, max {max(rp)} ms, "
              f"{sum(1 for v in rp if v <= 1)} within 1 ms")
    if pd:
        print(f"- promote → drain signal of the old generation, {len(pd)} rolls: "
              f"median {statistics.median(pd):.0f} ms, max {max(pd)} ms")
    st = {}
    for line in read(os.path.join(R, "startup")).splitlines():
        name, *vals = line.split()
        if vals:
            st[name] = [float(v) for v in vals]
            print(f"- start-up to the first listening socket, {name}, {len(vals)} runs: "
                  f"median {statistics.median(st[name]):.1f} ms, max {max(st[name]):.1f} ms")
    rss = {}
    for line in read(os.path.join(R, "rss", "rss")).splitlines():
        name, cur, hwm, cpu = line.split()
        rss[name] = (cur, hwm)
    if "tini" in rss and "handoff" in rss:
        t, h = int(rss["tini"][0]), int(rss["handoff"][0])
        print(f"- RSS managing the same worker after 200 requests: handoff {h} kB "
              f"(peak {rss['handoff'][1]} kB), tini {t} kB (peak {rss['tini'][1]} kB): "
              f"{h / t:.2f}x")
    hwms = [int(x["sup"][1]) for (s, c), x in rows.items() if c in HANDOFFS and len(x["sup"]) == 3]
    if hwms:
        print(f"- handoff's peak RSS over the scenarios: {max(hwms)} kB")

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
    print(f"- 0 failed requests in every handoff scenario but no graceful drain: "
          f"{mark(not bad)}{' (' + '; '.join(bad) + ')' if bad else ''}"
          f"{'; keep-alive race, apart: ' + '; '.join(race) if race else ''}")
    base = rows.get(("baseline", "handoff"))
    over = []
    if base and base["res"] and base["res"]["p99"]:
        p99 = base["res"]["p99"]
        for (scen, c), x in rows.items():
            if c != "handoff" or scen in ("baseline",) or not x["res"]:
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
        print(f"- promotion within 1 ms of readiness: {mark(max(rp) <= 1)} "
              f"(max {max(rp)} ms at the log's 1 ms resolution)")
    if "tini" in rss and "handoff" in rss:
        t, h = int(rss["tini"][0]), int(rss["handoff"][0])
        print(f"- RSS ≤ 2 MiB: {mark(h <= 2048)} ({h} kB); within 1.5x of tini's: "
              f"{mark(h <= 1.5 * t)} ({h / t:.2f}x)")
    el = read(os.path.join(R, "elapsed")).strip()
    if el:
        print()
        print(f"Run took {el} s; {read(os.path.join(R, 'meta')).strip()}.")


if __name__ == "__main__":
    main()
