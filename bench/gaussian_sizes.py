#!/usr/bin/python3
"""gaussian's throughput at several image sizes and sigmas, in both dtypes (issue #15): shmpoold
builds given on the command line (e.g. before and after a change) side by side in one run, their
jobs alternating, beside SciPy in one process and np.copyto of the same bytes.

Usage: bench/gaussian_sizes.py --build LABEL=DIR [--build ...] [--repeat N] [--workers W]
Per size, sigma and dtype (float32 twice: double sums, the default, and param sums=float32):
each build's job wall (client submit to reply) and its workers' CPU
time per job (/proc/PID/schedstat: on a core, user + system, not waiting for one), GB/s as
input + output bytes / wall; SciPy's gaussian_filter over the stack one image at a time (one
process); np.copyto of the input into an array of its size (reads and writes the same bytes).
Medians of `repeat` after a warm-up. The last column: the last build's GB/s over its float64 GB/s
at the same size.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import references as ref  # noqa: E402
import shmpool_side as sp  # noqa: E402
from measure import timed  # noqa: E402

h = sp.h
SIZES = [(20000, 28, 1.2), (2000, 64, 2.0), (200, 256, 3.0), (12, 1024, 3.0)]  # images, side, sigma
CONFIGS = (("float64", "float64"), ("float32", "float64"), ("float32", "float32"))  # dtype, param sums


def workers_on_cpu_s(workers):
    """Seconds the worker processes have run on a core (schedstat's first field, in ns)."""
    total = 0
    for pid in workers:
        with open("/proc/%d/schedstat" % pid) as f:
            total += int(f.read().split()[0])
    return total / 1e9


class Build:
    """A running shmpoold of one build: its lean connection for timed jobs and its workers' pids."""

    def __init__(self, d):
        self.d, self.conn = d, sp.Conn(d.socket_path)
        self.workers = [w["pid"] for w in d.workers() if w["pid"]]

    def job(self, images_name, sigma, sums):
        """(wall, workers' CPU) of one gaussian job; its output is deleted after, untimed."""
        cpu0, t0 = workers_on_cpu_s(self.workers), time.perf_counter()
        job = sp.submit(self.conn, "gaussian", {"images": images_name}, {"sigma": sigma, "sums": sums})
        wall, cpu = time.perf_counter() - t0, workers_on_cpu_s(self.workers) - cpu0
        sp.discard_output(self.d, job)
        return wall, cpu


def time_builds(daemons, images, sigma, sums, repeat):
    """{label: (median wall, median workers' CPU)}: the builds' jobs alternate, after a warm-up each."""
    samples = {label: ([], []) for label in daemons}
    for b in daemons.values():
        sp.put(b.d, "g", images)
        b.job("g", sigma, sums)
    for _ in range(repeat):
        for label, b in daemons.items():
            wall, cpu = b.job("g", sigma, sums)
            samples[label][0].append(wall)
            samples[label][1].append(cpu)
    for b in daemons.values():
        sp.delete(b.d, "g")
    return {label: (float(np.median(w)), float(np.median(c))) for label, (w, c) in samples.items()}


def measure(daemons, repeat):
    rows = []
    for K, side, sigma in SIZES:
        for dtype, sums in CONFIGS:
            images = np.random.default_rng(side).random((K, side, side)).astype(dtype)
            builds = time_builds(daemons, images, sigma, sums, repeat)
            scipy_s, _ = timed(lambda: ref.scipy_gaussian(images, sigma), repeat)
            out = np.empty_like(images)
            copy_s, _ = timed(lambda: np.copyto(out, images), repeat)
            rows.append(((K, side, sigma, dtype, sums), 2 * images.nbytes, builds, scipy_s["median"], copy_s["median"]))
            del images, out
    return rows


def print_report(rows, labels, a, load):
    print(f"\ngaussian: medians of {a.repeat} jobs per build (alternating), {a.workers} workers; SciPy "
          f"gaussian_filter per image in one process; copy = np.copyto of the same bytes; "
          f"load average before/after {load[0]:.1f}/{load[1]:.1f}\n")
    head = " | ".join(f"{lab}: wall s, CPU s, GB/s, vs SciPy" for lab in labels)
    print(f"| images | sigma | dtype, sums | {head} | SciPy s | copy GB/s | {labels[-1]} / {labels[0]} CPU "
          f"| {labels[-1]} GB/s / its float64's |")
    print("|---|---|---|" + "---|" * len(labels) + "---|---|---|---|")
    float64_gbs = {}
    for (K, side, sigma, dtype, sums), nbytes, builds, scipy_s, copy_s in rows:
        cells = [f"{w:.4f}, {c:.4f}, {nbytes / w / 1e9:.1f}, {w / scipy_s:.3f}x"
                 for w, c in (builds[label] for label in labels)]
        ratio = builds[labels[-1]][1] / builds[labels[0]][1]
        gbs = nbytes / builds[labels[-1]][0] / 1e9
        float64_gbs.setdefault((K, side), gbs)  # float64 comes first at each size
        print(f"| {K}x{side}x{side} | {sigma} | {dtype}, {sums} | " + " | ".join(cells) +
              f" | {scipy_s:.3f} | {nbytes / copy_s / 1e9:.1f} | {ratio:.2f}x | {gbs / float64_gbs[(K, side)]:.2f}x |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="append", required=True, help="LABEL=DIR holding shmpoold")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build]
    load_before = os.getloadavg()[0]
    started, daemons = [], {}
    with tempfile.TemporaryDirectory() as workdir:
        try:
            for label, bdir in builds:
                h.SHMPOOLD = os.path.abspath(os.path.join(bdir, "shmpoold"))
                started.append(h.Daemon(workdir, workers=a.workers, extra_args=["--log-level", "error"],
                                        label="gauss-" + label))
                started[-1].start()
                daemons[label] = Build(started[-1])
            rows = measure(daemons, a.repeat)
        finally:
            for d in started:
                if d.running():
                    assert d.stop() == 0, d.stderr_tail()
                    h.assert_no_leaks(d)
                h.cleanup_instance(d)
    print_report(rows, [label for label, _ in builds], a, (load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
