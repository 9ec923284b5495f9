"""Jobs that feed jobs: a job whose input is another job's output not yet sealed waits in
state `waiting` and runs when it is sealed; a producer that ends otherwise fails its
dependents with dependency_failed. References are NumPy's."""

import json
import os

import numpy as np

import shmpool_harness as h

BLOCKER = {"rows": 8, "ms": 100}  # a sleep job holding both workers ~0.4 s, so producers stay unsealed


def occupy_workers(c):
    """Submits a slow sleep job; jobs submitted after it are dispatched after its ranges."""
    return h.expect_ok(h.submit(c, "sleep", params=BLOCKER, chunk=1, wait=False))


def producer_behind_blocker(c, seed, n, d):
    """X (n x d, inline), a blocker holding the workers, and an rbf job writing D from X that
    cannot finish before the blocker: D stays unsealed while the test submits on it."""
    X = h.rng(seed).standard_normal((n, d))
    h.put_inline(c, "X", X)
    blocker = occupy_workers(c)
    producer = h.expect_ok(h.submit(c, "rbf", {"points": "X"}, output="D", wait=False))
    return X, blocker, producer


def rbf_sum_reference(P):
    return float(np.sum(h.ref_rbf(P)))


def test_put_rbf_reduce_sent_back_to_back(daemon, workdir):
    """dataset.put -> rbf -> reduce, each request sent before any reply is read."""
    P = h.rng(31).standard_normal((700, 4))
    path = os.path.join(workdir, "P.npy")
    np.save(path, P)
    c = daemon.conn()
    blocker = occupy_workers(c)
    c.send_obj({"id": "put", "verb": "dataset.put", "name": "P", "file": path})
    c.send_obj({"id": "rbf", "verb": "job.submit", "kernel": "rbf", "inputs": {"points": "P"}, "output": "D",
                "chunk": 50})
    c.send_obj({"id": "sum", "verb": "job.submit", "kernel": "reduce", "inputs": {"x": "D"},
                "params": {"op": "sum"}, "wait": True})
    c.send_obj({"id": "sq", "verb": "job.submit", "kernel": "map", "inputs": {"x": "D"},
                "params": {"op": "square"}, "output": "D2"})
    rbf = h.expect_ok(c.recv_reply("rbf"))
    assert rbf["state"] == "waiting", rbf  # P is still being loaded behind the blocker
    assert rbf["ranges"] == 14 and rbf["run_s"] == 0, rbf
    total = h.expect_ok(c.recv_reply("sum", h.JOB_TIMEOUT))
    h.check_job_done(total)
    ref = rbf_sum_reference(P)
    assert abs(total["value"] - ref) <= 1e-12 * abs(ref), (total["value"], ref)
    h.expect_ok(c.recv_reply("put"))
    square = c.ok("job.wait", job=h.expect_ok(c.recv_reply("sq"))["job"])
    h.check_job_done(square)
    D = h.ref_rbf(P)
    h.assert_close(h.output_array(c, c.ok("job.status", job=rbf["job"])), D, h.RBF_RTOL, "rbf of a waited input")
    h.assert_close(h.output_array(c, square), D * D, 1e-12, "square of a waited input")
    h.check_job_done(c.ok("job.wait", job=blocker["job"]))


def test_cancelled_producer_fails_the_chain(daemon):
    c = daemon.conn()
    _, blocker, producer = producer_behind_blocker(c, 32, 40, 3)
    middle = h.expect_ok(h.submit(c, "map", {"x": "D"}, params={"op": "exp"}, output="E", wait=False))
    last = h.expect_ok(h.submit(c, "reduce", {"x": "E"}, params={"op": "max"}, wait=False))
    assert middle["state"] == "waiting" and last["state"] == "waiting", (middle, last)
    assert c.ok("stats")["jobs"]["waiting"] == 2
    c.ok("job.cancel", job=producer["job"])
    for job in (middle, last):
        err = h.expect_error(c.call("job.wait", job=job["job"]), "dependency_failed")
        assert "ended" in err["message"], err
    msg = h.expect_error(c.call("job.wait", job=middle["job"]), "dependency_failed")["message"]
    assert "job %d" % producer["job"] in msg and "cancelled" in msg and "'D'" in msg, msg
    names = sorted(d["name"] for d in c.ok("dataset.list")["datasets"])
    assert names == ["X"], names  # D and E were deleted with their jobs
    h.check_job_done(c.ok("job.wait", job=blocker["job"]))
    h.still_serves(daemon)


def test_timed_out_producer_fails_its_dependent(daemon):
    c = daemon.conn()
    producer = h.expect_ok(h.submit(c, "sleep", params={"rows": 4, "ms": 400}, chunk=1, wait=False))
    X = h.rng(33).standard_normal((30, 2))
    h.put_inline(c, "X", X)
    slow = h.expect_ok(h.submit(c, "rbf", {"points": "X"}, output="D", wait=False, timeout_s=0.05))
    dependent = h.expect_ok(h.submit(c, "reduce", {"x": "D"}, params={"op": "sum"}, wait=False))
    assert dependent["state"] == "waiting", dependent
    h.expect_error(c.call("job.wait", job=slow["job"]), "timed_out")
    msg = h.expect_error(c.call("job.wait", job=dependent["job"]), "dependency_failed")["message"]
    assert "timed_out" in msg, msg
    h.check_job_done(c.ok("job.wait", job=producer["job"]))


def test_cancelling_a_waiting_job_leaves_its_producer_alone(daemon):
    c = daemon.conn()
    X, blocker, producer = producer_behind_blocker(c, 34, 50, 3)
    waiting = h.expect_ok(h.submit(c, "map", {"x": "D"}, params={"op": "sqrt"}, output="E", wait=False))
    assert waiting["state"] == "waiting", waiting
    cancelled = c.ok("job.cancel", job=waiting["job"])
    assert cancelled["state"] == "cancelled" and cancelled["run_s"] == 0, cancelled
    done = c.ok("job.wait", job=producer["job"])
    h.check_job_done(done)
    h.assert_close(h.output_array(c, done), h.ref_rbf(X), h.RBF_RTOL, "producer of a cancelled dependent")
    assert "E" not in [d["name"] for d in c.ok("dataset.list")["datasets"]]
    h.check_job_done(c.ok("job.wait", job=blocker["job"]))


def test_pipeline_through_the_cli(daemon, workdir):
    """`shmpool run --detach` then a job on its output, without waiting in between."""
    P = h.rng(35).standard_normal((120, 3))
    np.save(os.path.join(workdir, "P.npy"), P)
    sock = daemon.socket_path
    c = daemon.conn()
    occupy_workers(c)
    res = h.run_cli(["put", os.path.join(workdir, "P.npy"), "--name", "P"], socket_path=sock)
    assert res.returncode == 0, res.stderr
    res = h.run_cli(["run", "rbf", "--in", "points=P", "--out", "D", "--detach"], socket_path=sock)
    assert res.returncode == 0 and res.stdout.strip().isdigit(), (res.stdout, res.stderr)
    res = h.run_cli(["--json", "run", "reduce", "--in", "x=D", "--param", "op=sum"], socket_path=sock)
    assert res.returncode == 0, res.stderr
    job = h.expect_ok(json.loads(res.stdout))
    ref = rbf_sum_reference(P)
    assert abs(job["value"] - ref) <= 1e-12 * abs(ref), (job["value"], ref)
