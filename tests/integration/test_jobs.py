"""Jobs: concurrent clients, asynchronous submit/status/wait, cancel, pipelined requests, ids."""

import contextlib
import os
import threading
import time

import numpy as np
import pytest

import shmpool_harness as h


def test_concurrent_clients(daemon, workdir):
    n_clients = 6
    barrier = threading.Barrier(n_clients, timeout=60)

    def client(i):
        def body():
            r = h.rng(100 + i)
            X = r.standard_normal((40 + 13 * i, 3 + i))
            Y = r.standard_normal((25 + 7 * i, 3 + i))
            with daemon.conn() as c:
                h.put_any(c, workdir, "X%d" % i, X, ("file", "shm", "inline")[i % 3])
                h.put_any(c, workdir, "Y%d" % i, Y, ("inline", "file", "shm")[i % 3])
                barrier.wait()
                for rep in range(3):
                    job = h.run_job(c, "euclidean", {"X": "X%d" % i, "Y": "Y%d" % i}, chunk=1 + (i + rep) % 5,
                                    output="D%d.%d" % (i, rep))
                    h.assert_close(h.output_array(c, job), h.ref_euclidean(X, Y), h.EUCLID_RTOL, "client %d" % i)
                    job = h.run_job(c, "rbf", {"points": "X%d" % i}, chunk=None if rep == 0 else rep + i)
                    h.assert_close(h.output_array(c, job), h.ref_rbf(X), h.RBF_RTOL, "client %d rbf" % i)
                    c.ok("dataset.delete", name=job["output"]["name"])
        return body

    h.run_threads([client(i) for i in range(n_clients)])


def test_submit_nowait_status_wait(daemon):
    c = daemon.conn()
    job = h.expect_ok(h.submit(c, "sleep", params={"rows": 40, "ms": 25}, chunk=1, wait=False))
    jid = job["job"]
    assert isinstance(jid, int) and job["kernel"] == "sleep", job
    assert job["state"] in ("queued", "running", "done"), job
    assert job["ranges"] == 40 and job["rows"] == 40 and job["chunk"] == 1, job
    st = c.ok("job.status", job=jid)
    assert st["job"] == jid and st["state"] in ("queued", "running", "done"), st
    assert 0 <= st["ranges_done"] <= st["ranges"] == 40, st
    # a second connection waits on the same job
    with daemon.conn() as c2:
        done2 = c2.ok("job.wait", job=jid)
    done = c.ok("job.wait", job=jid)
    for d in (done, done2):
        h.check_job_done(d, rows=40, chunk=1)
        assert d["job"] == jid
    assert c.ok("job.status", job=jid)["state"] == "done"
    assert c.ok("job.wait", job=jid)["state"] == "done"  # waiting on an ended job answers at once


def test_unknown_job(daemon):
    c = daemon.conn()
    for verb in ("job.status", "job.wait", "job.cancel"):
        h.expect_error(c.call(verb, job=987654), "unknown_job", verb)
    assert c.ok("ping")["pong"]


