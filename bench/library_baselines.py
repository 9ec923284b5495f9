"""What users reach for besides the seeds' hand-written pools: joblib over row blocks and
sklearn's pairwise_distances(n_jobs=...), on the seed workloads (all with `nproc` processes).
"""
import numpy as np

import seed_baselines as sb


def _row_blocks(n, nproc, per_proc=8):
    bounds = np.linspace(0, n, nproc * per_proc + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def joblib_rows(row_fn, args, n, nproc=2):
    """joblib.Parallel (loky) over row blocks; the blocks come back pickled and are stacked."""
    from joblib import Parallel, delayed
    parts = Parallel(n_jobs=nproc)(delayed(row_fn)(a, b, *args) for a, b in _row_blocks(n, nproc))
    return np.vstack(parts)


def joblib_gaussian(images, sigma, nproc=2):
    """joblib.Parallel over the images, one call each (joblib batches them itself)."""
    from joblib import Parallel, delayed
    from scipy.ndimage import gaussian_filter
    return np.array(Parallel(n_jobs=nproc)(delayed(gaussian_filter)(im, sigma) for im in images))


def _exp_sum_of_grids(Z, P):
    from references import scipy_bilinear_exp_sum
    return scipy_bilinear_exp_sum(Z, P)


def joblib_bilinear_exp_sum(Z, P, nproc=2):
    """joblib.Parallel over blocks of grids (seed 003's split), Z and P sent to every task."""
    from joblib import Parallel, delayed
    ks = np.linspace(0, len(Z), nproc + 1).astype(int)
    return sum(Parallel(n_jobs=nproc)(delayed(_exp_sum_of_grids)(Z[a:b], P) for a, b in zip(ks[:-1], ks[1:])))


def sklearn_euclidean(X, Y, nproc=2):
    from sklearn.metrics import pairwise_distances
    return pairwise_distances(X, Y, metric="euclidean", n_jobs=nproc)


def sklearn_rbf(P, nproc=2):
    from sklearn.metrics import pairwise_distances
    L = pairwise_distances(P, metric="euclidean", n_jobs=nproc)
    return L * L * L / 12 + L * L / 6


def joblib_euclidean(X, Y, nproc=2):
    return joblib_rows(sb.euclidean_rows, (X, Y), X.shape[0], nproc)


def joblib_rbf(P, nproc=2):
    return joblib_rows(sb.rbf_rows, (P,), P.shape[0], nproc)
