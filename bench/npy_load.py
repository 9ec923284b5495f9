#!/usr/bin/python3
"""put of an .npy file in Fortran order and/or big-endian beside the same array in C order
(issue #19): the wall time of `dataset.put` by path, through a real shmpoold with all workers,
and the CPU time its workers spent (less sensitive to a busy machine than the wall time),
runs of each layout interleaved so the machine's noise falls on all alike; medians and the
ratio to C order. bench/run.py runs it as one section; alone:

Usage: bench/npy_load.py --build DIR [--bytes N] [--repeat N]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import report  # noqa: E402
import shmpool_side as sp  # noqa: E402
from dispatch import Conn  # noqa: E402
from measure import summary  # noqa: E402

LAYOUTS = {"C order": ("C", "<"), "Fortran order": ("F", "<"), "big-endian, C order": ("C", ">"),
           "Fortran order, big-endian": ("F", ">")}


def shapes(nbytes):
    """A tall array (a DataFrame's values: many rows, 128 columns) and a wide one, of nbytes float64."""
    n = nbytes // 8
    return [(n // 128, 128), (n // 8192, 8192)] if n >= 8192 * 8 else [(n // 16, 16)]


def write_layouts(workdir, shape):
    """{layout: path} of one float64 array saved in every layout."""
    a = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    paths = {}
    for name, (order, byteorder) in LAYOUTS.items():
        arr = a.astype(">f8") if byteorder == ">" else a
        path = os.path.join(workdir, "npy-load-%s%s.npy" % (order, "be" if byteorder == ">" else "le"))
        np.save(path, np.asfortranarray(arr) if order == "F" else arr)
        paths[name] = path
        del arr
    return paths


def cpu_seconds(pids):
    """User + system CPU seconds of the processes so far (/proc/PID/stat utime and stime)."""
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def timed_put(conn, path, shape):
    """(wall seconds, workers' CPU seconds) of one put of `path`."""
    pids = [w["pid"] for w in conn.call("workers")["workers"]]
    c0, t0 = cpu_seconds(pids), time.perf_counter()
    info = conn.call("dataset.put", name="loaded", file=path)
    t, c = time.perf_counter() - t0, cpu_seconds(pids) - c0
    if info["shape"] != list(shape):
        raise RuntimeError("put of %s gave shape %s" % (path, info["shape"]))
    conn.call("dataset.delete", name="loaded")
    return t, c


def bench_npy_load(nbytes, workdir, nproc, repeat):
    """{"bytes", "workers", "shapes": {shape: {layout: wall summary}}, "cpu": {shape: {layout: workers' CPU
    summary}}}, after one warm-up put of each layout."""
    out = {"bytes": nbytes, "workers": nproc, "shapes": {}, "cpu": {}}
    with sp.daemon(workdir, nproc) as d:
        conn = Conn(d.socket_path)
        for shape in shapes(nbytes):
            paths = write_layouts(workdir, shape)
            times, cpus = {name: [] for name in paths}, {name: [] for name in paths}
            for r in range(repeat + 1):
                for name, path in paths.items():
                    t, c = timed_put(conn, path, shape)
                    if r:
                        times[name].append(t)
                        cpus[name].append(c)
            key = "x".join(map(str, shape))
            out["shapes"][key] = {name: summary(ts) for name, ts in times.items()}
            out["cpu"][key] = {name: summary(cs) for name, cs in cpus.items()}
            for path in paths.values():
                os.unlink(path)
        conn.sock.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="build directory with shmpoold")
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    sp.h.SHMPOOLD = os.path.join(os.path.abspath(a.build), "shmpoold")
    with tempfile.TemporaryDirectory(prefix="shmpool-bench.") as workdir:
        result = bench_npy_load(a.bytes, workdir, os.cpu_count(), a.repeat)
    print(report.section_npy_load({"npy_load": result}), end="")


if __name__ == "__main__":
    main()
