#!/usr/bin/python3
"""Spare segments kept where no client maps them (issue #16): a 3-job pipeline X -> square -> T1
-> sqrt -> T2 -> negative -> U, timed from the first submit to the last reply, with its
intermediates never opened (their segments are reused by the next round) beside the same
pipeline whose intermediates a client maps (exposed: never reused, fresh pages every round).
U is read by the client in both cases. Medians of `repeat` rounds after a warm-up.

Alone: /usr/bin/python3 bench/spare_pipeline.py --build DIR [--elems N] [--repeat N] [--shmpoold PATH]
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
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "client", "python"))
import shmpool  # noqa: E402  (the Python client, from the source tree)
import shmpool_side as sp  # noqa: E402
from measure import summary  # noqa: E402

STAGES = (("X", "square", "T1"), ("T1", "sqrt", "T2"), ("T2", "negative", "U"))
CASES = {"intermediates never opened": False, "intermediates mapped by the client": True}


def spares_reused(conn):
    return conn.call("stats")["datasets"]["spares_reused"]


def pipeline_round(c, conn, expose, ref):
    """One timed pipeline, then (untimed) the client's reads and the deletes; returns
    (wall seconds, U's values equal ref, spares reused this round)."""
    reused = spares_reused(conn)
    t0 = time.perf_counter()
    for src, op, out in STAGES:
        c.run("map", {"x": src}, params={"op": op}, output=out).exception()
    wall = time.perf_counter() - t0
    if expose:
        for name in ("T1", "T2"):
            c.get(name)  # mapped (dataset.open) and dropped again, as a client that looked at it
    U = c.get("U")
    exact = bool(np.array_equal(U, ref))
    del U
    reused = spares_reused(conn) - reused
    for _, _, out in STAGES:
        c.delete(out)
    return wall, exact, reused


def run_case(d, X, expose, repeat):
    ref, conn = -np.abs(X), sp.Conn(d.socket_path)
    with shmpool.Client(socket=d.socket_path) as c:
        c.put("X", X)
        pipeline_round(c, conn, expose, ref)  # warm-up: the spares of the first round
        rounds = [pipeline_round(c, conn, expose, ref) for _ in range(repeat)]
        c.delete("X")
    conn.sock.close()
    return {"times": summary([r[0] for r in rounds]), "exact": all(r[1] for r in rounds),
            "spares_reused_per_round": summary([r[2] for r in rounds])}


def bench(workdir, workers, elems, repeat):
    """{case: {times, exact, spares_reused_per_round}} and the sizes, each case on a fresh daemon
    with default settings."""
    X = np.random.default_rng(16).standard_normal(elems)
    out = {"bytes": X.nbytes, "workers": workers, "cases": {}}
    for case, expose in CASES.items():
        with sp.daemon(workdir, workers) as d:
            out["cases"][case] = run_case(d, X, expose, repeat)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="build directory with shmpoold")
    ap.add_argument("--shmpoold", default=None, help="another shmpoold to run (e.g. an older build)")
    ap.add_argument("--elems", type=int, default=4 << 20, help="float64 elements per array (default 32 MiB)")
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    sp.h.SHMPOOLD = a.shmpoold or os.path.join(os.path.abspath(a.build), "shmpoold")
    with tempfile.TemporaryDirectory(prefix="shmpool-bench.") as workdir:
        r = bench(workdir, os.cpu_count(), a.elems, a.repeat)
    r["load"] = os.getloadavg()
    print(json.dumps(r, indent=1))
    unseen, seen = (r["cases"][k]["times"]["median"] for k in CASES)
    print(f"exposed / unseen: {seen / unseen:.2f}x", file=sys.stderr)


if __name__ == "__main__":
    main()
