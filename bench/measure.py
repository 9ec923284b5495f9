"""How bench/run.py measures: a warm-up, then repeated wall times summarized as median and
min-max; latency percentiles; the machine's own limits (the wake-up floor of two processes
ping-ponging a byte; how well it runs nproc processes at once, computing in cache or copying
through memory); the proportional set size (PSS) of a set of processes; and the cost of fresh shared-memory
pages, the floor under any job that writes a new output.
"""
import multiprocessing as mp
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


def wakeup_floor_us(rounds, warmup_rounds):
    """p50/p99 of one byte sent to a forked process over a pipe and sent back on another: two
    wake-ups of a blocked process, the least any round trip between processes costs here. A
    tiny job takes four (client → daemon → worker → daemon → client)."""
    from_parent, to_child = os.pipe()
    from_child, to_parent = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(to_child)
        os.close(from_child)
        while os.read(from_parent, 1) == b"x":
            os.write(to_parent, b"x")
        os._exit(0)
    os.close(from_parent)
    os.close(to_parent)
    try:
        return latencies_us(lambda: (os.write(to_child, b"x"), os.read(from_child, 1)), rounds, warmup_rounds)
    finally:
        os.close(to_child)  # the child reads EOF and exits
        os.waitpid(pid, 0)
        os.close(from_child)


def _in_cache_compute(size, rounds):
    a = np.random.default_rng(0).random(size // 8)
    b = np.empty_like(a)
    for _ in range(rounds):
        np.sqrt(a, out=b)
        np.multiply(b, a, out=b)
        np.add(b, 1.0, out=b)


def _memory_copy(size, rounds):
    src, dst = np.ones(size // 8), np.empty(size // 8)
    for _ in range(rounds):
        np.copyto(dst, src)


# A probe: a function of (bytes, rounds), the bytes of its data and the rounds it runs.
CEILING_PROBES = {"compute": (_in_cache_compute, 16 << 10), "memory": (_memory_copy, 128 << 20)}


def _probe_child(probe, size, rounds, start, times):
    fn = CEILING_PROBES[probe][0]
    fn(size, 1)  # touch the data before the clock starts
    start.wait()
    t0 = time.perf_counter()
    fn(size, rounds)
    times.put(time.perf_counter() - t0)


def _probe_seconds(probe, nproc, size, rounds):
    """The slowest of `nproc` forked processes running the probe at the same moment."""
    ctx = mp.get_context("fork")
    start, times = ctx.Barrier(nproc), ctx.Queue()
    procs = [ctx.Process(target=_probe_child, args=(probe, size, rounds, start, times)) for _ in range(nproc)]
    for p in procs:
        p.start()
    slowest = max(times.get() for _ in procs)
    for p in procs:
        p.join()
    return slowest


def parallel_ceiling(probe, nproc, repeat, rounds):
    """How well the machine runs `nproc` processes at once: the time of one process alone over
    the time of the slowest of nproc running the same work together (1.0: perfect; a job's
    parallel efficiency cannot beat this for work of the probe's kind). Probes: "compute"
    (vector math on 16 KiB, in L1) and "memory" (copying 128 MiB, beyond any cache)."""
    size = CEILING_PROBES[probe][1]
    ratios = [_probe_seconds(probe, 1, size, rounds) / _probe_seconds(probe, nproc, size, rounds)
              for _ in range(repeat)]
    return summary(ratios)


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


def mapped_pss_bytes(pid, holds_input):
    """The summed PSS of the process's mappings whose path satisfies holds_input(path), from
    /proc/PID/smaps (0 when it has gone). A shared file mapped by n processes counts 1/n of
    each resident page in each, so the sum over all processes is the pages once."""
    total, counting = 0, False
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                head = line.split(None, 5)
                if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):  # a mapping's header
                    counting = len(head) == 6 and holds_input(head[5].strip())
                elif counting and head[0] == "Pss:":
                    total += int(head[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def descendants(pid):
    """The pids of every living process below `pid` (children, their children, ...)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


class PssPeak:
    """Samples the summed PSS of pids() every `interval` s in a thread while the `with` block
    runs; .peak is the largest sum seen. With holds_input (a predicate on a mapping's path),
    also .mapped_peak: the largest sum of those mappings' PSS (mapped_pss_bytes) over pids().
    Each sample reads the processes forward then backward and halves the sum: a shared page a
    process maps between two reads counts as much too much one way as too little the other, so
    pages changing hands (processes touching a shared input) do not inflate the peak."""

    def __init__(self, pids, interval=0.005, holds_input=None):
        self.pids, self.interval, self.peak = pids, interval, 0
        self.holds_input, self.mapped_peak = holds_input, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    @staticmethod
    def _balanced(pids, pss):
        return (sum(pss(p) for p in pids) + sum(pss(p) for p in reversed(pids))) // 2

    def _sample(self):
        while True:
            pids = self.pids()
            self.peak = max(self.peak, self._balanced(pids, pss_bytes))
            if self.holds_input is not None:
                mapped = self._balanced(pids, lambda p: mapped_pss_bytes(p, self.holds_input))
                self.mapped_peak = max(self.mapped_peak, mapped)
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
