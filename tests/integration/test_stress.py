"""Stress (issue 4): crash storms under exact jobs, bounded respawn backoff, poison ranges beside a
correct job, drain on SIGTERM, daemon SIGKILL and restart, two instances side by side.

Every test ends with the fixture's checks: no segment of the instance left in /dev/shm, no child
process, no zombie. Nothing here asserts a duration; bounds derived from elapsed time are counts.
"""

import math
import os
import random
import signal
import time

import numpy as np
import pytest

import shmpool_harness as h
from test_faults import WorkerKiller

STORM_ROUNDS = 50
STORM_PACE = (0.003, 0.010)  # s between kills in a storm
STORM_ARGS = ["--max-attempts", "1000"]  # random kills must never fail a job as poison
MAP_N, MAP_CHUNK = 10 ** 6, 10  # map square: 10^5 ranges, 8 MB in and out
SUM_N, SUM_CHUNK = 10 ** 6, 10  # reduce sum: 10^5 ranges
POISON_ROWS = 4 * 10 ** 6  # a fault job far longer than its three deaths take
IN_FLIGHT_SLACK = 1000  # ranges a worker may hold queued when their job ends (32 each today)
DEATH_WITHIN = 1.0  # s for workers to die after their daemon was SIGKILLed (PR_SET_PDEATHSIG)


# --------------------------------------------------------------------------- crash storms

class _StormPace(random.Random):
    """WorkerKiller sleeps rand.uniform(0.020, 0.050) s between kills; a storm strikes every 3-10 ms."""

    def uniform(self, a, b):
        return super().uniform(*STORM_PACE)


def storm_killer(daemon, seed):
    killer = WorkerKiller(daemon, min_kills=10 ** 9, prefer_busy=True, seed=seed, serving_only=True)
    killer.rand = _StormPace(seed)
    return killer.start()


def wait_storm_recovered(daemon, killer, restarts_before):
    """Waits for the full pool, idle, with no killed pid listed and `restarts` grown by exactly
    the kills; returns the new restarts total."""
    want = restarts_before + killer.kills
    last = []

    def recovered():
        last[:] = daemon.workers()
        total = sum(w["restarts"] for w in last)
        assert total <= want, "restarts %d > %d (kills so far): a death nobody caused? %s" % (total, want, last)
        return (len(last) == daemon.workers_n and total == want
                and all(w["state"] == "idle" and w["pid"] not in killer.killed_pids for w in last))

    assert h.wait_until(recovered, 30.0, 0.01), "pool not recovered (want restarts %d): %s" % (want, last)
    for pid in killer.killed_pids:
        st = h.proc_stat(pid)
        assert st is None or st[1] != daemon.pid, "killed worker not reaped: %s" % h.describe_pid(pid)
    return want


def storm_round(daemon, conn, seed, kernel, inputs, params, chunk):
    """One job while a worker is SIGKILLed every 3-10 ms; returns the ended job and the killer."""
    killer = storm_killer(daemon, seed)  # sees the idle pool first: a worker serving after that is a target
    assert killer.polled.wait(30), "the killer never listed the workers"
    job = h.expect_ok(h.submit(conn, kernel, inputs, params, chunk, wait=False), "job.submit " + kernel)
    try:
        done = h.expect_ok(conn.call("job.wait", job=job["job"]), "job.wait in a crash storm")
    finally:
        killer.finish()
    h.check_job_done(done, chunk=chunk)
    assert done["ranges_done"] == done["ranges"] and done["duplicate_completions"] >= 0, done
    return done, killer


