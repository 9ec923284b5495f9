"""The seeds' multiprocessing code (../shared/seeds/), ported faithfully to Python 3: the
hand-written pools shmpool replaces, timed beside it by bench/run.py and scripts/demo.py --seeds.
"""
import ctypes
import multiprocessing as mp

import numpy as np

# ---- seeds 000/002: RawArray output + JoinableQueue of (first_row, n_rows) + Process workers
# + None sentinels + queue.join() (habr 167503's mpCalcDistance, generalized to a row function)


def _rows_worker(row_fn, args, queue, arr, shape):
    D = np.reshape(np.frombuffer(arr), shape)
    while True:
        job = queue.get()
        if job is None:
            break
        start, stop = job[0], job[0] + job[1]
        D[start:stop, :] = row_fn(start, stop, *args)
        queue.task_done()
    queue.task_done()


def rawarray_queue(row_fn, args, shape, ncpu=2, jobs_per_cpu=36):
    arr = mp.RawArray(ctypes.c_double, shape[0] * shape[1])
    n_jobs = ncpu * jobs_per_cpu
    q, r = divmod(shape[0], n_jobs)
    queue = mp.JoinableQueue()
    first = 0
    for i in range(n_jobs):
        rows = q + (1 if i < r else 0)
        queue.put((first, rows))
        first += rows
    for _ in range(ncpu):
        queue.put(None)
    workers = [mp.Process(target=_rows_worker, args=(row_fn, args, queue, arr, shape)) for _ in range(ncpu)]
    for w in workers:
        w.start()
    queue.join()
    for w in workers:
        w.join()
    return np.reshape(np.frombuffer(arr), shape)


def euclidean_rows(start, stop, X, Y):  # seed 000: calculate_distance_euclidean on a block
    x = X[start:stop]
    sq = (x * x).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2.0 * (x @ Y.T)
    return np.sqrt(np.maximum(sq, 0.0))


def rbf_rows(start, stop, nodes):  # seed 002: mpCalcDistance_Worker's body, for any d
    p = nodes[start:stop]
    L = np.sqrt(((p[:, None, :] - nodes[None, :, :]) ** 2).sum(-1))
    return L * L * L / 12 + L * L / 6


# ---- seed 000: Pool.map over images


def _gaussian_one(im, sigma=1.5 ** 0.5):
    from scipy.ndimage import gaussian_filter
    return gaussian_filter(im, sigma)


def pool_map_gaussian(images, nproc=2):
    pool = mp.Pool(nproc)
    res = pool.map(_gaussian_one, images)
    pool.close()
    pool.join()
    return np.array(res)


# ---- seed 003: BigData, the naive version (the whole object, n interpolators, pickled with
# xi and yi into every apply_async, one task per k)


class BigData:
    def __init__(self, Z):
        from scipy.interpolate import RectBivariateSpline
        n = Z.shape[1]
        self.ff = [RectBivariateSpline(np.arange(n), np.arange(n), z, kx=1, ky=1) for z in Z]
        self.n = len(Z)

    def do_chunk(self, k, xi, yi):
        return np.sum(np.exp(self.ff[k].ev(xi, yi)))


def _do_chunk_wrapper(bd, k, xi, yi):
    return bd.do_chunk(k, xi, yi)


def bigdata_naive(Z, P, nproc=2):
    bd = BigData(Z)
    pool = mp.Pool(nproc)
    procs = [pool.apply_async(_do_chunk_wrapper, (bd, k, P[:, 0], P[:, 1])) for k in range(bd.n)]
    total = sum(p.get(timeout=600) for p in procs)
    pool.close()
    pool.join()
    return total


# ---- seed 003: BigData, the fixed version (data reached through a fork-inherited global,
# one apply_async per block of k; only xi, yi and the block bounds are pickled)

_BD = None


def _chunk_of_chunks(k_start, k_end, xi, yi):
    return sum(np.sum(np.exp(_BD[k].ev(xi, yi))) for k in range(k_start, k_end))


def bigdata_fixed(Z, P, nproc=2):
    from scipy.interpolate import RectBivariateSpline
    global _BD
    n = Z.shape[1]
    _BD = [RectBivariateSpline(np.arange(n), np.arange(n), z, kx=1, ky=1) for z in Z]
    pool = mp.Pool(nproc)
    ks = list(map(int, np.linspace(0, len(Z), nproc + 1)))
    procs = [pool.apply_async(_chunk_of_chunks, (ks[i], ks[i + 1], P[:, 0], P[:, 1])) for i in range(nproc)]
    total = sum(p.get(timeout=600) for p in procs)
    pool.close()
    pool.join()
    return total
