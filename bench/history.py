#!/usr/bin/python3
"""Does a request's cost grow with the daemon's history (issue #17)? `ping`, `stats` and tiny-job
round trips (p50/p99) on daemons side by side: a fresh one, ones that ended 10^4 and 10^5 jobs,
and one that also holds 10^4 datasets; timed in interleaved blocks, so the machine's load
weighs on every daemon alike. The client, the daemons and their workers are pinned to one CPU:
in a VM a wake-up across CPUs costs an IPI (~50 µs more per ping here), and where the kernel
happens to place each daemon would otherwise decide its figure, not its history.

Usage: bench/history.py --build DIR [--tiny] [--repeat N] [--rounds N] [--workers N] [--cpu N]
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import shmpool_side as sp  # noqa: E402
from dispatch import Conn  # noqa: E402

# (label, ended jobs, datasets) of each daemon
FULL = {"daemons": [("fresh", 0, 0), ("after 10,000 ended jobs", 10_000, 0),
                    ("after 100,000 ended jobs", 100_000, 0), ("and 10,000 datasets", 100_000, 10_000)],
        "rounds": 2000, "settle_s": 10}
TINY = {"daemons": [("fresh", 0, 0), ("after 100 ended jobs", 100, 0),
                    ("after 1,000 ended jobs", 1000, 0), ("and 100 datasets", 1000, 100)], "rounds": 100,
        "settle_s": 0}
BATCH = 50   # requests written before their replies are read
BLOCK = 50   # calls timed on one daemon before the next daemon's turn
DAEMON_ARGS = ["--max-requests-per-connection", "0", "--max-datasets", "0"]
CALLS = {"ping": {"verb": "ping"}, "stats": {"verb": "stats"},
         "tiny": {"verb": "job.submit", "kernel": "noop", "wait": True}}


def pipelined(conn, requests):
    """Sends `requests` ({"verb": ..., args}) BATCH lines at a time, reading the replies after each."""
    for first in range(0, len(requests), BATCH):
        batch = requests[first:first + BATCH]
        for req in batch:
            conn.next_id += 1
            conn.file.write((json.dumps({"id": conn.next_id, **req}) + "\n").encode())
        conn.file.flush()
        for _ in batch:
            reply = json.loads(conn.file.readline())
            if not reply["ok"]:
                raise RuntimeError(reply["error"])


def give_history(conn, ended, datasets):
    """Ends `ended` noop jobs (submitted without waiting), then puts `datasets` one-element datasets."""
    pipelined(conn, [{"verb": "job.submit", "kernel": "noop"}] * ended)
    while sum(conn.call("stats")["jobs"][k] for k in ("running", "queued", "waiting")):
        time.sleep(0.05)
    pipelined(conn, [{"verb": "dataset.put", "name": "h%d" % i, "data": [0.0]} for i in range(datasets)])


def time_calls(conn, call, n, out):
    args = dict(call)
    verb = args.pop("verb")
    for _ in range(n):
        t0 = time.perf_counter()
        conn.call(verb, **args)
        out.append(time.perf_counter() - t0)


def interleaved(conns, call, rounds):
    """Per daemon, `rounds` timed calls, BLOCK at a time, the daemons' turns rotating each block."""
    samples = [[] for _ in conns]
    for c in conns:
        time_calls(c, call, BLOCK, [])  # warm-up
    for block in range(max(1, rounds // BLOCK)):
        for k in range(len(conns)):
            i = (block + k) % len(conns)
            time_calls(conns[i], call, BLOCK, samples[i])
    return [{"p50": float(np.percentile(s, 50) * 1e6), "p99": float(np.percentile(s, 99) * 1e6)} for s in samples]


def one_run(workdir, workers, cfg):
    """{label: {call: {p50, p99}}} over one set of daemons (ping, then stats, then tiny jobs, which
    add to each daemon's history last)."""
    with contextlib.ExitStack() as stack:
        conns = []
        for n, (_, ended, datasets) in enumerate(cfg["daemons"]):
            sub = os.path.join(workdir, "d%d" % n)
            os.makedirs(sub, exist_ok=True)
            d = stack.enter_context(sp.daemon(sub, workers, DAEMON_ARGS))
            conns.append(Conn(d.socket_path))
            stack.callback(conns[-1].sock.close)
            give_history(conns[-1], ended, datasets)
        # A daemon that just ran hot waits longer for a CPU on a loaded machine (the kernel's
        # fair share, not its history): give the scheduler time to even that out.
        time.sleep(cfg["settle_s"])
        rounds = {"ping": cfg["rounds"], "stats": max(BLOCK, cfg["rounds"] // 4), "tiny": cfg["rounds"]}
        per_call = {name: interleaved(conns, call, rounds[name]) for name, call in CALLS.items()}
    return {label: {name: per_call[name][i] for name in CALLS} for i, (label, _, _) in enumerate(cfg["daemons"])}


def pin_to_one_cpu(cpu=None):
    """Pins this process, and so the daemons and workers it starts, to `cpu` (default: the last
    CPU allowed; -1: leaves the affinity alone). Returns the CPU or None."""
    if cpu == -1:
        return None
    cpu = max(os.sched_getaffinity(0)) if cpu is None else cpu
    os.sched_setaffinity(0, {cpu})
    return cpu


def history(workdir, workers, cfg, repeat):
    """{label: {call: {p50, p99}}}: the median over `repeat` runs of each percentile."""
    runs = [one_run(workdir, workers, cfg) for _ in range(repeat)]
    return {label: {name: {p: float(np.median([run[label][name][p] for run in runs])) for p in ("p50", "p99")}
                    for name in CALLS} for label in runs[0]}


def table(rows):
    """A markdown table; ping's and the tiny job's p50 also as a ratio to the fresh daemon's."""
    fresh = next(iter(rows.values()))
    lines = ["| daemon | ping p50 | p99 | stats p50 | tiny job p50 | p99 | ping / fresh | tiny / fresh |",
             "|---|---|---|---|---|---|---|---|"]
    for label, r in rows.items():
        lines.append("| %s | %.1f µs | %.1f µs | %.1f µs | %.1f µs | %.1f µs | %.2fx | %.2fx |" % (
            label, r["ping"]["p50"], r["ping"]["p99"], r["stats"]["p50"], r["tiny"]["p50"], r["tiny"]["p99"],
            r["ping"]["p50"] / fresh["ping"]["p50"], r["tiny"]["p50"] / fresh["tiny"]["p50"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="build directory with shmpoold")
    ap.add_argument("--tiny", action="store_true", help="small histories: a smoke test")
    ap.add_argument("--repeat", type=int, default=3, help="runs (sets of daemons); each figure is their median")
    ap.add_argument("--rounds", type=int, default=None, help="timed calls per daemon (stats: a quarter)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpu", type=int, default=None, help="the CPU for all (default: the last allowed; -1: none)")
    a = ap.parse_args()
    pin_to_one_cpu(a.cpu)
    sp.h.SHMPOOLD = os.path.join(os.path.abspath(a.build), "shmpoold")
    cfg = dict(TINY if a.tiny else FULL)
    cfg["rounds"] = a.rounds or cfg["rounds"]
    with tempfile.TemporaryDirectory(prefix="shmpool-history.") as workdir:
        rows = history(workdir, a.workers, cfg, a.repeat)
    print("cores %d (all pinned to %s), workers %d, %d calls per daemon (stats: a quarter) in blocks of %d, "
          "median of %d runs" % (os.cpu_count(), sorted(os.sched_getaffinity(0)), a.workers, cfg["rounds"], BLOCK,
                                 a.repeat))
    print(table(rows))


if __name__ == "__main__":
    main()
