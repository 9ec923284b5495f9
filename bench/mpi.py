#!/usr/bin/python3
"""shmpool-mpi beside the daemon (issue #14), same run, same inputs, same chunk: `mpirun -n 1|2
shmpool-mpi` against shmpoold with 1|2 workers on seed workloads, medians of wall times, and the
summed PSS of 2 ranks against one copy of the inputs.

What each time holds. daemon job: a job.submit with wait (inputs already in shared memory, output
left in shared memory); daemon job + save: then dataset.save of the output to an .npy file, as
shmpool-mpi writes one. mpi run_s: its ranges only (output rows written to the .npy with MPI-IO);
mpi wall: the whole mpirun (start, one read of each input per node, ranges, output, exit).

Usage: bench/mpi.py --build DIR [--tiny] [--repeat N]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import shmpool_side as sp  # noqa: E402
import workloads as wl  # noqa: E402
from measure import PssPeak, summary  # noqa: E402

h = sp.h
FULL = {"euclidean": (4000, 4000, 64), "bilinear": (50, 1000000), "pss_rows": 1 << 25}  # 256 MiB input
TINY = {"euclidean": (200, 150, 8), "bilinear": (5, 2000), "pss_rows": 1 << 20}


def mpirun(build, ranks, args, workdir, on_start=None):
    """Runs shmpool-mpi under mpirun; returns (wall s, its job object). on_start(proc) is called
    while it runs (e.g. to sample its ranks' PSS)."""
    argv = [shutil.which("mpirun"), "--allow-run-as-root", "--oversubscribe", "-n", str(ranks),
            os.path.join(build, "mpi", "shmpool-mpi"), "run", *args, "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if on_start:
        on_start(proc)
    out, err = proc.communicate(timeout=600)
    wall = time.perf_counter() - t0
    replies = [line for line in out.decode().splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not replies or not json.loads(replies[-1])["ok"]:
        raise RuntimeError("shmpool-mpi failed (%s): %s\n%s" % (proc.returncode, replies, err.decode()[-2000:]))
    return wall, json.loads(replies[-1])["result"]


def rank_pids(mpirun_pid):
    return [pid for pid, state in h.children_of(mpirun_pid) if state != "Z"]


def npy_args(workdir, w):
    """--in ROLE=FILE for the workload's arrays, saved once as .npy."""
    args = []
    for role, name in w.inputs.items():
        path = os.path.join(workdir, "%s.npy" % name)
        if not os.path.exists(path):
            np.save(path, w.data[name])
        args += ["--in", "%s=%s" % (role, path)]
    return args


def mpi_row(build, workdir, w, ranks, chunk, repeat):
    args = [w.kernel, *npy_args(workdir, w), "--chunk", str(chunk)]
    for k, v in w.params.items():
        args += ["--param", "%s=%s" % (k, json.dumps(v))]
    out = os.path.join(workdir, "out.npy") if w.out_bytes else None
    if out:
        args += ["--out", out]
    walls, runs = [], []
    for _ in range(repeat + 1):  # the first run warms the page cache
        wall, job = mpirun(build, ranks, args, workdir)
        walls.append(wall)
        runs.append(job["run_s"])
        if out:
            os.unlink(out)
    return summary(walls[1:]), summary(runs[1:])


def daemon_row(build, workdir, w, workers, chunk, repeat):
    """(job walls, job + dataset.save walls): the second writes the same .npy file shmpool-mpi writes."""
    with sp.daemon(workdir, workers) as d:
        for name, arr in w.data.items():
            sp.put(d, name, arr)
        conn = sp.Conn(d.socket_path)
        walls, saved = [], []
        for i in range(repeat + 1):
            t0 = time.perf_counter()
            job = sp.submit(conn, w.kernel, w.inputs, w.params, chunk=chunk)
            t1 = time.perf_counter()
            if w.out_bytes:
                out = os.path.join(workdir, "daemon-out.npy")
                conn.call("dataset.save", name=job["output"]["name"], file=out)
                os.unlink(out)
                sp.delete(d, job["output"]["name"])
            if i:
                walls.append(t1 - t0)
                saved.append(time.perf_counter() - t0)
        for name in w.data:
            sp.delete(d, name)
    return summary(walls), summary(saved)


def pss_row(build, workdir, rows):
    """Peak summed PSS of 2 ranks reducing an input of `rows` float64, beside the same 2 ranks
    reducing a 512-element input (what MPI and the program cost without the data)."""
    x, small = os.path.join(workdir, "pss.npy"), os.path.join(workdir, "pss-small.npy")
    np.save(x, np.random.default_rng(14).random(rows))
    np.save(small, np.ones(512))
    peaks = {}
    for label, path in (("small", small), ("reduce", x)):
        args = ["reduce", "--in", "x=" + path, "--param", "op=\"sum\"", "--chunk", str(max(1, rows // 512))]
        box = {}

        def sample(proc):
            box["peak"] = PssPeak(lambda: rank_pids(proc.pid), interval=0.002)
            box["peak"].__enter__()

        try:
            mpirun(build, 2, args, workdir, on_start=sample)
        finally:
            box["peak"].__exit__(None, None, None)
        peaks[label] = box["peak"].peak
    os.unlink(x)
    os.unlink(small)
    return {"input_bytes": rows * 8, "pss_reduce": peaks["reduce"], "pss_no_input": peaks["small"],
            "ratio_net": (peaks["reduce"] - peaks["small"]) / (rows * 8)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    sizes = TINY if a.tiny else FULL
    os.environ["SHMPOOLD"] = os.path.join(a.build, "shmpoold")
    nproc = os.cpu_count()
    loads = [wl.euclidean(*sizes["euclidean"], nproc), wl.bilinear(*sizes["bilinear"], nproc)]
    workdir = tempfile.mkdtemp(prefix="shmpool-bench-mpi.")
    print("| workload | chunk | n | daemon job | daemon job + save | mpi run_s | mpi wall | mpi run_s / daemon job"
          " | mpi run_s / daemon job + save |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for w in loads:
            rows = w.data["X"].shape[0] if "X" in w.data else w.data["Z"].shape[0]
            chunk = max(1, rows // 16)
            for n in (1, 2):
                djob, dsave = daemon_row(a.build, workdir, w, n, chunk, a.repeat)
                mwall, mrun = mpi_row(a.build, workdir, w, n, chunk, a.repeat)
                print("| %s | %d | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.2fx | %.2fx |" % (
                    w.title, chunk, n, 1e3 * djob["median"], 1e3 * dsave["median"], 1e3 * mrun["median"],
                    1e3 * mwall["median"], mrun["median"] / djob["median"], mrun["median"] / dsave["median"]),
                      flush=True)
        p = pss_row(a.build, workdir, sizes["pss_rows"])
        print("\nPSS of 2 ranks reducing a %.0f MiB input: %.1f MiB peak; 2 ranks reducing a 4 KiB input %.1f MiB; "
              "(peak - 4 KiB run) / input = %.3f" % (p["input_bytes"] / 2**20, p["pss_reduce"] / 2**20,
                                                   p["pss_no_input"] / 2**20, p["ratio_net"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
