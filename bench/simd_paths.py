#!/usr/bin/python3
"""The SIMD paths side by side (issue #15): each seed kernel through shmpoold builds given on
the command line (e.g. a native and a portable build), on every path each offers (SHMPOOL_CPU),
in one run, all running at once, their jobs alternating; medians of job walls and of the
workers' CPU per job, ratios to the first build's first path; then gaussian's bytes per second in both dtypes (float32 also with float32 sums)
beside SciPy in one process and the machine's copy bandwidth.

Usage: bench/simd_paths.py --build LABEL=DIR[@PATH,...] [--build ...] [--repeat N] [--workers W]
Without @PATHs, every path the build offers; a shmpoold that predates dispatch runs its one, "-".
"""
import argparse
import contextlib
import os
import sys
import tempfile
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import references as ref  # noqa: E402
import shmpool_side as sp  # noqa: E402
from gaussian_sizes import CONFIGS as GAUSS_CONFIGS, SIZES as GAUSS_SIZES  # noqa: E402
from measure import summary, timed  # noqa: E402

h = sp.h
SIGMA = 1.5 ** 0.5


def seed_inputs():
    r = np.random.default_rng(2017)
    images = r.random((20000, 28, 28))
    return {"X": r.random((4000, 64)), "Y": r.random((4000, 64)), "P": r.random((6000, 3)),
            "images": images, "images32": images.astype(np.float32),
            "Z": r.random((50, 50, 50)), "Q": r.uniform(0, 49, (200000, 2)),
            "X2": r.random((2000, 64)), "Y2": r.random((2000, 64)), "X8": r.random((2000, 8)),
            "Y8": r.random((2000, 8)), "M": r.random((4000, 1000)),
            "R": r.random(1 << 24)}


SEEDS = [  # title, kernel, inputs, params
    ("bilinear_exp_sum k=n=50, m=200000", "bilinear_exp_sum", {"Z": "Z", "P": "Q"}, {}),
    ("gaussian 20000x28x28 float64", "gaussian", {"images": "images"}, {"sigma": SIGMA}),
    ("gaussian 20000x28x28 float32", "gaussian", {"images": "images32"}, {"sigma": SIGMA}),
    ("gaussian 20000x28x28 float32, float32 sums", "gaussian", {"images": "images32"},
     {"sigma": SIGMA, "sums": "float32"}),
    ("rbf N=6000", "rbf", {"points": "P"}, {}),
    ("euclidean 4000x4000, d=64", "euclidean", {"X": "X", "Y": "Y"}, {}),
    ("cdist cityblock 2000x2000, d=64", "cdist", {"X": "X2", "Y": "Y2"}, {"metric": "cityblock"}),
    ("cdist chebyshev 2000x2000, d=64", "cdist", {"X": "X2", "Y": "Y2"}, {"metric": "chebyshev"}),
    ("cdist cityblock 2000x2000, d=8", "cdist", {"X": "X8", "Y": "Y8"}, {"metric": "cityblock"}),
    ("map exp 4000x1000", "map", {"x": "M"}, {"op": "exp"}),
    ("reduce sum 2^24", "reduce", {"x": "R"}, {"op": "sum"}),
]


def paths_of(d):
    """The SIMD paths a daemon offers (its kernels reply), or [None] before dispatch existed."""
    with d.conn() as c:
        simd = c.ok("kernels").get("simd")
    return [None] if simd is None else simd["available"]


@contextlib.contextmanager
def running_daemon(workdir, shmpoold, workers, path, label="simd"):
    """A fresh shmpoold from `shmpoold` on SIMD path `path` (None: its default), stopped and
    checked for leaks after."""
    h.SHMPOOLD = shmpoold
    d = h.Daemon(workdir, workers=workers, extra_args=["--log-level", "error"], label=label,
                 env={"SHMPOOL_CPU": path} if path else None)
    try:
        d.start()
        yield d
    finally:
        if d.running():
            assert d.stop() == 0, d.stderr_tail()
            h.assert_no_leaks(d)
        h.cleanup_instance(d)


def with_daemon(workdir, shmpoold, workers, path, fn):
    """fn(d) on a fresh shmpoold (running_daemon)."""
    with running_daemon(workdir, shmpoold, workers, path) as d:
        return fn(d)


def workers_cpu_s(d):
    """User + system CPU seconds the daemon's workers have used, read from each one's process
    CPU clock (nanoseconds; /proc/PID/stat counts 10 ms ticks): unlike wall time, it does not
    count the time a loaded machine keeps them waiting for a core."""
    return sum(time.clock_gettime(((~w["pid"]) << 3) | 2) for w in d.workers() if w["pid"])  # CPUCLOCK_SCHED


