#!/usr/bin/python3
"""Does a request's cost grow with the daemon's history (issue #17)? `ping`, `stats` and tiny-job
round trips (p50/p99) on one shmpoold: fresh, after N ended jobs, after more, and with D datasets.

Usage: bench/history.py --build DIR [--tiny] [--repeat N] [--rounds N] [--workers N]
"""
import argparse
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
from measure import latencies_us  # noqa: E402

FULL = {"ended": [10_000, 100_000], "datasets": 10_000, "rounds": 2000}
TINY = {"ended": [100, 1000], "datasets": 100, "rounds": 100}
BATCH = 50  # requests written before their replies are read (under max-requests-per-connection)
DAEMON_ARGS = ["--max-requests-per-connection", "0", "--max-datasets", "0"]


def pipelined(conn, requests):
    """Sends `requests` ({"verb": ..., args}) in batches of BATCH lines, then reads their replies."""
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


def end_jobs(conn, n):
    """Submits n `noop` jobs without waiting on them, then waits until every job has ended."""
    pipelined(conn, [{"verb": "job.submit", "kernel": "noop"}] * n)
    while True:
        jobs = conn.call("stats")["jobs"]
        if jobs["running"] + jobs["queued"] + jobs["waiting"] == 0:
            return
        time.sleep(0.05)


def put_datasets(conn, n):
    pipelined(conn, [{"verb": "dataset.put", "name": "h%d" % i, "data": [0.0]} for i in range(n)])


def measure_row(conn, rounds):
    """p50/p99 (µs) of ping, stats and a tiny job (noop, 1 range, wait) on one connection."""
    warm = max(10, rounds // 10)
    return {"ping": latencies_us(lambda: conn.call("ping"), rounds, warm),
            "stats": latencies_us(lambda: conn.call("stats"), max(10, rounds // 4), warm),
            "tiny": latencies_us(lambda: conn.call("job.submit", kernel="noop", wait=True), rounds, warm)}


def one_run(workdir, workers, cfg):
    """Rows of one daemon's life, in order: fresh, after each count of ended jobs, with datasets."""
    rows = []
    with sp.daemon(workdir, workers, DAEMON_ARGS) as d:
        conn = Conn(d.socket_path)
        rows.append(("fresh", measure_row(conn, cfg["rounds"])))
        ended = 0
        for target in cfg["ended"]:
            end_jobs(conn, target - ended)
            ended = target
            rows.append(("after %s ended jobs" % f"{target:,}", measure_row(conn, cfg["rounds"])))
        put_datasets(conn, cfg["datasets"])
        rows.append(("and %s datasets" % f"{cfg['datasets']:,}", measure_row(conn, cfg["rounds"])))
        conn.sock.close()
    return rows


def history(workdir, workers, cfg, repeat):
    """{row: {verb: {p50, p99}}}: the median over `repeat` daemons of each row's percentiles."""
    runs = [one_run(workdir, workers, cfg) for _ in range(repeat)]
    out = {}
    for i, (label, _) in enumerate(runs[0]):
        out[label] = {verb: {p: float(np.median([run[i][1][verb][p] for run in runs])) for p in ("p50", "p99")}
                      for verb in runs[0][i][1]}
    return out


def table(rows):
    """A markdown table; each p50 also as a ratio to the fresh row's."""
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
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="daemons run; each figure is their median")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    sp.h.SHMPOOLD = os.path.join(os.path.abspath(a.build), "shmpoold")
    cfg = dict(TINY if a.tiny else FULL)
    if a.rounds:
        cfg["rounds"] = a.rounds
    with tempfile.TemporaryDirectory(prefix="shmpool-history.") as workdir:
        rows = history(workdir, a.workers, cfg, a.repeat)
    print("cores %d, workers %d, %d calls per row (stats: a quarter), median of %d daemons"
          % (os.cpu_count(), a.workers, cfg["rounds"], a.repeat))
    print(table(rows))


if __name__ == "__main__":
    main()