def run_storm(daemon, conn, check, kernel, inputs, params, chunk):
    """STORM_ROUNDS rounds; check(job) judges each result. Returns (kills, ranges requeued)."""
    restarts = sum(w["restarts"] for w in daemon.workers())
    kills = requeued = 0
    for rnd in range(STORM_ROUNDS):
        done, killer = storm_round(daemon, conn, 1000 + rnd, kernel, inputs, params, chunk)
        check(done)
        assert killer.kills >= 1, "round %d: the job ended before the first kill: %s" % (rnd, done)
        restarts = wait_storm_recovered(daemon, killer, restarts)
        kills += killer.kills
        requeued += done["ranges_requeued"]
    assert requeued > 0, "%d kills in %d rounds, no range requeued" % (kills, STORM_ROUNDS)
    assert conn.ok("stats")["workers"]["deaths"] == kills, "worker_deaths != %d kills" % kills
    print("%s storm: %d rounds, %d kills, %d ranges requeued" % (kernel, STORM_ROUNDS, kills, requeued))
    return kills, requeued


@pytest.mark.time_limit(400)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": STORM_ARGS}], indirect=True, ids=["storm"])
def test_crash_storm_map_square_bit_exact(daemon, workdir):
    x = h.rng(401).standard_normal(MAP_N)
    ref = np.square(x)
    c = daemon.conn()
    h.put_file(c, workdir, "x", x)

    def check(job):
        assert job["rows"] == MAP_N, job
        out = h.output_array(c, job)
        assert out.dtype == ref.dtype and np.array_equal(out.view(np.uint64), ref.view(np.uint64)), \
            "job %d: %d elements differ from NumPy" % (job["job"], int(np.count_nonzero(out != ref)))
        c.ok("dataset.delete", name=job["output"]["name"])

    run_storm(daemon, c, check, "map", {"x": "x"}, {"op": "square"}, MAP_CHUNK)
    assert np.array_equal(h.read_dataset(c.ok("dataset.info", name="x")), x), "input changed"


@pytest.mark.time_limit(400)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": STORM_ARGS}], indirect=True, ids=["storm"])
def test_crash_storm_reduce_sum_exact_and_equal(daemon, workdir):
    x = h.rng(402).standard_normal(SUM_N) + 0.25
    want = math.fsum(x.tolist())
    c = daemon.conn()
    h.put_file(c, workdir, "x", x)
    values = set()

    def check(job):
        assert job["rows"] == SUM_N and job["reduce"] == "sum", job
        assert job["value"] == pytest.approx(want, rel=1e-12, abs=0), (job, want)
        values.add(job["value"])

    run_storm(daemon, c, check, "reduce", {"x": "x"}, {"op": "sum"}, SUM_CHUNK)
    assert len(values) == 1, "the sum depends on which worker died when: %s" % sorted(values)


# --------------------------------------------------------------------------- respawn backoff

def max_deaths_per_slot(elapsed):
    """Most deaths one slot can have in `elapsed` s of a crash loop under the documented backoff:
    a worker dying within 1 s having served no range is replaced at once the first time, then
    after 10 ms, 20 ms, ... doubling up to 1 s. Deaths may start anywhere in the schedule, so the
    densest window is the schedule's start: two replacements at once, then the delays."""
    delays = [0.0, 0.0] + [min(1.0, 0.010 * 2 ** k) for k in range(64)]
    deaths, t = 1, 0.0
    for d in delays:
        t += d
        if t > elapsed:
            break
        deaths += 1
    return deaths


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--enable-test-kernels", "--max-attempts", "1000"]}],
                         indirect=True, ids=["crashloop"])
