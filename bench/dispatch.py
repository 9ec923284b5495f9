#!/usr/bin/python3
"""Dispatch overhead of shmpoold: ping and tiny-job round trips (p50/p99) through the socket,
and `noop` ranges per second with all workers. Starts its own daemon on a private instance.

Usage: bench/dispatch.py [--build DIR] [--workers N] [--rounds N] [--ranges N]
"""
import argparse
import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")
        self.next_id = 0

    def call(self, verb, **args):
        self.next_id += 1
        self.file.write((json.dumps({"id": self.next_id, "verb": verb, **args}) + "\n").encode())
        self.file.flush()
        reply = json.loads(self.file.readline())
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
        return reply["result"]


@contextlib.contextmanager
def start_daemon(build, workers, extra=()):
    """A shmpoold on a private instance and socket; yields (Conn, socket path); stops it after."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.sock")
        inst = f"bench{os.getpid()}x{workers}"
        proc = subprocess.Popen([os.path.join(build, "shmpoold"), "--instance", inst, "--socket", path,
                                 "--workers", str(workers), "--foreground", "--log-level", "error", *extra])
        try:
            for _ in range(1000):
                if os.path.exists(path):
                    break
                time.sleep(0.01)
            conn = Conn(path)
            yield conn, path
            conn.call("shutdown")
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def round_trips(conn, rounds, verb, **args):
    times = np.empty(rounds)
    for i in range(rounds):
        t0 = time.perf_counter()
        conn.call(verb, **args)
        times[i] = time.perf_counter() - t0
    return np.percentile(times, 50) * 1e6, np.percentile(times, 99) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=5000)
    ap.add_argument("--ranges", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    with start_daemon(a.build, a.workers) as (conn, _):
        round_trips(conn, 200, "ping")  # warm-up
        ping = round_trips(conn, a.rounds, "ping")
        round_trips(conn, 200, "job.submit", kernel="noop", wait=True)
        tiny = round_trips(conn, a.rounds, "job.submit", kernel="noop", wait=True)
        rates = []
        for _ in range(a.repeat + 1):
            t0 = time.perf_counter()
            job = conn.call("job.submit", kernel="noop", params={"rows": a.ranges}, chunk=1, wait=True)
            rates.append(job["ranges_done"] / (time.perf_counter() - t0))
        rate = float(np.median(rates[1:]))
    print(f"cores {os.cpu_count()}, workers {a.workers}")
    print(f"ping round trip        p50 {ping[0]:7.1f} us   p99 {ping[1]:7.1f} us   ({a.rounds} calls)")
    print(f"tiny job round trip    p50 {tiny[0]:7.1f} us   p99 {tiny[1]:7.1f} us   (noop, 1 range, wait)")
    print(f"noop dispatch          {rate:,.0f} ranges/s = {1e6 / rate:.3f} us/range "
          f"({a.ranges} ranges of 1 row, median of {a.repeat})")


if __name__ == "__main__":
    main()
