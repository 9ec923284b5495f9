"""The Python side of the dispatch, input-size and memory measurements: multiprocessing.Pool
(round trip, map, an array pickled per task or inherited through fork or in
multiprocessing.shared_memory) and dask.distributed's LocalCluster.
"""
import multiprocessing as mp
import os
import time
from multiprocessing import shared_memory

import numpy as np

from measure import PssPeak, latencies_us, pss_bytes, summary

_ARR = None  # the fork-inherited array: set before the pool forks


def _noop(_=None):
    return None


def _ignore_array(arr):  # a task that receives an array (pickled) and does nothing with it
    return None


def _sum_rows(args):  # a task that receives the whole array (pickled) and sums its share
    arr, a, b = args
    return float(arr[a:b].sum())


def _sum_forked(bounds):
    return float(_ARR[bounds[0]:bounds[1]].sum())


def _sum_shared(args):
    name, n, a, b = args
    shm = shared_memory.SharedMemory(name=name)
    try:
        return float(np.ndarray((n,), np.float64, buffer=shm.buf)[a:b].sum())
    finally:
        shm.close()


# ---- dispatch

def pool_round_trip(nproc, rounds, warmup):
    with mp.Pool(nproc) as pool:
        return latencies_us(lambda: pool.apply_async(_noop).get(), rounds, warmup)


def pool_map_per_chunk(nproc, chunk, chunks, repeat):
    """µs per chunk of Pool.map(noop, range(chunk * chunks), chunksize=chunk)."""
    with mp.Pool(nproc) as pool:
        items = range(chunk * chunks)
        pool.map(_noop, items, chunksize=chunk)  # warm-up
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            pool.map(_noop, items, chunksize=chunk)
            times.append((time.perf_counter() - t0) / chunks * 1e6)
    return summary(times)


def dask_dispatch(nproc, rounds, tasks, repeat):
    """dask.distributed LocalCluster (nproc processes, one thread each): submit().result()
    round trip and µs per task of map() + gather()."""
    import logging
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=nproc, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        rt = latencies_us(lambda: client.submit(_noop, pure=False).result(), rounds, max(10, rounds // 10))
        times = []
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            client.gather(client.map(_noop, range(tasks), pure=False))
            times.append((time.perf_counter() - t0) / tasks * 1e6)
        return rt, summary(times[1:])


# ---- input size

def pool_per_task_pickled(arr, nproc, tasks, repeat):
    """µs per task of Pool.map over `tasks` tasks that each receive arr pickled."""
    with mp.Pool(nproc) as pool:
        return _per_task(lambda: pool.map(_ignore_array, [arr] * tasks, chunksize=1), tasks, repeat)


def pool_per_task_forked(arr, nproc, tasks, repeat):
    """µs per task of Pool.map over `tasks` tasks in a pool forked after arr was made global."""
    global _ARR
    _ARR = arr
    try:
        with mp.Pool(nproc) as pool:
            return _per_task(lambda: pool.map(_noop, range(tasks), chunksize=1), tasks, repeat)
    finally:
        _ARR = None


def _per_task(run, tasks, repeat):
    run()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) / tasks * 1e6)
    return summary(times)


# ---- memory: peak PSS of this process (less its PSS before the array existed) and the pool

def _halves(n, nproc):
    b = np.linspace(0, n, nproc + 1).astype(int)
    return [(int(x), int(y)) for x, y in zip(b[:-1], b[1:])]


def _pool_peak(pool, run, base):
    pids = [os.getpid()] + [p.pid for p in pool._pool]
    with PssPeak(lambda: pids) as peak:
        run()
    return peak.peak - base


def pss_pickled(n, nproc, repeat):
    base = pss_bytes(os.getpid())
    arr = np.full(n, 1.0)
    with mp.Pool(nproc) as pool:
        return [_pool_peak(pool, lambda: pool.map(_sum_rows, [(arr, a, b) for a, b in _halves(n, nproc)], chunksize=1),
                           base) for _ in range(repeat)]


def pss_forked(n, nproc, repeat):
    global _ARR
    base = pss_bytes(os.getpid())
    _ARR = np.full(n, 1.0)
    try:
        with mp.Pool(nproc) as pool:
            return [_pool_peak(pool, lambda: pool.map(_sum_forked, _halves(n, nproc), chunksize=1), base)
                    for _ in range(repeat)]
    finally:
        _ARR = None


def pss_shared_memory(n, nproc, repeat):
    base = pss_bytes(os.getpid())
    shm = shared_memory.SharedMemory(create=True, size=n * 8)
    try:
        arr = np.ndarray((n,), np.float64, buffer=shm.buf)
        arr[:] = 1.0
        with mp.Pool(nproc) as pool:
            work = [(shm.name, n, a, b) for a, b in _halves(n, nproc)]
            out = [_pool_peak(pool, lambda: pool.map(_sum_shared, work, chunksize=1), base) for _ in range(repeat)]
        del arr
        return out
    finally:
        shm.close()
        shm.unlink()