def test_crash_loop_respawn_is_bounded(daemon):
    """A range that segfaults every worker that runs it makes a crash loop; the respawn backoff
    keeps it to a few forks per second per slot (not a fork bomb), and the pool keeps trying."""
    c = daemon.conn()
    job = h.expect_ok(h.submit(c, "fault", params={"rows": 1, "at": 0, "mode": "segv"}, wait=False))

    def restarts():
        ws = daemon.workers()
        return sum(w["restarts"] for w in ws), ws

    assert h.wait_until(lambda: restarts()[0] >= 1, 30.0), "the segv range crashed no worker"
    t1, (r1, _) = time.monotonic(), restarts()
    starting_seen = False
    while time.monotonic() - t1 < 1.0:
        ws = restarts()[1]
        starting_seen = starting_seen or any(w["state"] == "starting" and w["pid"] is None for w in ws)
        time.sleep(0.02)
    r2, t2 = restarts()[0], time.monotonic()
    bound = daemon.workers_n * max_deaths_per_slot(t2 - t1)
    print("crash loop: %d deaths in %.2f s (bound %d)" % (r2 - r1, t2 - t1, bound))
    assert r2 - r1 <= bound, "%d worker deaths in %.2f s: respawn backoff not applied (bound %d)" % (
        r2 - r1, t2 - t1, bound)
    assert starting_seen, "no slot was ever seen waiting to respawn"
    assert h.wait_until(lambda: restarts()[0] > r2, 10.0), "the pool stopped replacing crashed workers"
    st = c.ok("job.status", job=job["job"])
    assert st["state"] == "running" and st["ranges_done"] == 0, st
    assert c.ok("job.cancel", job=job["job"])["state"] == "cancelled"
    h.wait_pool_idle(daemon, daemon.workers_n)
    h.still_serves(daemon)


# --------------------------------------------------------------------------- poison ranges

EXIT_TEXT = {"segv": "signal 11", "abort": "signal 6", "kill": "signal 9", "exit": "status 3"}


def map_square_job_exact(conn, job, x):
    h.check_job_done(job)
    out = h.output_array(conn, job)
    assert np.array_equal(out.view(np.uint64), np.square(x).view(np.uint64)), "map square differs from NumPy"


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--enable-test-kernels"]}], indirect=True,
                         ids=["fault"])
@pytest.mark.parametrize("mode", sorted(EXIT_TEXT))
def test_poison_range_drops_its_job_beside_a_correct_job(daemon, workdir, mode):
    """A range that kills its worker (each way) fails its job after --max-attempts (3) deaths and
    the job's other ranges are dropped, not run; a job of another connection, queued while the
    poison crashes workers, completes exactly."""
    x = h.rng(403).standard_normal(MAP_N)
    a, b = daemon.conn(), daemon.conn()
    h.put_file(b, workdir, "x", x)
    before = b.ok("stats")["ranges"]["run"]
    good = h.expect_ok(h.submit(b, "map", {"x": "x"}, {"op": "square"}, chunk=MAP_CHUNK, output="sq", wait=False))
    bad = h.expect_ok(h.submit(a, "fault", params={"rows": POISON_ROWS, "at": 0, "mode": mode}, chunk=1,
                               wait=False))
    err = h.expect_error(a.call("job.wait", job=bad["job"]), "range_failed", "job.wait of a poisoned job")
    assert "range 0 " in err["message"] and EXIT_TEXT[mode] in err["message"], err
    good = b.ok("job.wait", job=good["job"])
    map_square_job_exact(b, good, x)
    ws = h.wait_pool_idle(daemon, daemon.workers_n)
    assert sum(w["restarts"] for w in ws) == 3, "expected 3 deaths (--max-attempts): %s" % ws
    st = a.ok("job.status", job=bad["job"])
    assert st["state"] == "failed" and st["error"]["code"] == "range_failed", st
    # every range a worker finished is one completion in the daemon's total: the poisoned job's
    # are its ranges_done plus the few its workers held queued; the rest were never run
    ran = b.ok("stats")["ranges"]["run"] - before - good["ranges"] - good["duplicate_completions"]
    print("poison %s: ran %d, ranges_done %d of %d" % (mode, ran, st["ranges_done"], st["ranges"]))
    assert st["ranges_done"] <= ran <= st["ranges_done"] + IN_FLIGHT_SLACK, (ran, st)
    assert st["ranges_done"] + IN_FLIGHT_SLACK < st["ranges"], "the poisoned job ran to its end: %s" % st
    h.still_serves(daemon)


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--enable-test-kernels", "--cancel-grace", "0.5"]}],
                         indirect=True, ids=["fault"])
