"""Faults: workers SIGKILLed at random moments, SIGTERM/SIGINT/shutdown during jobs, a SIGKILLed
daemon and the restart that cleans up after it, and a second daemon on a running instance."""

import os
import random
import signal
import threading
import time

import numpy as np
import pytest

import shmpool_harness as h

MIN_KILLS = 30


class WorkerKiller:
    """A thread that SIGKILLs a random worker (pid from `workers`) every 20-50 ms, min_kills times.

    Only a pid that is alive and not a zombie right before the kill counts as a kill; nobody
    else kills workers, so each counted kill is exactly one worker death. A worker whose current
    range was already hit once is spared, so no range comes near the daemon's poison-range limit
    (that limit has its own test). With serving_only, only a worker that has completed a range
    since the killer first saw its pid is a target: a storm faster than a worker starts (ASan
    builds start slowly) would otherwise kill every replacement before it serves, which the
    daemon rightly answers with its crash-loop backoff, and no job could progress."""

    def __init__(self, daemon, min_kills=MIN_KILLS, prefer_busy=False, seed=1, serving_only=False):
        self.daemon = daemon
        self.min_kills = min_kills
        self.prefer_busy = prefer_busy
        self.serving_only = serving_only
        self.first_done = {}  # pid -> its slot's ranges_done when first seen
        self.polled = threading.Event()  # set once the pool was seen (serving_only: the baseline)
        self.rand = random.Random(seed)
        self.kills = 0
        self.busy_kills = 0
        self.killed_pids = set()
        self.hit_ranges = set()
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def done(self):
        return self.kills >= self.min_kills

    def _run(self):
        try:
            with h.Conn(self.daemon.socket_path, timeout=30, observer=self.daemon._observe) as c:
                while not self.stop.is_set() and self.kills < self.min_kills:
                    ws = [w for w in c.ok("workers")["workers"]
                          if w.get("pid") and self._range(w) not in self.hit_ranges and self._serving(w)]
                    self.polled.set()
                    busy = [w for w in ws if w["state"] == "busy"]
                    pool = busy if (self.prefer_busy and busy) else ws
                    if pool:
                        w = self.rand.choice(pool)
                        st = h.proc_stat(w["pid"])
                        if st and st[0] != "Z" and st[1] == self.daemon.pid and w["pid"] not in self.killed_pids:
                            os.kill(w["pid"], signal.SIGKILL)
                            self.killed_pids.add(w["pid"])
                            if w.get("range") is not None:
                                self.hit_ranges.add(self._range(w))
                            self.kills += 1
                            self.busy_kills += w["state"] == "busy"
                    time.sleep(self.rand.uniform(0.020, 0.050))
        except BaseException as e:  # reported by finish()
            self.error = e

    def _serving(self, w):
        first = self.first_done.setdefault(w["pid"], w["ranges_done"])
        return not self.serving_only or w["ranges_done"] > first

    @staticmethod
    def _range(w):
        return (w.get("job"), tuple(w["range"]) if isinstance(w.get("range"), list) else None)

    def finish(self, timeout=30):
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "killer thread hung"
        if self.error:
            raise AssertionError("killer thread failed: %r" % (self.error,))


def check_pool_recovered(daemon, initial_pids, killer, n):
    ws = h.wait_pool_idle(daemon, n)
    pids = {w["pid"] for w in ws}
    assert not pids & killer.killed_pids, "a killed pid is still listed as a worker: %s" % ws
    assert pids != set(initial_pids), "no worker was respawned: %s" % ws
    for pid in killer.killed_pids:
        st = h.proc_stat(pid)
        assert st is None or st[1] != daemon.pid, "killed worker not reaped: %s" % h.describe_pid(pid)
    assert sum(w["restarts"] for w in ws) == killer.kills, \
        "restarts %s != %d workers killed" % ([w["restarts"] for w in ws], killer.kills)


