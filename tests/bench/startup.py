#!/usr/bin/env python3
"""startup.py: time from exec to the first listening socket, of handoff and of start_server.

usage: startup.py HANDOFF WORKER RUNS
Prints one line per supervisor: its name, then the time of each run in ms.
The socket counts as listening when a connect() to it succeeds, tried every
0.2 ms from just before the exec; a port the kernel chose a moment before
is given to each run.
"""
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    with socket.socket() as s:
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            return False


def measure(make_cmd, runs):
    times = []
    for _ in range(runs):
        port = free_port()
        t0 = time.perf_counter()
        p = subprocess.Popen(make_cmd(port), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = t0 + 10  # bounded: a supervisor that never listens fails
        while not listening(port):
            if time.perf_counter() > deadline:
                break
            time.sleep(0.0002)
        else:
            times.append((time.perf_counter() - t0) * 1000)
        # Let the worker come up, so that the stop is an ordinary one.
        time.sleep(0.3)
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return times


def main():
    handoff, worker, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rows = {
        "handoff": lambda port: [handoff, "--pass", "systemd", "-l",
                                 f"127.0.0.1:{port}", "--", "python3", worker],
        "start_server": lambda port: ["start_server", f"--port=127.0.0.1:{port}",
                                      "--", "python3", worker, "--server-starter"],
    }
    # Alternate the two, one run each at a time, as everything else here.
    results = {name: [] for name in rows}
    for _ in range(runs):
        for name, cmd in rows.items():
            results[name] += measure(cmd, 1)
    for name, times in results.items():
        print(name, " ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