def test_cancel_kills_a_worker_stuck_in_a_hanging_range(daemon):
    """job.cancel of a job whose range hangs: the client gets `cancelled` at once, the stuck worker
    is killed after --cancel-grace and replaced."""
    c = daemon.conn()
    job = h.expect_ok(h.submit(c, "fault", params={"rows": 4, "at": 1, "mode": "hang"}, chunk=1, wait=False))
    waiter = daemon.conn()
    wid = waiter.request("job.wait", job=job["job"])
    holder = []
    assert h.wait_until(lambda: holder.extend(w["pid"] for w in daemon.workers()
                                              if w["job"] == job["job"] and w["range"] == [1, 2]) or holder, 10.0)
    st = c.ok("job.cancel", job=job["job"])
    assert st["state"] == "cancelled" and st["error"]["code"] == "cancelled", st
    h.expect_error(waiter.recv_reply(wid), "cancelled", "job.wait of the cancelled job")
    ws = h.wait_pool_idle(daemon, daemon.workers_n)
    assert holder[0] not in {w["pid"] for w in ws}, "the stuck worker was not replaced: %s" % ws
    assert sum(w["restarts"] for w in ws) == 1, ws
    h.still_serves(daemon)


# --------------------------------------------------------------------------- drain

def busy_workers(daemon):
    return sum(w["state"] == "busy" for w in daemon.workers())


def stop_and_check_exit(daemon, conns):
    """The daemon exits 0 by itself, closes every connection, leaves nothing."""
    rc = daemon.wait_exit()
    assert rc == 0, "shmpoold exited with %s after the drain\n%s" % (rc, daemon.stderr_tail())
    for conn in conns:
        assert conn.wait_closed(5.0), "a connection stayed open after the daemon exited"
    h.assert_no_leaks(daemon)


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--shutdown-timeout", "60"]}], indirect=True,
                         ids=["drain60"])
def test_sigterm_lets_running_and_queued_jobs_finish(daemon, workdir):
    x = h.rng(404).standard_normal(SUM_N)
    c = daemon.conn()
    h.put_file(c, workdir, "x", x)
    slow = h.expect_ok(h.submit(c, "sleep", params={"rows": 100, "ms": 10}, chunk=1, wait=False))
    waiter, submitter = daemon.conn(), daemon.conn()
    wid = waiter.request("job.wait", job=slow["job"])
    sid = submitter.request("job.submit", kernel="reduce", inputs={"x": "x"}, params={"op": "sum"}, chunk=SUM_CHUNK,
                            wait=True)
    assert submitter.ok("ping")["pong"]  # the submit is registered (queued behind the sleep job)
    assert h.wait_until(lambda: busy_workers(daemon) > 0, 10.0), "no worker busy"
    st = c.ok("job.status", job=slow["job"])
    assert st["state"] == "running" and st["ranges_done"] < st["ranges"], st
    daemon.send_signal(signal.SIGTERM)
    done = h.expect_ok(waiter.recv_reply(wid, timeout=h.STOP_TIMEOUT), "job.wait during the drain")
    h.check_job_done(done)
    summed = h.expect_ok(submitter.recv_reply(sid, timeout=h.STOP_TIMEOUT), "job.submit wait during the drain")
    h.check_job_done(summed)
    assert summed["value"] == pytest.approx(math.fsum(x.tolist()), rel=1e-12, abs=0), summed
    stop_and_check_exit(daemon, (c, waiter, submitter))


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--shutdown-timeout", "0.5"]}], indirect=True,
                         ids=["drain0.5"])
def test_sigterm_ends_a_long_job_shutting_down(daemon):
    c = daemon.conn()
    long_job = h.expect_ok(h.submit(c, "sleep", params={"rows": 2, "ms": 600000}, chunk=1, wait=False))
    waiter, submitter = daemon.conn(), daemon.conn()
    wid = waiter.request("job.wait", job=long_job["job"])
    sid = submitter.request("job.submit", kernel="sleep", params={"rows": 4, "ms": 1}, wait=True)
    assert submitter.ok("ping")["pong"]
    assert h.wait_until(lambda: busy_workers(daemon) == 2, 10.0), "the long ranges are not running"
    daemon.send_signal(signal.SIGTERM)
    h.expect_error(waiter.recv_reply(wid, timeout=h.STOP_TIMEOUT), "shutting_down", "job.wait past the drain")
    h.expect_error(submitter.recv_reply(sid, timeout=h.STOP_TIMEOUT), "shutting_down", "queued job past the drain")
    stop_and_check_exit(daemon, (c, waiter, submitter))


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--enable-test-kernels", "--max-attempts", "1000",
                                                                  "--shutdown-timeout", "0.5"]}],
                         indirect=True, ids=["crashloop"])
