"""How bench/run.py measures: a warm-up, then repeated wall times summarized as median and
min-max; latency percentiles; the proportional set size (PSS) of a set of processes; and the
cost of fresh shared-memory pages, the floor under any job that writes a new output.
"""
import os
import threading
import time

import numpy as np


def summary(samples):
    """{median, min, max, n} of a list of numbers."""
    a = np.asarray(samples, dtype=float)
    return {"median": float(np.median(a)), "min": float(a.min()), "max": float(a.max()), "n": int(a.size)}


def timed(fn, repeat, warmup=True):
    """(summary of the wall times of fn() over `repeat` runs, the last run's result), after one
    untimed warm-up run unless warmup=False (the caller warmed fn up, e.g. at a smaller size)."""
    if warmup:
        fn()
    times, result = [], None
    for _ in range(repeat):
        result = None  # free the previous result before the next run
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return summary(times), result


def latencies_us(fn, rounds, warmup_rounds):
    """p50 and p99 in microseconds of `rounds` calls of fn(), after `warmup_rounds` calls."""
    for _ in range(warmup_rounds):
        fn()
    t = np.empty(rounds)
    for i in range(rounds):
        t0 = time.perf_counter()
        fn()
        t[i] = time.perf_counter() - t0
    return {"p50": float(np.percentile(t, 50) * 1e6), "p99": float(np.percentile(t, 99) * 1e6), "n": rounds}


def pss_bytes(pid):
    """The process's PSS from /proc/PID/smaps_rollup (0 when it has gone)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class PssPeak:
    """Samples the summed PSS of pids() every `interval` s in a thread while the `with` block
    runs; .peak is the largest sum seen."""

    def __init__(self, pids, interval=0.005):
        self.pids, self.interval, self.peak = pids, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self):
        while True:
            self.peak = max(self.peak, sum(pss_bytes(p) for p in self.pids()))
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def fresh_pages(nbytes, repeat):
    """Wall times of allocating (zeroed) and then freeing `nbytes` of fresh tmpfs pages in
    /dev/shm from one process: posix_fallocate on a new file, then unlink. A fresh output
    costs at least this, whoever writes it."""
    path = "/dev/shm/shmpool-bench-pages.%d" % os.getpid()

    def once():
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.posix_fallocate(fd, 0, nbytes)
        finally:
            os.close(fd)
            os.unlink(path)
    return timed(once, repeat)[0]
