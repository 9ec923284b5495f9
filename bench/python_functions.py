"""Users' Python functions on shmpool beside what they would otherwise write, in one run on this
machine: per-range overhead (map_ranges vs Pool.map chunksize=1, Pool.map default chunking,
joblib), per-range cost beside the input's size (shmpool vs Pool pickling), seed 003 and seed 000
through map_ranges beside the seeds' own multiprocessing code, and a warm second job's time to
its first range beside a fresh Pool. Medians of repeated runs; ratios against the baseline.

    /usr/bin/python3 bench/python_functions.py [--ranges 100000] [--big-mib 1024] [--tiny]
        [--only seed001] [--forest 100,20000,2000]   (seed 001: trees,rows,features; the issue's size)
"""
import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "client", "python"))
import seed_baselines as seeds  # noqa: E402
import shmpool  # noqa: E402
import shmpool_side  # noqa: E402
from measure import PssPeak, descendants, pss_bytes, timed  # noqa: E402

WORKERS = 2


def _noop(i):
    return None


def _touch(x):
    return x.shape[0]


def _first_range_time(_=None):
    import sklearn.ensemble  # noqa: F401  an import-heavy function
    return time.time()


def per_range_overhead(c, n, repeat):
    """µs per range of a function that does nothing, on WORKERS processes."""
    rows = {}
    rows["shmpool map_ranges (chunk=1)"], _ = timed(lambda: c.map_ranges(lambda b, e: None, rows=n, chunk=1).result(),
                                                   repeat)
    rows["shmpool map (default chunking)"], _ = timed(lambda: c.map(_noop, range(n)).result(), repeat)
    with mp.Pool(WORKERS) as pool:
        rows["Pool.map chunksize=1"], _ = timed(lambda: pool.map(_noop, range(n), chunksize=1), repeat)
        rows["Pool.map default chunking"], _ = timed(lambda: pool.map(_noop, range(n)), repeat)
    rows["joblib (loky) n_jobs=2"], _ = timed(lambda: _loky(_noop, ((i,) for i in range(n))), repeat)
    return {k: v["median"] / n * 1e6 for k, v in rows.items()}