@pytest.mark.time_limit(600)
@pytest.mark.parametrize("daemon", [2, 3], indirect=True, ids=["w2", "w3"])
def test_kill_workers_during_jobs_results_exact(daemon, workdir):
    r = h.rng(42)
    X = r.standard_normal((1200, 96))
    Y = r.standard_normal((900, 96))
    P = r.standard_normal((900, 3))
    c = daemon.conn()
    h.put_file(c, workdir, "X", X)
    h.put_file(c, workdir, "Y", Y)
    h.put_file(c, workdir, "P", P)
    ref_e, ref_r = h.ref_euclidean(X, Y), h.ref_rbf(P)
    initial = [w["pid"] for w in daemon.workers()]

    killer = WorkerKiller(daemon, seed=7).start()
    jobs_checked = 0
    requeued = 0
    pending = []
    n = 0
    try:
        # keep two jobs queued ahead, so workers are busy whenever the killer strikes
        while not killer.done() or pending:
            while len(pending) < 2 and not killer.done():
                kernel = ("euclidean", "rbf")[n % 2]
                inputs = {"X": "X", "Y": "Y"} if kernel == "euclidean" else {"points": "P"}
                pending.append(h.expect_ok(h.submit(c, kernel, inputs, chunk=1 + n % 4, output="out%d" % n,
                                                    wait=False)))
                n += 1
            job = pending.pop(0)
            done = h.expect_ok(c.call("job.wait", job=job["job"]), "job.wait under worker kills")
            h.check_job_done(done)
            requeued += done["ranges_requeued"]
            ref = ref_e if done["kernel"] == "euclidean" else ref_r
            h.assert_close(h.output_array(c, done), ref, h.EUCLID_RTOL if done["kernel"] == "euclidean"
                           else h.RBF_RTOL, "job %d (%s) under worker kills" % (done["job"], done["kernel"]))
            c.ok("dataset.delete", name=done["output"]["name"])
            jobs_checked += 1
            if not killer.thread.is_alive():
                break
    finally:
        killer.finish()
    assert killer.kills >= MIN_KILLS, "only %d kills" % killer.kills
    check_pool_recovered(daemon, initial, killer, daemon.workers_n)
    print("jobs %d, kills %d (busy %d), ranges requeued %d" % (jobs_checked, killer.kills, killer.busy_kills,
                                                                requeued))
    # inputs untouched, and a last job exact with no kills
    for name, arr in (("X", X), ("Y", Y), ("P", P)):
        assert np.array_equal(h.read_dataset(c.ok("dataset.info", name=name)), arr), name
    job = h.run_job(c, "euclidean", {"X": "X", "Y": "Y"}, chunk=3, output="final")
    assert job["ranges_requeued"] == 0 and job["duplicate_completions"] == 0, job
    h.assert_close(h.output_array(c, job), ref_e, h.EUCLID_RTOL, "after the kills")


@pytest.mark.time_limit(600)
def test_kill_workers_during_put_and_save(daemon, workdir):
    """The copies behind dataset.put (file, shm) and dataset.save run on workers; killing those
    workers does not corrupt or lose a byte."""
    big = h.rng(77).standard_normal((3000, 1000))  # 24 MB
    src = os.path.join(workdir, "big.npy")
    np.save(src, big)
    c = daemon.conn()
    initial = [w["pid"] for w in daemon.workers()]
    killer = WorkerKiller(daemon, seed=11).start()
    n = 0
    try:
        while not killer.done() and killer.thread.is_alive():
            name = "b%d" % n
            if n % 3 == 0:
                info = c.ok("dataset.put", name=name, file=src)
            elif n % 3 == 1:
                info = h.expect_ok(h.put_shm(c, name, big))
            else:
                out = os.path.join(workdir, "saved.npy")
                c.ok("dataset.save", name="b%d" % (n - 1), file=out)
                assert np.array_equal(np.load(out), big), "saved copy differs"
                c.ok("dataset.delete", name="b%d" % (n - 1))
                n += 1
                continue
            assert np.array_equal(h.read_dataset(info), big), "put copy %s differs" % name
            if n % 3 == 0:
                c.ok("dataset.delete", name=name)
            n += 1
    finally:
        killer.finish()
    check_pool_recovered(daemon, initial, killer, daemon.workers_n)