def test_cancel(daemon, workdir):
    r = h.rng(5)
    X, Y = r.standard_normal((300, 16)), r.standard_normal((200, 16))
    a = daemon.conn()
    h.put_file(a, workdir, "X", X)
    h.put_file(a, workdir, "Y", Y)
    # a long sleep job holds the workers (a client waits on it with submit wait:true; its id is
    # learnt from `workers`); the euclidean job is queued behind it (oldest first)
    b = daemon.conn()
    wait_slow = b.request("job.submit", kernel="sleep", params={"rows": 3000, "ms": 10}, chunk=1, wait=True)
    busy = []
    assert h.wait_until(lambda: busy.extend(w["job"] for w in daemon.workers() if w["job"] is not None) or busy,
                        10.0), "no worker busy with the sleep job"
    slow = a.ok("job.status", job=busy[0])
    assert slow["kernel"] == "sleep", slow
    ejob = h.expect_ok(h.submit(a, "euclidean", {"X": "X", "Y": "Y"}, chunk=1, output="E", wait=False))
    # ranges go to the oldest job first: none of E's runs while the sleep job has ranges left
    assert ejob["state"] in ("queued", "running") and ejob["ranges_done"] == 0, ejob
    e = daemon.conn()
    wait_e = e.request("job.wait", job=ejob["job"])
    # the queued job's output exists, unsealed, until it is cancelled
    listed = {d["name"]: d for d in a.ok("dataset.list")["datasets"]}
    assert "E" in listed and listed["E"]["sealed"] is False, listed
    seg = listed["E"]["segment"]
    assert os.path.exists("/dev/shm/" + seg)

    cancelled = a.ok("job.cancel", job=ejob["job"])
    assert cancelled["state"] == "cancelled", cancelled
    h.expect_error(e.recv_reply(wait_e), "cancelled", "job.wait of a cancelled job")
    assert "E" not in [d["name"] for d in a.ok("dataset.list")["datasets"]]
    h.expect_error(a.call("dataset.info", name="E"), "unknown_dataset")
    assert not os.path.exists("/dev/shm/" + seg), "segment of a cancelled job's output remains"
    assert h.spare_inodes(daemon.instance) == {}, "a cancelled job's output was kept for reuse"

    cancelled = a.ok("job.cancel", job=slow["job"])
    assert cancelled["state"] == "cancelled" and cancelled["ranges_done"] < cancelled["ranges"], cancelled
    h.expect_error(b.recv_reply(wait_slow), "cancelled", "job.submit wait of a cancelled job")
    st = a.ok("job.status", job=slow["job"])
    assert st["state"] == "cancelled" and st["error"]["code"] == "cancelled", st
    h.expect_error(a.call("job.wait", job=slow["job"]), "cancelled")

    h.wait_pool_idle(daemon, 2)
    # the inputs are untouched and the pool computes again
    job = h.run_job(a, "euclidean", {"X": "X", "Y": "Y"}, output="E")
    h.assert_close(h.output_array(a, job), h.ref_euclidean(X, Y), h.EUCLID_RTOL, "after cancel")
    h.still_serves(daemon)


def test_pipelining_one_connection(daemon, workdir):
    c = daemon.conn()
    slow = {"id": "slow", "verb": "job.submit", "kernel": "sleep", "params": {"rows": 4, "ms": 400}, "chunk": 1,
            "wait": True}
    fast = {"id": "fast", "verb": "ping"}
    import json
    c.send_raw((json.dumps(slow) + "\n" + json.dumps(fast) + "\n").encode())
    first = c.recv_any()
    assert first["id"] == "fast", "a waiting job.submit held up a later ping: %s" % first
    assert h.expect_ok(first)["pong"] is True
    h.check_job_done(h.expect_ok(c.recv_reply("slow")), rows=4, chunk=1)

    # many requests in one write, and one request split into single bytes
    X = h.rng(1).standard_normal((6, 2))
    lines = [{"id": i, "verb": "ping"} for i in range(20)]
    lines.append({"id": "put", "verb": "dataset.put", "name": "P", "data": X.tolist()})
    lines.append({"id": "job", "verb": "job.submit", "kernel": "rbf", "inputs": {"points": "P"}, "output": "R",
                  "chunk": 2, "wait": True})
    c.send_raw("".join(json.dumps(l) + "\n" for l in lines).encode())
    for i in range(20):
        h.expect_ok(c.recv_reply(i))
    h.expect_ok(c.recv_reply("put"))
    job = h.expect_ok(c.recv_reply("job"))
    h.assert_close(h.output_array(c, job), h.ref_rbf(X), h.RBF_RTOL, "pipelined rbf")
    for byte in b'{"id":"split","verb":"ping"}\n':
        c.send_raw(bytes([byte]))
    assert h.expect_ok(c.recv_reply("split"))["pong"] is True

    # two waits in flight on one connection, answered in the order they end
    ids = [c.request("job.submit", kernel="sleep", params={"rows": r, "ms": 50}, chunk=1, wait=True) for r in (8, 1)]
    got = {}
    for _ in ids:
        rep = c.recv_any(h.JOB_TIMEOUT)
        got[rep["id"]] = h.expect_ok(rep)
    assert set(got) == set(ids) and all(j["state"] == "done" for j in got.values()), got


@pytest.mark.parametrize("rid", [0, -5, 1.5, "abc", "", {"a": [1, 2]}, [1, "x"], True, None, 2**53 + 1,
                                 2**64 - 1, "ünïcødé ✓"],
                         ids=lambda v: repr(v)[:20])
