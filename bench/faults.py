#!/usr/bin/python3
"""What worker deaths cost: time from a SIGKILLed worker to its replacement serving a range
(p50/p99), the overhead a crash storm adds to a job's wall time, and the longest any ping
waited meanwhile. Starts its own daemons on private instances.

Usage: bench/faults.py [--build DIR] [--deaths N] [--storm-ms MS]
"""
import argparse
import os
import random
import signal
import threading
import time

import numpy as np

from dispatch import Conn, ROOT, start_daemon


def worker_pids(conn):
    return [w["pid"] for w in conn.call("workers")["workers"] if w["pid"]]


def death_to_service(conn, deaths):
    """One worker: kill it, then time a 1-range job, which only its replacement can serve."""
    times = []
    for _ in range(deaths):
        (pid,) = worker_pids(conn)
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        conn.call("job.submit", kernel="noop", wait=True)
        times.append(time.perf_counter() - t0)
        time.sleep(0.002)  # let the replacement be "old" again, as after a real fault
    return np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3


def storm_job(conn, path, storm_ms, ranges):
    """Wall time of a sleep job (ranges x 1 ms) with a worker SIGKILLed every storm_ms."""
    stop = threading.Event()
    ping_max = [0.0]

    def killer():
        c = Conn(path)
        while not stop.wait(storm_ms / 1000):
            pids = worker_pids(c)
            if pids:
                try:
                    os.kill(random.choice(pids), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def pinger():
        c = Conn(path)
        while not stop.is_set():
            t0 = time.perf_counter()
            c.call("ping")
            ping_max[0] = max(ping_max[0], time.perf_counter() - t0)
            time.sleep(0.001)

    threads = [threading.Thread(target=killer), threading.Thread(target=pinger)] if storm_ms else []
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    job = conn.call("job.submit", kernel="sleep", params={"rows": ranges, "ms": 1}, chunk=1, wait=True)
    wall = time.perf_counter() - t0
    stop.set()
    for t in threads:
        t.join()
    assert job["ranges_done"] == ranges
    return wall, job["ranges_requeued"], ping_max[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--deaths", type=int, default=200)
    ap.add_argument("--storm-ms", type=float, default=20)
    ap.add_argument("--ranges", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    with start_daemon(a.build, 1, ["--max-attempts", "1000"]) as (conn, _):
        p50, p99 = death_to_service(conn, a.deaths)
    with start_daemon(a.build, os.cpu_count(), ["--max-attempts", "1000"]) as (conn, path):
        calm = [storm_job(conn, path, 0, a.ranges)[0] for _ in range(a.repeat)]
        storms = [storm_job(conn, path, a.storm_ms, a.ranges) for _ in range(a.repeat)]
    calm_s, storm_s = float(np.median(calm)), float(np.median([s[0] for s in storms]))
    print(f"cores {os.cpu_count()}")
    print(f"worker death -> replacement serves a range   p50 {p50:.2f} ms   p99 {p99:.2f} ms   ({a.deaths} deaths, 1 worker)")
    print(f"sleep job {a.ranges} x 1 ms, {os.cpu_count()} workers: calm {calm_s:.3f} s, "
          f"a worker SIGKILLed every {a.storm_ms:g} ms {storm_s:.3f} s "
          f"(+{100 * (storm_s / calm_s - 1):.1f} %, median of {a.repeat}; "
          f"{int(np.median([s[1] for s in storms]))} ranges requeued per job)")
    print(f"longest ping during the storms: {max(s[2] for s in storms) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
