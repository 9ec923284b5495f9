"""The shmpool side of the benchmarks: a real shmpoold on a private instance (started, fed and
stopped through the integration harness, checked for leaks after), and what is timed through
its socket: round trips, noop dispatch, per-range cost beside input size, seed workload jobs,
and the PSS of the daemon and its workers.
"""
import contextlib
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import shmpool_harness as h  # noqa: E402
from dispatch import Conn  # noqa: E402  the lean client for timed calls
from measure import PssPeak, latencies_us, summary  # noqa: E402


@contextlib.contextmanager
def daemon(workdir, workers, extra_args=()):
    """A shmpoold with `workers` workers; stopped with SIGTERM after, and checked: no process,
    segment or socket of its instance left."""
    d = h.Daemon(workdir, workers=workers, extra_args=["--log-level", "error", *extra_args], label="bench%d" % workers)
    try:
        d.start()
        yield d
    finally:
        if d.proc is not None and d.running():
            rc = d.stop()
            if rc != 0:
                raise RuntimeError("shmpoold exited with %s\n%s" % (rc, d.stderr_tail()))
            h.assert_no_leaks(d)
        h.cleanup_instance(d)


def put(d, name, arr):
    with d.conn() as c:
        return h.expect_ok(h.put_shm(c, name, arr), "dataset.put " + name)


def delete(d, name):
    with d.conn() as c:
        c.ok("dataset.delete", name=name)


def submit(conn, kernel, inputs=None, params=None, chunk=None, output=None):
    args = {"kernel": kernel, "inputs": inputs or {}, "params": params or {}, "wait": True}
    if chunk is not None:
        args["chunk"] = chunk
    if output is not None:
        args["output"] = output
    return conn.call("job.submit", **args)


# ---- dispatch

def ping_round_trip(d, rounds, warmup):
    """`ping` through the socket: the daemon's loop alone, no worker."""
    conn = Conn(d.socket_path)
    return latencies_us(lambda: conn.call("ping"), rounds, warmup)


def tiny_round_trip(d, rounds, warmup):
    conn = Conn(d.socket_path)
    return latencies_us(lambda: submit(conn, "noop"), rounds, warmup)


def per_range_us(d, kernel, rows, chunk, repeat, inputs=None):
    """µs per range of a `kernel` job over `rows` rows in ranges of `chunk` (noop/noop_input)."""
    conn = Conn(d.socket_path)
    times = []
    for i in range(repeat + 1):  # the first run warms up
        t0 = time.perf_counter()
        job = submit(conn, kernel, inputs, {"rows": rows}, chunk)
        wall = time.perf_counter() - t0
        if i:
            times.append(wall / job["ranges"] * 1e6)
    return summary(times)


# ---- seed workloads

def job_walls(d, kernel, inputs, params, repeat, warmup=True):
    """Wall times (client submit to reply, output left in shared memory) of a job; the output
    is deleted after each run, untimed, unseen by the client (a job reply does not name its
    segment), so the next run writes into its pages as a pipeline's next stage would; the last
    output alone is mapped for the checksum. Returns (summary, the last output's checksum)."""
    conn = Conn(d.socket_path)
    times, job = [], None
    for i in range(repeat + (1 if warmup else 0)):
        if job is not None:
            discard_output(d, job)
        t0 = time.perf_counter()
        job = submit(conn, kernel, inputs, params)
        wall = time.perf_counter() - t0
        if i or not warmup:
            times.append(wall)
    return summary(times), output_checksum(d, job)


def discard_output(d, job):
    if job.get("output"):
        delete(d, job["output"]["name"])


def output_checksum(d, job):
    """The reduced value, or the output's sum read by mapping its segment (dataset.info names
    it); the output is deleted after."""
    if job.get("value") is not None:
        return float(job["value"])
    with d.conn() as c:
        info = c.ok("dataset.info", name=job["output"]["name"])
    view = np.memmap("/dev/shm/" + info["segment"], dtype=info["dtype"], mode="r", shape=tuple(info["shape"]))
    total = float(np.sum(view, dtype=np.float64))
    view._mmap.close()
    del view
    delete(d, info["name"])
    return total


# ---- memory

def pss_during_reduce(d, name, repeat):
    """Peak PSS (bytes) of the daemon and its workers while `reduce sum` reads dataset `name`
    with all workers, once per repetition."""
    conn = Conn(d.socket_path)
    pids = [d.pid] + [w["pid"] for w in d.workers() if w["pid"]]
    peaks = []
    for _ in range(repeat):
        with PssPeak(lambda: pids) as peak:
            submit(conn, "reduce", {"x": name}, {"op": "sum"}, chunk=1 << 16)
        peaks.append(peak.peak)
    return peaks