def test_id_echoed_as_given(daemon, rid):
    c = daemon.conn()
    c.send_obj({"id": rid, "verb": "ping"})
    rep = c.recv_any()
    assert rep["id"] == rid and type(rep["id"]) is type(rid), "sent id %r, got %r" % (rid, rep["id"])
    h.expect_ok(rep)
    c.send_obj({"verb": "ping"})
    rep = c.recv_any()
    assert rep["id"] is None and rep["ok"] is True, rep


def test_output_name_taken_and_many_queued_jobs(daemon, workdir):
    r = h.rng(9)
    X = r.standard_normal((50, 3))
    c = daemon.conn()
    h.put_inline(c, "X", X)
    h.expect_error(h.submit(c, "rbf", {"points": "X"}, output="X"), "dataset_exists")
    assert np.array_equal(h.read_dataset(c.ok("dataset.info", name="X")), X)
    jobs = [h.expect_ok(h.submit(c, "rbf", {"points": "X"}, chunk=1 + i % 7, wait=False)) for i in range(40)]
    names = {j["output"]["name"] for j in jobs}
    assert len(names) == len(jobs), "default output names collide: %s" % sorted(names)
    ref = h.ref_rbf(X)
    for j in jobs:
        done = c.ok("job.wait", job=j["job"])
        h.check_job_done(done)
        h.assert_close(h.output_array(c, done), ref, h.RBF_RTOL, "queued job %d" % j["job"])


def test_delete_datasets_of_a_queued_job(daemon, workdir):
    """Deleting a queued job's inputs either is refused or leaves the job computing from the data it
    was given; deleting its unsealed output is refused (dataset_busy) and changes nothing."""
    r = h.rng(17)
    X, Y = r.standard_normal((60, 5)), r.standard_normal((40, 5))
    c = daemon.conn()
    h.put_file(c, workdir, "X", X)
    h.expect_ok(h.put_shm(c, "Y", Y))
    slow = h.expect_ok(h.submit(c, "sleep", params={"rows": 40, "ms": 25}, chunk=1, wait=False))
    job = h.expect_ok(h.submit(c, "euclidean", {"X": "X", "Y": "Y"}, chunk=3, output="E", wait=False))
    h.expect_error(c.call("dataset.delete", name="E"), "dataset_busy")
    for name in ("X", "Y"):
        rep = c.call("dataset.delete", name=name)
        if not rep["ok"]:
            h.expect_error(rep, "dataset_busy")
    done = c.ok("job.wait", job=job["job"])
    h.check_job_done(done, rows=60, chunk=3)
    h.assert_close(h.output_array(c, done), h.ref_euclidean(X, Y), h.EUCLID_RTOL, "inputs deleted while queued")
    h.check_job_done(c.ok("job.wait", job=slow["job"]))


def test_many_connections(daemon):
    conns = [daemon.conn() for _ in range(300)]
    ids = [c.request("ping") for c in conns]
    for c, rid in zip(conns, ids):
        assert h.expect_ok(c.recv_reply(rid))["pong"] is True
    for c in conns[::2]:
        c.close()
    for c in conns[1::2]:
        assert c.ok("ping")["pong"] is True
    h.still_serves(daemon)


def test_wait_job_cancelled_when_its_client_leaves_unless_detached(daemon, workdir):
    X = h.rng(23).standard_normal((30, 4))
    c = daemon.conn()
    h.put_inline(c, "X", X)
    blocker = h.expect_ok(h.submit(c, "sleep", params={"rows": 20, "ms": 25}, chunk=1, wait=False))
    gone = daemon.conn()
    gone.request("job.submit", kernel="rbf", inputs={"points": "X"}, params={}, output="R1", wait=True)
    kept = daemon.conn()
    kept.request("job.submit", kernel="rbf", inputs={"points": "X"}, params={}, output="R2", wait=True,
                 detach=True)
    assert h.wait_until(lambda: {"R1", "R2"} <= {d["name"] for d in c.ok("dataset.list")["datasets"]}, 10.0)
    gone.close()
    kept.close()
    ids = range(blocker["job"] + 1, blocker["job"] + 3)
    assert h.wait_until(lambda: all(c.ok("job.status", job=j)["state"] not in ("queued", "running") for j in ids),
                        60.0), [c.ok("job.status", job=j) for j in ids]
    states = [c.ok("job.status", job=j) for j in ids]
    by_output = {j["output"]["name"]: j["state"] for j in states if j.get("output")}
    assert by_output.get("R2") == "done", states
    assert by_output.get("R1", "cancelled") == "cancelled", states
    names = {d["name"] for d in c.ok("dataset.list")["datasets"]}
    assert "R1" not in names, "the output of a wait job whose client left still exists: %s" % states
    assert "R2" in names, "a detached job did not complete: %s" % states
    h.assert_close(h.read_dataset(c.ok("dataset.info", name="R2")), h.ref_rbf(X), h.RBF_RTOL, "detached job")


