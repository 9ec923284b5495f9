"""The seed workloads at the sizes of issue #5 (or tiny ones for CI): their inputs, the shmpool
job that computes each, and every baseline that computes the same thing in Python.
"""
import numpy as np

import library_baselines as lb
import references as ref
import seed_baselines as sb

SIGMA = 1.5 ** 0.5

FULL = {"euclidean": [(4000, 4000, 64)], "rbf": [3000, 6000, 12000], "gaussian": [(20000, 28)],
        "bilinear": [(50, 200000), (50, 1000000)], "scaling": [100, 300, 1000, 3000, 6000, 12000]}
TINY = {"euclidean": [(200, 150, 8)], "rbf": [100, 200], "gaussian": [(200, 12)],
        "bilinear": [(5, 2000)], "scaling": [50, 100, 200]}


class Workload:
    """One workload at one size: `family` groups the sizes that share a warm-up."""

    def __init__(self, family, title, data, kernel, inputs, params, baselines, out_bytes=0):
        self.family, self.title, self.data, self.out_bytes = family, title, data, out_bytes
        self.kernel, self.inputs, self.params = kernel, inputs, params
        self.baselines = baselines  # {name: fn() -> result}; the first is the reference


def euclidean(n, m, d, nproc):
    r = np.random.default_rng(2017)
    X, Y = r.random((n, d)), r.random((m, d))
    return Workload("euclidean", f"euclidean {n}x{m}, d={d}", {"X": X, "Y": Y}, "euclidean",
                    {"X": "X", "Y": "Y"}, {}, {
                        "NumPy": lambda: ref.numpy_euclidean(X, Y),
                        "SciPy cdist": lambda: ref.scipy_euclidean(X, Y),
                        "seed RawArray+JoinableQueue": lambda: sb.rawarray_queue(sb.euclidean_rows, (X, Y), (n, m), nproc),
                        "joblib": lambda: lb.joblib_euclidean(X, Y, nproc),
                        f"sklearn pairwise_distances(n_jobs={nproc})": lambda: lb.sklearn_euclidean(X, Y, nproc)},
                    out_bytes=8 * n * m)


def rbf(N, nproc, baselines=True):
    P = np.random.default_rng(2002).random((N, 3))
    fns = {"NumPy": lambda: ref.numpy_rbf(P)}
    if baselines:
        fns.update({"seed RawArray+JoinableQueue": lambda: sb.rawarray_queue(sb.rbf_rows, (P,), (N, N), nproc),
                    "joblib": lambda: lb.joblib_rbf(P, nproc),
                    f"sklearn pairwise_distances(n_jobs={nproc})": lambda: lb.sklearn_rbf(P, nproc)})
    return Workload("rbf", f"rbf N={N}", {"P": P}, "rbf", {"points": "P"}, {}, fns, out_bytes=8 * N * N)


def gaussian(K, side, nproc):
    images = np.random.default_rng(2000).random((K, side, side))
    return Workload("gaussian", f"gaussian {K}x{side}x{side}", {"images": images}, "gaussian",
                    {"images": "images"}, {"sigma": SIGMA}, {
                        "SciPy": lambda: ref.scipy_gaussian(images, SIGMA),
                        "seed Pool.map": lambda: sb.pool_map_gaussian(images, nproc),
                        "joblib": lambda: lb.joblib_gaussian(images, SIGMA, nproc)},
                    out_bytes=8 * K * side * side)


def bilinear(k, m, nproc):
    r = np.random.default_rng(2003)
    Z, P = r.random((k, k, k)), r.uniform(0, k - 1, (m, 2))
    return Workload("bilinear", f"bilinear_exp_sum k=n={k}, m={m}", {"Z": Z, "Q": P}, "bilinear_exp_sum",
                    {"Z": "Z", "P": "Q"}, {}, {
                        "SciPy": lambda: ref.scipy_bilinear_exp_sum(Z, P),
                        "seed BigData naive (pickled)": lambda: sb.bigdata_naive(Z, P, nproc),
                        "seed BigData fixed (fork-global)": lambda: sb.bigdata_fixed(Z, P, nproc),
                        "joblib": lambda: lb.joblib_bilinear_exp_sum(Z, P, nproc)})


def seed_workloads(sizes, nproc):
    out = [euclidean(*s, nproc) for s in sizes["euclidean"]]
    out += [rbf(N, nproc) for N in sizes["rbf"]]
    out += [gaussian(*s, nproc) for s in sizes["gaussian"]]
    out += [bilinear(*s, nproc) for s in sizes["bilinear"]]
    return out


def scaling_workloads(sizes, nproc):
    """rbf at the sizes of seed 002's figure not already among the seed workloads (NumPy only)."""
    return [rbf(N, nproc, baselines=False) for N in sizes["scaling"] if N not in sizes["rbf"]]