def input_size_cost(c, big_mib, ranges, repeat):
    """µs per range of a function that takes a 1 KiB or a big input, on shmpool and on Pool."""
    out = {}
    for label, nbytes in (("1 KiB", 1024), ("%d MiB" % big_mib, big_mib << 20)):
        x = np.ones(nbytes // 8)
        c.put("x", x)
        s, _ = timed(lambda: c.map_ranges(lambda b, e, x: None, rows=ranges, chunk=1, inputs={"x": "x"}).result(),
                     repeat)
        out["shmpool " + label] = s["median"] / ranges * 1e6
        c.delete("x")
        tasks = max(2, min(ranges, (64 << 20) // nbytes * 4))  # Pool pickles the input into every task
        with mp.Pool(WORKERS) as pool:
            s, _ = timed(lambda: pool.map(_touch, [x] * tasks, chunksize=1), repeat)
        out["Pool.map pickling " + label] = s["median"] / tasks * 1e6
        del x
    return out


def seed003(c, k, n, m, repeat):
    """Σ_k Σ_i exp(f_k(x_i, y_i)) with SciPy splines: map_ranges over k beside the seed's pools."""
    rng = np.random.default_rng(3)
    Z = rng.random((k, n, n))
    P = rng.random((m, 2)) * (n - 1)

    def spline_sum(begin, end, Z, P):
        from scipy.interpolate import RectBivariateSpline
        grid = np.arange(Z.shape[1])
        return sum(float(np.sum(np.exp(RectBivariateSpline(grid, grid, Z[j], kx=1, ky=1).ev(P[:, 0], P[:, 1]))))
                   for j in range(begin, end))

    c.put("Z", Z)
    c.put("P", P)
    walls = {}
    walls["shmpool map_ranges"], got = timed(
        lambda: c.map_ranges(spline_sum, rows=k, inputs={"Z": "Z", "P": "P"}, reduce="sum").result(), repeat)
    walls["seed 003 naive (Pool, object pickled per task)"], naive = timed(lambda: seeds.bigdata_naive(Z, P), repeat)
    walls["seed 003 fixed (Pool, fork-inherited global)"], fixed = timed(lambda: seeds.bigdata_fixed(Z, P), repeat)
    walls["joblib (loky) n_jobs=2, Z memmapped"], lok = timed(lambda: sum(_loky(spline_sum, ((j, j + 1, Z, P) for j in range(k)))),
                                                           repeat)
    walls["one process"], ref = timed(lambda: spline_sum(0, k, Z, P), repeat)
    for other in (naive, fixed, lok, ref):
        assert abs(got - other) <= 1e-10 * abs(other), (got, other)
    c.delete("Z"), c.delete("P")
    return {key: v["median"] for key, v in walls.items()}


def _loky(fn, arg_tuples):
    """joblib's default process backend over WORKERS workers (auto-batching; arrays over 1 MB
    memmapped), results in order."""
    import joblib
    with joblib.parallel_backend("loky"):
        return joblib.Parallel(n_jobs=WORKERS)(joblib.delayed(fn)(*args) for args in arg_tuples)


def seed000(c, count, side, repeat):
    """gaussian_filter per image: map_ranges writing an output beside the seed's Pool.map."""
    images = np.random.default_rng(0).random((count, side, side))

    def blur(begin, end, images, out):
        from scipy.ndimage import gaussian_filter
        for i in range(begin, end):
            out[i] = gaussian_filter(images[i], 1.5 ** 0.5)

    c.put("images", images)
    walls = {}
    walls["shmpool map_ranges"], got = timed(
        lambda: c.map_ranges(blur, rows=count, inputs={"images": "images"}, out=("float64", images.shape)).result(),
        repeat)
    walls["seed 000 (Pool.map over images)"], ref = timed(lambda: seeds.pool_map_gaussian(images), repeat)
    from scipy.ndimage import gaussian_filter
    walls["joblib (loky) n_jobs=2, per image"], lok = timed(
        lambda: np.stack(_loky(gaussian_filter, ((im, 1.5 ** 0.5) for im in images))), repeat)
    np.testing.assert_array_equal(lok, ref)
    walls["one process"], _ = timed(lambda: [gaussian_filter(im, 1.5 ** 0.5) for im in images], repeat)
    np.testing.assert_array_equal(got, ref)
    del got
    c.delete("images")
    return {key: v["median"] for key, v in walls.items()}


def _forest(n_jobs):
    from sklearn.ensemble import RandomForestClassifier
    return RandomForestClassifier(n_estimators=_forest.trees, n_jobs=n_jobs, random_state=0)


def seed001(c, d, trees, n, d_features, repeat):
    """A random forest on sparse features: one process, sklearn's default n_jobs=2 (threads),
    joblib/loky n_jobs=2, the shmpool joblib backend, and Client.map of a per-tree fit (each
    fitted tree back through shared memory).
    Returns (median walls, memory rows): memory from one more, untimed run of each (memory_row)."""
    import joblib
    import scipy.sparse
    from shmpool.joblib import register
    register()
    rng = np.random.default_rng(1)
    X = scipy.sparse.random(n, d_features, density=0.01, format="csr", random_state=1)
    y = (X @ rng.standard_normal(d_features) > 0).astype(np.int64)
    _forest.trees = trees

    def fit_one_tree(seed, X, y):
        from sklearn.tree import DecisionTreeClassifier
        rows = np.random.default_rng(seed).integers(0, len(y), len(y))
        return DecisionTreeClassifier(max_features="sqrt", random_state=seed).fit(X[rows], y[rows])

    def on_loky():  # RandomForest asks joblib for threads (prefer="threads"): name loky to get processes
        with joblib.parallel_backend("loky", n_jobs=WORKERS):
            return _forest(WORKERS).fit(X, y)

    def pooled():
        with joblib.parallel_backend("shmpool", n_jobs=WORKERS, socket=d.socket_path):
            return _forest(WORKERS).fit(X, y)

    def mapped():  # y is put once, before (as the other runs have it in memory already)
        return c.map(fit_one_tree, range(trees), inputs={"X": X, "y": "y"}).result()

    me, on_pool = os.getpid(), lambda: [me, d.pid] + descendants(d.pid)
    in_segment = "/dev/shm/shmpool.%s.ds" % d.instance  # the instance's dataset segments
    configs = {  # name: (fit, its processes, which of their mappings hold the inputs)
        "one process (n_jobs=1)": (lambda: _forest(1).fit(X, y), lambda: [me], None),
        "sklearn's default n_jobs=2 (joblib threads)": (lambda: _forest(WORKERS).fit(X, y), lambda: [me], None),
        "joblib/loky n_jobs=2": (on_loky, lambda: [me] + sorted(set(descendants(me)) - set(on_pool())),
                                 lambda path: "joblib_memmapping_folder_" in path),
        "shmpool joblib backend n_jobs=2": (pooled, on_pool, lambda path: path.startswith(in_segment)),
        "shmpool Client.map of tree fits": (mapped, on_pool, lambda path: path.startswith(in_segment)),
    }
    walls, fitted = {}, {}
    c.put("y", y)
    for name, (fit, _, _) in configs.items():
        walls[name], fitted[name] = timed(fit, repeat)
    one, forest = fitted["one process (n_jobs=1)"], fitted["shmpool joblib backend n_jobs=2"]
    assert (forest.predict(X) == one.predict(X)).all() and len(fitted["shmpool Client.map of tree fits"]) == trees
    one_copy = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes + y.nbytes
    memory = {name: memory_row(fit, pids, holds, one_copy) for name, (fit, pids, holds) in configs.items()}
    c.delete("y")
    return {key: v["median"] for key, v in walls.items()}, memory, one_copy


def memory_row(fit, pids, holds_input, one_copy):
    """One untimed run of fit() sampled every 20 ms: peak summed PSS of its processes, how much
    that grew over their PSS just before, and the peak summed PSS of the mappings that hold the
    inputs (None: the inputs live in the one process's heap, no mapping to count). It waits
    first for idle workers' 500 ms check, at which they unmap the previous run's deleted inputs."""
    time.sleep(0.6)
    before = sum(pss_bytes(p) for p in pids())
    with PssPeak(pids, interval=0.02, holds_input=holds_input) as peak:
        fit()
    return {"processes": len(pids()), "peak": peak.peak, "growth": peak.peak - before,
            "inputs": peak.mapped_peak if holds_input is not None else None, "one_copy": one_copy}


def memory_table(rows, one_copy):
    mib = 1 << 20
    lines = ["", "### Seed 001 memory: one more (untimed) fit of each, PSS sampled every 20 ms", "",
             "One copy of the inputs (X's CSR data + indices + indptr, and y): %.2f MiB." % (one_copy / mib),
             "Processes counted: one process and threads = this one; loky = this one and its descendants (loky workers, "
             "resource tracker) but not the daemon; shmpool = this one (the client), the daemon and its workers.",
             "Input mappings: loky = files in joblib's memmapping folder; shmpool = the instance's dataset "
             "segments in /dev/shm (inputs and each job's pickled code, which for the joblib backend holds "
             "the pickled batch); each run starts after the idle workers' 500 ms check, at which they unmap "
             "the previous run's deleted inputs. Copies in process heaps (unpickled arguments, sklearn's own CSC float32 "
             "copy of X) show in the growth column only.",
             "", "| | processes | peak PSS MiB | growth MiB | growth / one copy | input mappings' PSS MiB | "
             "input mappings / one copy |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        mapped = ("%.2f" % (r["inputs"] / mib), "%.3f" % (r["inputs"] / one_copy)) if r["inputs"] is not None \
            else ("— (heap)", "—")
        lines.append("| %s | %d | %.1f | %.1f | %.2f | %s | %s |" % (
            name, r["processes"], r["peak"] / mib, r["growth"] / mib, r["growth"] / one_copy, *mapped))
    return "\n".join(lines)


def time_to_first_range(c, repeat):
    """ms from submit to the start of the first range of an sklearn-importing function."""
    out = {"shmpool first job": [], "shmpool warm job": [], "fresh Pool(2)": []}
    for _ in range(repeat):
        t0 = time.time()
        first = c.map_ranges(lambda b, e: _first_range_time(), rows=WORKERS, chunk=1, reduce="min").result()
        out["shmpool first job" if not out["shmpool warm job"] and not out["shmpool first job"] else
            "shmpool warm job"].append(first - t0)
        t0 = time.time()
        with mp.get_context("spawn").Pool(WORKERS) as pool:  # a fresh pool imports afresh
            started = pool.apply_async(_first_range_time).get()
        out["fresh Pool(2)"].append(started - t0)
    return {k: float(np.median(v)) * 1e3 for k, v in out.items() if v}


def table(title, rows, unit, baseline):
    lines = ["", "### " + title, "", "| | %s | ratio to %s |" % (unit, baseline), "|---|---:|---:|"]
    base = rows[baseline]
    lines += ["| %s | %.4g | %.3f |" % (k, v, v / base) for k, v in rows.items()]
    return "\n".join(lines)


def forest_size(text):
    """--forest trees,rows,features: three positive integers."""
    try:
        size = tuple(int(v) for v in text.split(","))
    except ValueError:
        size = ()
    if len(size) != 3 or min(size) < 1:
        raise argparse.ArgumentTypeError("--forest wants trees,rows,features (three positive integers), not %r" % text)
    return size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranges", type=int, default=100_000)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--only", choices=["seed001"], help="run one section")
    ap.add_argument("--forest", default="100,20000,2000", type=forest_size,
                    help="seed 001: trees,rows,features (default: the issue's full size 100,20000,2000)")
    a = ap.parse_args()
    n, big, seed_size, images = (a.ranges, a.big_mib, (64, 200, 100_000), (64, 256))
    if a.tiny:
        n, big, seed_size, images, a.repeat = 2000, 8, (8, 50, 2000), (8, 64), 1
    report = ["# Python functions on shmpool (%d workers, %d cores, %s)" % (WORKERS, os.cpu_count(),
                                                                            time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                          time.gmtime()))]
    with tempfile.TemporaryDirectory() as workdir, shmpool_side.daemon(workdir, WORKERS) as d:
        with shmpool.Client(socket=d.socket_path, cleanup=True) as c:
            c.map_ranges(lambda b, e: None, rows=WORKERS * 4, chunk=1).result()  # start the interpreters
            forest = (4, 500, 50) if a.tiny else a.forest
            walls, memory, one_copy = seed001(c, d, *forest, a.repeat)
            report.append(table("Seed 001: random forest of %d trees on sparse %d x %d (1%% dense)" % forest,
                                walls, "s (median)", "one process (n_jobs=1)"))
            report.append(memory_table(memory, one_copy))
            if a.only:
                print("\n".join(report))
                return
            report.append(table("Per-range overhead of a function that does nothing, %d ranges" % n,
                                per_range_overhead(c, n, a.repeat), "µs per range", "Pool.map chunksize=1"))
            report.append(table("Per-range cost beside the input's size", input_size_cost(c, big, 200, a.repeat),
                                "µs per range", "shmpool 1 KiB"))
            report.append(table("Seed 003: Σ exp(spline) over k=%d grids %dx%d at %d points" % (seed_size[0], seed_size[1], seed_size[1],
                                                                              seed_size[2]),
                                seed003(c, *seed_size, a.repeat), "s (median)", "one process"))
            report.append(table("Seed 000: gaussian_filter of %d images %dx%d" % (images[0], images[1], images[1]),
                                seed000(c, images[0], images[1], a.repeat), "s (median)", "one process"))
            report.append(table("Time from submit to the first range of an sklearn-importing function",
                                time_to_first_range(c, max(2, a.repeat)), "ms (median)", "fresh Pool(2)"))
    print("\n".join(report))


if __name__ == "__main__":
    main()
