#!/usr/bin/python3
"""The README's main job: start shmpoold with its defaults, run the seed workloads through it
with all workers and with one, as built-in kernels and as the user's own Python functions
(Client.map_ranges), and print checksums and speed-ups beside NumPy in one process.

Usage: scripts/demo.py [--build DIR] [--quick] [--repeat N] [--seeds]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # NumPy's baseline: one process, one thread
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import seed_baselines as sb  # noqa: E402  the seeds' multiprocessing code, shared with bench/run.py
from references import numpy_euclidean, numpy_rbf, scipy_bilinear_exp_sum, scipy_gaussian  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "client", "python"))
import cloudpickle  # noqa: E402
import shmpool  # noqa: E402

cloudpickle.register_pickle_by_value(sb)  # the workers cannot import bench/: ship its functions too


# The seed workloads written as a user's own Python functions for Client.map_ranges: each gets
# its rows [begin, end) and the datasets as read-only arrays, and fills its rows of `out`.
def py_euclidean(begin, end, X, Y, out):
    out[begin:end] = sb.euclidean_rows(begin, end, X, Y)


def py_rbf(begin, end, points, out):
    out[begin:end] = sb.rbf_rows(begin, end, points)


def py_gaussian(begin, end, images, out):
    from scipy.ndimage import gaussian_filter
    for i in range(begin, end):
        out[i] = gaussian_filter(images[i], 1.5 ** 0.5)


def py_bilinear(begin, end, Z, P):
    from scipy.interpolate import RectBivariateSpline
    grid = np.arange(Z.shape[1])
    return sum(float(np.sum(np.exp(RectBivariateSpline(grid, grid, Z[k], kx=1, ky=1).ev(P[:, 0], P[:, 1]))))
               for k in range(begin, end))


def run_python(client, fn, inputs, rows, out=None):
    """A map_ranges job: (wall time, checksum) as Daemon.run reports them."""
    t0 = time.perf_counter()
    job = client.map_ranges(fn, rows=rows, inputs=inputs, out=out, reduce=None if out else "sum")
    result = job.result()
    wall = time.perf_counter() - t0
    if out is None:
        return wall, result
    total = checksum(result)
    del result
    client.delete(job.output)
    return wall, total


def checksum(result):
    return float(result) if np.ndim(result) == 0 else float(np.sum(result, dtype=np.float64))


class Daemon:
    """One shmpoold on the default instance, driven through the shmpool CLI."""

    def __init__(self, build, data_dir, workers=None):
        self.cli = os.path.join(build, "shmpool")
        cmd = [os.path.join(build, "shmpoold"), "--foreground", "--allow-dir", data_dir]
        if workers:
            cmd += ["--workers", str(workers)]
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stderr=self.log)
        for _ in range(500):
            if subprocess.run([self.cli, "ping"], capture_output=True).returncode == 0:
                break
            if self.proc.poll() is not None:
                self.fail("shmpoold exited at start")
            time.sleep(0.01)
        self.workers = self.call("stats")["workers"]["count"]

    def fail(self, why):
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the daemon drains, reaps and cleans up
            self.proc.wait(timeout=30)
        self.log.seek(0)
        sys.exit(f"demo: {why}\n{self.log.read().decode(errors='replace')}")

    def call(self, *args):
        r = subprocess.run([self.cli, "--json", *args], capture_output=True, text=True)
        if r.returncode != 0:
            self.fail(f"shmpool {' '.join(args)} failed: {r.stderr.strip()}")
        return json.loads(r.stdout)["result"]

    def run(self, kernel, inputs, params):
        """Runs a job; returns its wall time and a checksum: the reduced value, or the output's sum."""
        args = ["run", kernel]
        for role, name in inputs.items():
            args += ["--in", f"{role}={name}"]
        for key, value in params.items():
            args += ["--param", f"{key}={value}"]
        t0 = time.perf_counter()
        job = self.call(*args)
        wall = time.perf_counter() - t0
        if job.get("value") is not None:
            return wall, job["value"]
        o = self.call("info", job["output"]["name"])  # info names the segment (job replies do not)
        view = np.memmap("/dev/shm/" + o["segment"], dtype=o["dtype"], mode="r", shape=tuple(o["shape"]))
        total = checksum(view)
        del view
        self.call("rm", o["name"])
        return wall, total

    def stop(self):
        self.call("shutdown")
        code = self.proc.wait(timeout=30)
        if code != 0:
            self.fail(f"shmpoold exited with {code}")
        self.log.close()