def test_sigterm_during_a_crash_loop(daemon):
    """Stopping while slots wait out their respawn backoff: no respawn after the stop, the waiting
    client gets `shutting_down`, the daemon exits 0 with every worker reaped."""
    c = daemon.conn()
    job = h.expect_ok(h.submit(c, "fault", params={"rows": 1, "at": 0, "mode": "segv"}, wait=False))
    waiter = daemon.conn()
    wid = waiter.request("job.wait", job=job["job"])
    assert h.wait_until(lambda: sum(w["restarts"] for w in daemon.workers()) >= 4, 30.0), "no crash loop"
    daemon.send_signal(signal.SIGTERM)
    h.expect_error(waiter.recv_reply(wid, timeout=h.STOP_TIMEOUT), "shutting_down", "job.wait of the crash loop")
    stop_and_check_exit(daemon, (c, waiter))


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--shutdown-timeout", "60"]}], indirect=True,
                         ids=["drain60"])
def test_requests_during_the_drain(daemon, workdir):
    """While it drains, the daemon refuses new work on open connections with `shutting_down`,
    still answers reads, takes no new connection, and exits 0 once its last job ends."""
    c = daemon.conn()
    h.put_inline(c, "X", np.arange(6.0))
    long_job = h.expect_ok(h.submit(c, "sleep", params={"rows": 2, "ms": 600000}, chunk=1, wait=False))
    waiter = daemon.conn()
    wid = waiter.request("job.wait", job=long_job["job"])
    assert h.wait_until(lambda: busy_workers(daemon) == 2, 10.0), "the long ranges are not running"
    daemon.send_signal(signal.SIGTERM)
    assert h.wait_until(lambda: not os.path.lexists(daemon.socket_path), 10.0), "socket kept while draining"
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        h.Conn(daemon.socket_path, timeout=5.0)
    refused = [("job.submit", {"kernel": "sleep", "inputs": {}, "params": {}, "wait": True}),
               ("dataset.put", {"name": "Y", "data": [1.0, 2.0]}),
               ("dataset.delete", {"name": "X"}),
               ("dataset.save", {"name": "X", "file": os.path.join(workdir, "x.npy")})]
    for verb, args in refused:
        h.expect_error(c.call(verb, **args), "shutting_down", verb + " during the drain")
    assert c.ok("ping")["pong"] is True
    assert c.ok("job.status", job=long_job["job"])["state"] == "running"
    assert np.array_equal(h.read_dataset(c.ok("dataset.info", name="X")), np.arange(6.0))
    assert not os.path.exists(os.path.join(workdir, "x.npy"))
    assert c.ok("job.cancel", job=long_job["job"])["state"] == "cancelled"  # its end ends the drain
    h.expect_error(waiter.recv_reply(wid, timeout=h.STOP_TIMEOUT), "cancelled")
    stop_and_check_exit(daemon, (c, waiter))


# --------------------------------------------------------------------------- daemon SIGKILL

