"""The single-process references the benchmarks and the demo compare shmpool with: NumPy
(one BLAS thread when the caller sets OPENBLAS_NUM_THREADS=1) and SciPy, as the seeds wrote them.
"""
import numpy as np


def numpy_euclidean(X, Y):
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2.0 * (X @ Y.T)
    return np.sqrt(np.maximum(sq, 0.0))


def numpy_rbf(P, block_bytes=1 << 28):
    """Seed 002's spCalcDistance, for any d, in row blocks so the (rows, N, d) temporary stays
    under block_bytes (the seed's one-shot broadcast needs 3.4 GB at N = 12000)."""
    n = P.shape[0]
    out = np.empty((n, n))
    step = max(1, block_bytes // (8 * n * P.shape[1]))
    for b in range(0, n, step):
        p = P[b:b + step]
        L = np.sqrt(((p[:, None, :] - P[None, :, :]) ** 2).sum(-1))
        out[b:b + step] = L * L * L / 12 + L * L / 6
    return out


def scipy_euclidean(X, Y):
    from scipy.spatial.distance import cdist
    return cdist(X, Y, "euclidean")


def scipy_gaussian(images, sigma):  # seed 000's loop, one image at a time
    from scipy.ndimage import gaussian_filter
    return np.array([gaussian_filter(im, sigma=sigma) for im in images])


def scipy_bilinear_exp_sum(Z, P):  # seed 003's BigData.do_single
    from scipy.interpolate import RectBivariateSpline
    n = Z.shape[1]
    return sum(np.sum(np.exp(RectBivariateSpline(np.arange(n), np.arange(n), z, kx=1, ky=1).ev(P[:, 0], P[:, 1])))
               for z in Z)