def median_time(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seeds", action="store_true", help="also time the seeds' multiprocessing code (2 processes)")
    a = ap.parse_args()
    n, d, N, K, k, m = (400, 64, 600, 2000, 10, 20000) if a.quick else (4000, 64, 6000, 20000, 50, 200000)
    sigma = 1.5 ** 0.5
    rng = np.random.default_rng(2017)
    data = {"X": rng.random((n, d)), "Y": rng.random((n, d)), "P": rng.random((N, 3)),
            "images": rng.random((K, 28, 28)), "Z": rng.random((k, k, k)), "Q": rng.uniform(0, k - 1, (m, 2))}
    python_jobs = {  # title -> the same workload as the user's Python function: fn, rows, output
        f"euclidean {n}x{n}, d={d}": (py_euclidean, n, ("float64", (n, n))),
        f"rbf N={N}": (py_rbf, N, ("float64", (N, N))),
        f"gaussian {K}x28x28": (py_gaussian, K, ("float64", (K, 28, 28))),
        f"bilinear_exp_sum k=n={k}, m={m}": (py_bilinear, k, None),
    }
    workloads = [  # title, kernel, inputs, params, reference in one process, the seed's multiprocessing code
        (f"euclidean {n}x{n}, d={d}", "euclidean", {"X": "X", "Y": "Y"}, {},
         lambda: numpy_euclidean(data["X"], data["Y"]),
         lambda: sb.rawarray_queue(sb.euclidean_rows, (data["X"], data["Y"]), (n, n))),
        (f"rbf N={N}", "rbf", {"points": "P"}, {}, lambda: numpy_rbf(data["P"]),
         lambda: sb.rawarray_queue(sb.rbf_rows, (data["P"],), (N, N))),
        (f"gaussian {K}x28x28", "gaussian", {"images": "images"}, {"sigma": repr(sigma)},
         lambda: scipy_gaussian(data["images"], sigma), lambda: sb.pool_map_gaussian(data["images"])),
        (f"bilinear_exp_sum k=n={k}, m={m}", "bilinear_exp_sum", {"Z": "Z", "P": "Q"}, {},
         lambda: scipy_bilinear_exp_sum(data["Z"], data["Q"]), lambda: sb.bigdata_fixed(data["Z"], data["Q"])),
    ]
    ref, seeds = {}, {}
    for title, _, _, _, fn, seed_fn in workloads:
        t, out = median_time(fn, a.repeat)
        ref[title] = (t, checksum(out))
        del out
        if a.seeds:
            t, out = median_time(seed_fn, a.repeat)
            seeds[title] = (t, checksum(out))
            del out

    with tempfile.TemporaryDirectory() as tmp:
        for name, arr in data.items():
            np.save(os.path.join(tmp, name + ".npy"), arr)
        results = {}
        for workers in (None, 1):  # None: the daemon's default, one per online CPU
            daemon = Daemon(a.build, tmp, workers)
            try:
                for name in data:
                    daemon.call("put", os.path.join(tmp, name + ".npy"), "--name", name)
                for title, kernel, inputs, params, *_ in workloads:
                    t, result = median_time(lambda: daemon.run(kernel, inputs, params), a.repeat)
                    results[(title, daemon.workers)] = (t, result[1])
                with shmpool.Client() as client:
                    for title, kernel, inputs, params, *_ in workloads:
                        fn, rows, out = python_jobs[title]
                        run_python(client, fn, inputs, rows, out)  # warm: the workers import SciPy once
                        t, result = median_time(lambda: run_python(client, fn, inputs, rows, out), a.repeat)
                        results[(title, daemon.workers, "py")] = (t, result[1])
            except SystemExit:
                raise  # daemon.fail() has stopped the daemon already
            except BaseException as e:  # whatever else went wrong, the daemon is stopped: nothing outlives the demo
                daemon.fail(f"{type(e).__name__}: {e}")
            daemon.stop()
    all_workers = max(key[1] for key in results)

    cores = os.cpu_count()
    print(f"\nshmpool demo on {cores} cores (NumPy/SciPy: one process, one BLAS thread), medians of {a.repeat} runs (wall time, client to reply)\n")
    head = (f"{'workload':<34}{'NumPy/SciPy':>13}{'shmpool 1w':>12}{f'shmpool {all_workers}w':>12}"
            f"{'vs numpy':>10}{f'{all_workers}w vs 1w':>10}  checksum numpy / shmpool")
    print(head)
    print("-" * len(head))
    ok = True
    for title, *_ in workloads:
        t_np, c_np = ref[title]
        t1, c1 = results[(title, 1)]
        tn, cn = results[(title, all_workers)]
        agree = abs(c1 - c_np) <= 1e-9 * abs(c_np) and abs(cn - c_np) <= 1e-9 * abs(c_np)
        ok &= agree
        print(f"{title:<34}{t_np:>12.3f}s{t1:>11.3f}s{tn:>11.3f}s{t_np / tn:>9.1f}x{t1 / tn:>9.2f}x  "
              f"{c_np:.10e} / {cn:.10e} {'ok' if agree else 'MISMATCH'}")
        t1, c1 = results[(title, 1, "py")]
        tn, cn = results[(title, all_workers, "py")]
        agree = abs(c1 - c_np) <= 1e-9 * abs(c_np) and abs(cn - c_np) <= 1e-9 * abs(c_np)
        ok &= agree
        print(f"{'  as your Python function':<34}{'':>13}{t1:>11.3f}s{tn:>11.3f}s{t_np / tn:>9.1f}x{t1 / tn:>9.2f}x  "
              f"{'':>16}{cn:.10e} {'ok' if agree else 'MISMATCH'}")
        if title in seeds:
            t_s, c_s = seeds[title]
            agree = abs(c_s - c_np) <= 1e-9 * abs(c_np)
            ok &= agree
            print(f"{'  the seed, multiprocessing 2 procs':<34}{t_s:>12.3f}s{'':>22}{t_s / tn:>9.1f}x slower than shmpool "
                  f"{all_workers}w  {c_s:.10e} {'ok' if agree else 'MISMATCH'}")
    leftovers = [f for f in os.listdir("/dev/shm") if f.startswith("shmpool.default.")]
    print(f"\nafter stop: {len(leftovers)} segments of instance 'default' in /dev/shm")
    if not ok or leftovers:
        sys.exit("demo: checksums disagree or segments were left behind")


if __name__ == "__main__":
    main()