def test_timeout_s(daemon):
    c = daemon.conn()
    st = h.submit_and_fail(c, "sleep", "timed_out", params={"rows": 200, "ms": 20}, chunk=1, timeout_s=0.3)
    assert st["state"] == "timed_out" and st["error"]["code"] == "timed_out", st
    assert st["ranges_done"] < st["ranges"], st
    job = h.run_job(c, "sleep", params={"rows": 4, "ms": 1}, timeout_s=60)
    assert job["state"] == "done"
    # a timeout too far away to matter never fires early: the job is done (or the value refused)
    for far in (1e12, 1e300, 1.7976931348623157e308):
        rep = h.submit(c, "sleep", params={"rows": 4, "ms": 20}, chunk=1, timeout_s=far)
        if rep["ok"]:
            assert rep["result"]["state"] == "done", "timeout_s=%g: %s" % (far, rep)
        else:
            h.expect_error(rep, ("bad_request", "too_large"), "timeout_s=%g" % far)
    h.wait_pool_idle(daemon, 2)
    h.still_serves(daemon)


@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--max-shm-bytes", "100000"]}], indirect=True,
                         ids=["quota"])
def test_shm_quota(daemon, workdir):
    c = daemon.conn()
    a = np.arange(7000.0)  # 56 kB
    h.expect_ok(h.put_inline(c, "A", a))
    h.expect_error(h.put_inline(c, "B", a), "no_space")
    h.expect_error(h.put_shm(c, "B", a), "no_space")
    path = os.path.join(workdir, "a.npy")
    np.save(path, a)
    h.expect_error(c.call("dataset.put", name="B", file=path), "no_space")
    h.expect_ok(h.put_inline(c, "P", np.zeros((100, 2))))
    h.expect_error(h.submit(c, "rbf", {"points": "P"}, output="R"), "no_space")  # 80 kB output
    assert sorted(d["name"] for d in c.ok("dataset.list")["datasets"]) == ["A", "P"]
    c.ok("dataset.delete", name="A")
    job = h.run_job(c, "rbf", {"points": "P"}, output="R")
    assert np.all(h.output_array(c, job) == 0.0)


@pytest.mark.parametrize("daemon", [{"workers": 2, "extra_args": ["--max-ranges-per-worker", "5"]}],
                         indirect=True, ids=["recycle5"])
def test_worker_recycling(daemon, workdir):
    """Workers replaced after a few ranges still give exact results, and none is left behind."""
    X = h.rng(31).standard_normal((90, 6))
    c = daemon.conn()
    h.put_file(c, workdir, "X", X)
    before = {w["pid"] for w in daemon.workers()}
    for rep in range(3):
        job = h.run_job(c, "rbf", {"points": "X"}, chunk=2, output="R%d" % rep)
        h.assert_close(h.output_array(c, job), h.ref_rbf(X), h.RBF_RTOL, "recycled workers")
        daemon.workers()
    ws = h.wait_pool_idle(daemon, 2)
    assert not before & {w["pid"] for w in ws}, "no worker was recycled: %s" % ws