def busy_then_kill9(daemon, conn):
    """Starts a long job, SIGKILLs the daemon while its workers run it; asserts the workers die
    within DEATH_WITHIN and the segments and socket are left behind. Returns {segment: inode}."""
    h.expect_ok(h.submit(conn, "sleep", params={"rows": 1000, "ms": 10}, chunk=1, wait=False))
    assert h.wait_until(lambda: busy_workers(daemon) > 0, 10.0), "no worker busy"
    pids = [w["pid"] for w in daemon.workers()]
    segs = h.segment_inodes(daemon.instance)
    assert len(segs) >= 3, "expected control, lock and dataset segments: %s" % segs
    daemon.kill9()
    assert h.wait_pids_gone(pids, DEATH_WITHIN), "workers outlived their SIGKILLed daemon: %s" % (
        [h.describe_pid(p) for p in pids])
    assert h.segment_inodes(daemon.instance) == segs, "a SIGKILLed daemon's segments changed?"
    assert os.path.lexists(daemon.socket_path), "the socket vanished with a SIGKILLed daemon?"
    return segs


def serves_fresh_and_exact(daemon, workdir, x, stale=None):
    """The (re)started daemon lists no dataset of a dead one, removed its stale segments (the
    lock file may stay) and computes exactly; returns its connection."""
    c = daemon.conn()
    assert c.ok("dataset.list")["datasets"] == [], "a new daemon lists datasets of a dead one"
    now = h.segment_inodes(daemon.instance)
    kept = [n for n, ino in (stale or {}).items() if now.get(n) == ino and not n.endswith(".lock")]
    assert not kept, "stale segments not removed: %s (now %s)" % (kept, sorted(now))
    h.put_file(c, workdir, "x", x)
    map_square_job_exact(c, h.run_job(c, "map", {"x": "x"}, {"op": "square"}, chunk=1000, output="sq"), x)
    return c


@pytest.mark.time_limit(200)
def test_daemon_sigkill_and_restart_rounds(daemon_factory, workdir):
    x = h.rng(405).standard_normal(10 ** 5)
    instance, sock = h.unique_instance(), os.path.join(workdir, "r.sock")
    d = daemon_factory.new(workers=2, instance=instance, socket_path=sock, label="r0")
    c = serves_fresh_and_exact(d, workdir, x)
    for rnd in range(5):
        stale = busy_then_kill9(d, c)
        d = daemon_factory.new(workers=2, instance=instance, socket_path=sock, label="r%d" % (rnd + 1))
        c = serves_fresh_and_exact(d, workdir, x, stale)


@pytest.mark.time_limit(200)
def test_two_instances_side_by_side(daemon_factory, workdir):
    """Instance A is SIGKILLed and restarted while instance A-b (A's name is a prefix of it)
    keeps serving: A-b's segments, datasets, workers and running job are untouched."""
    x = h.rng(406).standard_normal(10 ** 5)
    a = daemon_factory.new(workers=2, label="a")
    b = daemon_factory.new(workers=2, instance=a.instance + "-b", label="b")
    cb = serves_fresh_and_exact(b, workdir, x)
    sq = h.read_dataset(cb.ok("dataset.info", name="sq"))
    running = h.expect_ok(h.submit(cb, "sleep", params={"rows": 100, "ms": 10}, chunk=1, wait=False))
    b_segs, b_list = h.segment_inodes(b.instance), cb.ok("dataset.list")["datasets"]
    b_workers = {w["pid"] for w in b.workers()}

    ca = serves_fresh_and_exact(a, workdir, x)  # same dataset names as in A-b
    stale = busy_then_kill9(a, ca)
    assert cb.ok("ping")["pid"] == b.pid
    a2 = daemon_factory.new(workers=2, instance=a.instance, socket_path=a.socket_path, label="a2")
    serves_fresh_and_exact(a2, workdir, x, stale)

    assert h.segment_inodes(b.instance) == b_segs, "A's restart touched A-b's segments"
    assert cb.ok("dataset.list")["datasets"] == b_list
    assert np.array_equal(h.read_dataset(cb.ok("dataset.info", name="x")), x)
    assert np.array_equal(h.read_dataset(cb.ok("dataset.info", name="sq")), sq)
    h.check_job_done(cb.ok("job.wait", job=running["job"]))
    ws = b.workers()
    assert {w["pid"] for w in ws} == b_workers and sum(w["restarts"] for w in ws) == 0, ws
    h.still_serves(b)