@pytest.mark.time_limit(600)
def test_kill_busy_workers_requeues_ranges(daemon):
    """Kills land while workers hold `sleep` ranges: each such range is handed out again and
    every range is accounted exactly once."""
    c = daemon.conn()
    initial = [w["pid"] for w in daemon.workers()]
    killer = WorkerKiller(daemon, prefer_busy=True, seed=3).start()
    try:
        done = h.expect_ok(h.submit(c, "sleep", params={"rows": 300, "ms": 15}, chunk=1, wait=True),
                           "sleep job under worker kills")
        while not killer.done() and killer.thread.is_alive():
            done = h.expect_ok(h.submit(c, "sleep", params={"rows": 60, "ms": 15}, chunk=1, wait=True))
    finally:
        killer.finish()
    h.check_job_done(done)
    first = c.ok("job.status", job=done["job"])
    assert first["ranges_done"] == first["ranges"], first
    assert killer.busy_kills >= 1, "no kill hit a busy worker"
    total_requeued = 0
    for jid in range(1, done["job"] + 1):
        rep = c.call("job.status", job=jid)
        if rep["ok"] and rep["result"]["kernel"] == "sleep":
            j = rep["result"]
            h.check_job_done(j)
            total_requeued += j["ranges_requeued"]
    assert total_requeued >= 1, "%d busy workers killed, no range requeued" % killer.busy_kills
    check_pool_recovered(daemon, initial, killer, daemon.workers_n)
    h.still_serves(daemon)


@pytest.mark.time_limit(120)
def test_poison_range_fails_its_job_only(daemon):
    """A range whose worker dies every time it runs fails its job (range_failed) after a bounded
    number of attempts; the daemon, the pool and other jobs live on."""
    c = daemon.conn()
    other = h.expect_ok(h.submit(c, "sleep", params={"rows": 1, "ms": 1}, wait=False))
    c.ok("job.wait", job=other["job"])
    poison = h.expect_ok(h.submit(c, "sleep", params={"rows": 1, "ms": 600000}, wait=False))
    waiter = daemon.conn()
    wid = waiter.request("job.wait", job=poison["job"])
    kills, killed = 0, set()
    deadline = time.monotonic() + 60
    while kills < 20 and time.monotonic() < deadline:
        st = c.ok("job.status", job=poison["job"])
        if st["state"] != "running" and st["state"] != "queued":
            break
        holder = [w for w in daemon.workers() if w["job"] == poison["job"] and w["range"] == [0, 1]
                  and w["pid"] not in killed and w["state"] == "busy"]
        if holder:
            pid = holder[0]["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
            kills += 1
        time.sleep(0.05)
    rep = waiter.recv_reply(wid, timeout=30)
    err = h.expect_error(rep, "range_failed", "job.wait of a poisoned job")
    st = c.ok("job.status", job=poison["job"])
    assert st["state"] == "failed" and st["error"]["code"] == "range_failed", st
    assert 2 <= kills <= 10, "job failed after %d kills of its range's worker: %s" % (kills, err)
    h.wait_pool_idle(daemon, daemon.workers_n)
    h.still_serves(daemon)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "shutdown"])
def test_stop_while_jobs_run(daemon, workdir, how):
    r = h.rng(8)
    X = r.standard_normal((400, 8))
    c = daemon.conn()
    h.put_file(c, workdir, "X", X)
    slow = h.expect_ok(h.submit(c, "sleep", params={"rows": 2000, "ms": 10}, chunk=1, wait=False))
    waiter = daemon.conn()
    wid = waiter.request("job.wait", job=slow["job"])
    submitter = daemon.conn()
    sid = submitter.request("job.submit", kernel="rbf", inputs={"points": "X"}, params={}, output="R", chunk=1,
                            wait=True)
    assert h.wait_until(lambda: any(w["state"] == "busy" for w in daemon.workers()), 10.0), "no worker busy"
    assert submitter.ok("ping")["pong"]  # the submit is registered before the stop
    if how == "shutdown":
        assert c.ok("shutdown") == {"stopping": True}
    else:
        daemon.send_signal(getattr(signal, how))
    finals = {}
    for name, conn, rid in (("job.wait", waiter, wid), ("job.submit wait", submitter, sid)):
        try:
            rep = conn.recv_reply(rid, timeout=h.STOP_TIMEOUT)
        except h.ConnectionClosed:
            raise AssertionError("%s: connection closed without a final reply" % name)
        finals[name] = rep
        if rep["ok"]:
            assert rep["result"]["state"] == "done", rep
        else:
            h.expect_error(rep, ("shutting_down", "cancelled"), name)
    rc = daemon.wait_exit()
    assert rc == 0, "shmpoold exited with %s on %s\n%s" % (rc, how, daemon.stderr_tail())
    for conn in (c, waiter, submitter):
        assert conn.wait_closed(5.0), "connection not closed after the daemon exited"
    h.assert_no_leaks(daemon)


