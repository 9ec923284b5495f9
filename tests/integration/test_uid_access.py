"""Two uids on one daemon (root, the tests, and `nobody` through setpriv): per-uid dataset and byte
limits with their own codes."""

import os

import numpy as np
import pytest

import shmpool_harness as h

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")


def shared_daemon(daemon_factory, *args):
    """A daemon that also serves uid nobody, with its socket reachable by nobody."""
    d = daemon_factory.new(extra_args=["--allow-users", "nobody"] + list(args))
    h.share_with_everyone(d)
    return d


def owners(conn):
    return {ds["name"]: ds["owner_uid"] for ds in conn.ok("dataset.list")["datasets"]}


def put_request(name, arr):
    return {"verb": "dataset.put", "name": name, "data": arr.tolist(), "dtype": str(arr.dtype)}


def map_request(src, out, op="exp"):
    return {"verb": "job.submit", "kernel": "map", "inputs": {"x": src}, "params": {"op": op}, "output": out,
            "wait": True}


# --------------------------------------------------------------------------- per-uid limits

def test_dataset_limit_is_per_uid_and_counts_job_outputs(daemon_factory):
    d = shared_daemon(daemon_factory, "--max-datasets-per-uid", "2")
    c = d.conn()
    a = np.arange(6.0)
    h.expect_ok(h.put_inline(c, "r1", a))
    h.expect_ok(h.put_inline(c, "r2", a))
    segments = d.segments()
    h.expect_error(h.put_inline(c, "r3", a), "uid_dataset_limit")
    h.expect_error(h.put_shm(c, "r3", a), "uid_dataset_limit")  # a copy job's output is the client's too
    h.expect_error(h.submit(c, "map", {"x": "r1"}, params={"op": "exp"}), "uid_dataset_limit")
    assert d.segments() == segments, "a refused dataset allocated a segment"

    # nobody is served meanwhile, under its own count; its job on root's input is nobody's
    replies = h.requests_as_nobody(d, [put_request("n1", a), map_request("r1", "n_exp"), put_request("n3", a),
                                       map_request("r2", "n4")])
    h.expect_ok(replies[0])
    assert h.expect_ok(replies[1])["output"]["shape"] == [6]
    h.expect_error(replies[2], "uid_dataset_limit")
    h.expect_error(replies[3], "uid_dataset_limit")
    assert owners(c) == {"r1": 0, "r2": 0, "n1": h.NOBODY_UID, "n_exp": h.NOBODY_UID}
    np.testing.assert_allclose(h.read_dataset(c.ok("dataset.info", name="n_exp")), np.exp(a), rtol=1e-15)

    # a delete gives the place back, to that uid only
    c.ok("dataset.delete", name="r2")
    h.expect_error(h.requests_as_nobody(d, [put_request("n5", a)])[0], "uid_dataset_limit")
    out = h.output_array(c, h.run_job(c, "map", {"x": "n1"}, params={"op": "square"}, output="r_sq"))
    np.testing.assert_array_equal(out, a * a)
    assert owners(c)["r_sq"] == 0


def test_byte_limit_is_per_uid_and_counts_job_outputs(daemon_factory):
    d = shared_daemon(daemon_factory, "--max-shm-bytes-per-uid", "4096")
    c = d.conn()
    h.expect_ok(h.put_inline(c, "a", np.zeros(400)))  # 3200 bytes
    h.expect_error(h.put_inline(c, "b", np.zeros(125)), "uid_bytes_limit")  # 1000 more: over 4096
    P = h.rng(5).standard_normal((20, 2))
    h.expect_ok(h.put_inline(c, "P", P))  # 320 bytes: 3520 in all
    segments = d.segments()
    h.expect_error(h.submit(c, "rbf", {"points": "P"}), "uid_bytes_limit")  # a 20x20 output: 3200 bytes
    assert d.segments() == segments, "a refused output allocated a segment"

    # nobody may hold 4096 bytes of its own, whoever holds the inputs of its jobs
    replies = h.requests_as_nobody(d, [put_request("n", np.ones(512)), put_request("n2", np.ones(1)),
                                       {"verb": "dataset.delete", "name": "n"},
                                       {"verb": "job.submit", "kernel": "rbf", "inputs": {"points": "P"},
                                        "output": "D", "wait": True}])
    h.expect_ok(replies[0])
    h.expect_error(replies[1], "uid_bytes_limit")
    h.expect_ok(replies[2])
    h.expect_ok(replies[3])
    assert owners(c) == {"a": 0, "P": 0, "D": h.NOBODY_UID}
    h.assert_close(h.read_dataset(c.ok("dataset.info", name="D")), h.ref_rbf(P), h.RBF_RTOL, "nobody's rbf")

    c.ok("dataset.delete", name="a")  # root's bytes come back when its dataset is destroyed
    h.assert_close(h.output_array(c, h.run_job(c, "rbf", {"points": "P"}, output="D2")), h.ref_rbf(P), h.RBF_RTOL,
                   "root's rbf")