def test_workers_let_go_of_what_a_client_passed_once_its_copy_has_ended(daemon):
    """Puts from a client's shm object and from a passed memfd are copy jobs run by the
    workers. Once a copy has ended and the client has dropped its side (unlinked the object,
    closed the memfd), no worker may still map or hold it: that would pin its pages with no
    name left to find them by. Idle workers drop a finished job's state within their 500 ms
    idle check, without waiting for another job to reuse its slot."""
    arr = np.arange(1 << 20, dtype=np.float64)  # 8 MiB: copied by the workers (up to 4 MiB the daemon copies)
    pids = [w["pid"] for w in daemon.workers() if w["pid"]]

    def held_by_workers():
        held = [line for pid in pids for line in open("/proc/%d/maps" % pid)
                if "shmpool-client." in line or "shmpool-test-npy" in line]
        for pid in pids:
            for fd in os.listdir("/proc/%d/fd" % pid):
                with contextlib.suppress(FileNotFoundError):
                    target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                    if "shmpool-client." in target or "shmpool-test-npy" in target:
                        held.append("%d: %s" % (pid, target))
        return held

    with daemon.conn() as c:
        assert h.put_shm(c, "from_shm", arr)["ok"]  # unlinks the object after the reply
        fd = h.npy_memfd(arr)
        try:
            assert h.put_fd(c, "from_memfd", fd)["ok"]
        finally:
            os.close(fd)
        deadline = time.monotonic() + 3
        while held_by_workers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not held_by_workers(), held_by_workers()
        for name in ("from_shm", "from_memfd"):
            np.testing.assert_array_equal(h.read_dataset(c.ok("dataset.info", name=name)), arr)


def test_an_idle_worker_takes_a_new_job_before_a_busy_one_queues_it(daemon):
    """Single-range jobs submitted one after another (a joblib batch each) spread across the
    pool: the second goes to the idle worker, not behind the first on the busy one."""
    c = daemon.conn()
    first = h.expect_ok(c.call("job.submit", kernel="sleep", params={"rows": 1, "ms": 20000}, wait=False))
    assert h.wait_until(lambda: any(w["job"] == first["job"] for w in daemon.workers()), 10.0), daemon.workers()
    second = h.expect_ok(c.call("job.submit", kernel="sleep", params={"rows": 1, "ms": 20000}, wait=False))
    assert h.wait_until(lambda: any(w["job"] == second["job"] for w in daemon.workers()), 5.0), (
        "the second job waits behind the first while a worker is idle: %s" % daemon.workers())
    ws = daemon.workers()
    assert sorted(w["queued"] for w in ws) == [1, 1], ws
    for j in (first, second):
        c.ok("job.cancel", job=j["job"])
    h.wait_pool_idle(daemon, 2)


def test_idle_workers_unmap_a_deleted_dataset(daemon):
    """A dataset read by both workers and then deleted leaves no mapping in them while they
    idle: its pages are freed within the idle check, not at the workers' next range."""
    pids = [w["pid"] for w in daemon.workers() if w["pid"]]
    with daemon.conn() as c:
        seg = h.expect_ok(h.put_shm(c, "gone", np.ones(1 << 18)), "put")["segment"]
        h.run_job(c, "reduce", {"x": "gone"}, params={"op": "sum"}, chunk=1 << 12)

        def mapped():
            return [pid for pid in pids for line in open("/proc/%d/maps" % pid) if seg in line]
        assert mapped(), "no worker maps the dataset it just read"
        c.ok("dataset.delete", name="gone")
        assert h.wait_until(lambda: not mapped(), 3.0), "idle workers still map %s: %s" % (seg, mapped())


def test_a_small_put_does_not_wait_for_busy_workers(daemon):
    """Up to 4 MiB from a tmpfs object (a memfd, a /dev/shm object) the daemon copies itself:
    a put (a Python job's pickled code, a joblib batch's) answers while every worker is busy
    with a long range, instead of queueing a copy job behind it."""
    c = daemon.conn()
    busy = h.expect_ok(c.call("job.submit", kernel="sleep", params={"rows": 2, "ms": 20000}, chunk=1, wait=False))
    assert h.wait_until(lambda: all(w["job"] == busy["job"] for w in daemon.workers()), 10.0), daemon.workers()
    arr = h.rng(7).standard_normal((512, 1024))  # 4 MiB exactly
    t0 = time.monotonic()
    info = h.expect_ok(h.put_shm(c, "small", arr), "put while the workers are busy")
    assert time.monotonic() - t0 < 10.0, "the put waited for a worker"
    np.testing.assert_array_equal(h.read_dataset(info), arr)
    c.ok("job.cancel", job=busy["job"])
    h.wait_pool_idle(daemon, 2)