@pytest.mark.time_limit(120)
def test_stop_while_a_long_range_runs(daemon):
    """A range that would run for minutes does not hold the daemon's exit beyond its bounded
    drain: the waiting client gets a final reply and the workers are stopped and reaped."""
    c = daemon.conn()
    job = h.expect_ok(h.submit(c, "sleep", params={"rows": 2, "ms": 600000}, chunk=1, wait=False))
    waiter = daemon.conn()
    wid = waiter.request("job.wait", job=job["job"])
    assert h.wait_until(lambda: sum(w["state"] == "busy" for w in daemon.workers()) == 2, 10.0)
    daemon.send_signal(signal.SIGTERM)
    h.expect_error(waiter.recv_reply(wid, timeout=h.STOP_TIMEOUT), ("shutting_down", "cancelled"))
    assert daemon.wait_exit() == 0
    h.assert_no_leaks(daemon)


def test_requests_after_shutdown_started(daemon):
    c = daemon.conn()
    slow = h.expect_ok(h.submit(c, "sleep", params={"rows": 400, "ms": 20}, chunk=1, wait=False))
    assert c.ok("shutdown") == {"stopping": True}
    # whatever still gets an answer on this connection says shutting_down (or the job's end)
    try:
        rep = c.call("job.submit", _timeout=h.STOP_TIMEOUT, kernel="noop", inputs={}, params={}, wait=True)
        h.expect_error(rep, "shutting_down", "job.submit after shutdown")
    except h.ConnectionClosed:
        pass
    assert daemon.wait_exit() == 0
    del slow
    h.assert_no_leaks(daemon)


def test_sigkill_daemon_then_restart_cleans_up(daemon_factory, workdir):
    d1 = daemon_factory.new(workers=2)
    r = h.rng(4)
    X = r.standard_normal((64, 5))
    c = d1.conn()
    h.put_file(c, workdir, "X", X)
    h.run_job(c, "rbf", {"points": "X"}, output="R")
    slow = h.expect_ok(h.submit(c, "sleep", params={"rows": 1000, "ms": 10}, chunk=1, wait=False))
    assert h.wait_until(lambda: any(w["state"] == "busy" for w in d1.workers()), 10.0)
    workers = [w["pid"] for w in d1.workers()]
    before = {name: os.stat("/dev/shm/" + name).st_ino for name in d1.segments()}
    assert before, "no segments to go stale"
    d1.kill9()

    def workers_gone():
        for pid in workers:
            st = h.proc_stat(pid)
            if st is None:
                continue
            if st[0] == "Z" and h.reap_if_our_zombie(pid):
                continue
            return False
        return True

    assert h.wait_until(workers_gone, h.DEATH_GRACE), "workers outlived their SIGKILLed daemon: %s" % (
        [h.describe_pid(p) for p in workers])
    stale = d1.segments()
    assert stale, "segments vanished with the daemon? (nothing stale to clean)"
    assert os.path.lexists(d1.socket_path), "the socket vanished with a SIGKILLed daemon?"
    del slow

    d2 = daemon_factory.new(workers=2, instance=d1.instance, socket_path=d1.socket_path, label="d2")
    c2 = d2.conn()
    assert c2.ok("dataset.list")["datasets"] == [], "a new daemon lists datasets of the dead one"
    now = {name: os.stat("/dev/shm/" + name).st_ino for name in d2.segments()}
    # the instance lock file may be reused (it is what tells a live daemon from a dead one)
    survivors = [n for n in now if before.get(n) == now[n] and not n.endswith(".lock")]
    assert not survivors, "stale segments of the killed daemon not removed: %s (now %s)" % (survivors, sorted(now))
    h.still_serves(d2)
    h.put_inline(c2, "X", X)
    job = h.run_job(c2, "rbf", {"points": "X"}, output="R")
    h.assert_close(h.output_array(c2, job), h.ref_rbf(X), h.RBF_RTOL, "after restart")