def time_seeds(daemons, data, repeat):
    """{key: {title: (summary of job walls, summary of the workers' CPU seconds per job)}} of
    each workload on each daemon: `repeat` jobs after a warm-up, the daemons' jobs alternating
    (so a drift of the machine's speed falls on all alike), each output deleted before the next."""
    for d in daemons.values():
        for name in {n for _, _, inputs, _ in SEEDS for n in inputs.values()}:
            sp.put(d, name, data[name])
    conns = {key: sp.Conn(d.socket_path) for key, d in daemons.items()}
    out = {key: {} for key in daemons}
    for title, kernel, inputs, params in SEEDS:
        samples = {key: ([], []) for key in daemons}
        for i in range(repeat + 1):
            for key, d in daemons.items():
                cpu0, t0 = workers_cpu_s(d), time.perf_counter()
                job = sp.submit(conns[key], kernel, inputs, params)
                wall, cpu = time.perf_counter() - t0, workers_cpu_s(d) - cpu0
                sp.discard_output(d, job)
                if i:
                    samples[key][0].append(wall)
                    samples[key][1].append(cpu)
        for key, (walls, cpus) in samples.items():
            out[key][title] = (summary(walls), summary(cpus))
    return out


def time_gaussian_sizes(d, repeat):
    out = {}
    for K, side, sigma in GAUSS_SIZES:
        for dtype, sums in GAUSS_CONFIGS:
            images = np.random.default_rng(side).random((K, side, side)).astype(dtype)
            sp.put(d, "g", images)
            s, _ = sp.job_walls(d, "gaussian", {"images": "g"}, {"sigma": sigma, "sums": sums}, repeat)
            sp.delete(d, "g")
            scipy_s, _ = timed(lambda: ref.scipy_gaussian(images, sigma), max(1, repeat // 2))
            out[(K, side, sigma, dtype, sums)] = (s["median"], scipy_s["median"], 2 * images.nbytes)
    return out


def copy_bandwidth(repeat):
    src, dst = np.ones(32 << 20), np.empty(32 << 20)  # 256 MiB each
    s, _ = timed(lambda: np.copyto(dst, src), repeat)
    return 2 * src.nbytes / s["median"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="append", required=True, help="LABEL=DIR holding shmpoold")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build]
    builds = [(label, spec.split("@")[0], spec.split("@")[1].split(",") if "@" in spec else None)
              for label, spec in builds]
    data = seed_inputs()
    load_before = os.getloadavg()[0]
    gauss = None
    with tempfile.TemporaryDirectory() as workdir:
        with contextlib.ExitStack() as stack:  # every build and path at once, their jobs alternating
            daemons = {}
            for label, bdir, paths in builds:
                shmpoold = os.path.abspath(os.path.join(bdir, "shmpoold"))
                for path in paths or with_daemon(workdir, shmpoold, a.workers, None, paths_of):
                    daemons[(label, path)] = stack.enter_context(
                        running_daemon(workdir, shmpoold, a.workers, path, label="simd%d" % len(daemons)))
            rows = time_seeds(daemons, data, a.repeat)
        gauss = with_daemon(workdir, os.path.abspath(os.path.join(builds[0][1], "shmpoold")), a.workers, None,
                            lambda d: time_gaussian_sizes(d, a.repeat))
    print_report(builds, rows, gauss, copy_bandwidth(a.repeat), a, (load_before, os.getloadavg()[0]))


def print_paths_table(rows, base_key, which):
    """One table of every build and path per seed kernel: which = 0 (job walls) or 1 (workers' CPU)."""
    print("| workload | " + " | ".join(f"{lab} {p or '-'}" for lab, p in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for title, *_ in SEEDS:
        base = rows[base_key][title][which]["median"]
        cells = [f"{r[title][which]['median']:.4f} s ({r[title][which]['median'] / base:.2f}x)" for r in rows.values()]
        print(f"| {title} | " + " | ".join(cells) + " |")


def print_report(builds, rows, gauss, copy_bps, a, load):
    base_key = next(iter(rows))
    print(f"\nSIMD paths: medians of {a.repeat} job walls, {a.workers} workers; ratio = time / "
          f"{base_key[0]} {base_key[1] or '-'}; load average before/after {load[0]:.1f}/{load[1]:.1f}\n")
    print_paths_table(rows, base_key, 0)
    print("\nWorkers' CPU seconds per job, medians (user + system, all workers; ratio to the same base)\n")
    print_paths_table(rows, base_key, 1)
    print(f"\ngaussian on {builds[0][0]} (its default path), {a.workers} workers; copy bandwidth "
          f"(np.copyto, read + write) {copy_bps / 1e9:.1f} GB/s\n")
    print("| images | sigma | dtype, sums | shmpool s | GB/s (in + out) | SciPy 1 process s | shmpool / SciPy |")
    print("|---|---|---|---|---|---|---|")
    for (K, side, sigma, dtype, sums), (t, scipy_t, nbytes) in gauss.items():
        print(f"| {K}x{side}x{side} | {sigma} | {dtype}, {sums} | {t:.4f} | {nbytes / t / 1e9:.1f} | {scipy_t:.3f} | "
              f"{t / scipy_t:.3f}x |")


if __name__ == "__main__":
    main()