@pytest.mark.parametrize("same_socket", [True, False], ids=["same_socket", "other_socket"])
def test_second_daemon_same_instance_refused(daemon_factory, workdir, same_socket):
    d1 = daemon_factory.new(workers=2)
    r = h.rng(12)
    X = r.standard_normal((20, 3))
    c = d1.conn()
    info = h.expect_ok(h.put_inline(c, "X", X))
    segs = {n: os.stat("/dev/shm/" + n).st_ino for n in d1.segments()}
    sock_ino = os.stat(d1.socket_path).st_ino

    d2 = daemon_factory.new(workers=2, start=False, instance=d1.instance, label="second",
                            socket_path=d1.socket_path if same_socket else None)
    d2.expected_rc = None
    d2.spawn()
    rc = d2.wait_exit(timeout=20)
    assert rc != 0, "a second daemon on a running instance exited 0\n%s" % d2.stderr_tail()
    msg = d2.stderr_text()
    assert msg.strip(), "the refused daemon said nothing on stderr"
    assert d1.instance in msg or "already" in msg.lower() or "running" in msg.lower(), \
        "refusal message does not say why: %r" % msg
    d2.refused = True  # its leak check must not count d1's segments and socket

    # the first keeps serving, with its socket, segments and data intact
    assert os.stat(d1.socket_path).st_ino == sock_ino, "the second daemon replaced the socket"
    assert {n: os.stat("/dev/shm/" + n).st_ino for n in d1.segments()} == segs, "segments changed"
    assert c.ok("ping")["pid"] == d1.pid
    assert np.array_equal(h.read_dataset(c.ok("dataset.info", name="X")), X)
    assert c.ok("dataset.info", name="X") == info
    h.still_serves(d1)
    assert not h.instance_processes(d1.instance) or set(h.instance_processes(d1.instance)) <= set(
        [d1.pid] + [w["pid"] for w in d1.workers()]), "the refused daemon left processes"
    if not same_socket:
        assert not os.path.lexists(d2.socket_path), "the refused daemon left its socket file"


# RLIMIT_DATA counts ASan's shadow and allocator reservations: under ASan a worker with a
# 512 MiB limit cannot even start, so the limit (and the test of hitting it) is left out there.
FAULT_ARGS = ["--enable-test-kernels", "--max-attempts", "3", "--cancel-grace", "0.5"] + (
    [] if h.SANITIZED else ["--worker-memory-limit", str(512 << 20)])


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": FAULT_ARGS}], indirect=True, ids=["fault"])
@pytest.mark.parametrize("mode,code,deaths", [
    ("segv", "range_failed", 3), ("abort", "range_failed", 3), ("kill", "range_failed", 3),
    ("exit", "range_failed", 3), ("error", "range_failed", 0), ("alloc", "out_of_memory", None),
])
def test_poison_range_kinds(daemon, mode, code, deaths):
    """A range that crashes its worker (every way), fails, or outgrows the worker memory limit
    fails its job with a clear error; the rest of the daemon is untouched."""
    if mode == "alloc" and h.SANITIZED:
        pytest.skip("no worker memory limit under ASan (see FAULT_ARGS)")
    c = daemon.conn()
    params = {"rows": 40, "at": 17, "mode": mode}
    if mode == "alloc":
        params["bytes"] = 2 << 30
    job = h.submit_and_fail(c, "fault", code, params=params, chunk=2)
    ws = h.wait_pool_idle(daemon, 2)
    restarts = sum(w["restarts"] for w in ws)
    if deaths is not None:
        assert restarts == deaths, "mode %s: %d worker restarts, expected %d: %s" % (mode, restarts, deaths, ws)
    assert job["state"] == "failed" and job["error"]["code"] == code and job["error"]["message"], job
    assert job["ranges_done"] < job["ranges"], job
    h.still_serves(daemon)


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": FAULT_ARGS}], indirect=True, ids=["fault"])
def test_hanging_range_times_out(daemon):
    """A job past its timeout_s ends timed_out; the worker stuck in its range is killed after the
    cancel grace and replaced."""
    c = daemon.conn()
    before = {w["pid"] for w in daemon.workers()}
    st = h.submit_and_fail(c, "fault", "timed_out", params={"rows": 4, "at": 1, "mode": "hang"}, chunk=1,
                           timeout_s=1)
    assert st["state"] == "timed_out" and st["error"]["code"] == "timed_out", st
    ws = h.wait_pool_idle(daemon, 2)
    assert {w["pid"] for w in ws} != before, "the hanging worker was not replaced: %s" % ws
    h.still_serves(daemon)


def test_fault_kernel_needs_test_flag(daemon):
    c = daemon.conn()
    h.expect_error(h.submit(c, "fault", params={"mode": "segv"}), "unknown_kernel")
    assert "fault" not in [k["name"] for k in c.ok("kernels")["kernels"]]
    assert sum(w["restarts"] for w in daemon.workers()) == 0
