"""Two uids on one daemon (root, the tests, and `nobody` through setpriv): per-uid dataset and byte
limits with their own codes, and results read through a passed read-only descriptor (dataset.open)."""

import json
import mmap
import os
import sys
import time

import numpy as np
import pytest

import shmpool_harness as h

sys.path.insert(0, h.PY_CLIENT_DIR)
from shmpool.connection import PASSED_FD, Connection  # noqa: E402  (from the source tree)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")


def shared_daemon(daemon_factory, *args):
    """A daemon that also serves uid nobody, with its socket reachable by nobody."""
    d = daemon_factory.new(extra_args=["--allow-users", "nobody"] + list(args))
    h.share_with_everyone(d)
    return d


def share_with_nobody(conn, name):
    """Root's dataset becomes readable by nobody, who names it "0/<name>" (docs/protocol.md)."""
    conn.ok("dataset.share", **{"name": name, "with": ["nobody"]})


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
    share_with_nobody(c, "r1")
    share_with_nobody(c, "r2")

    # nobody is served meanwhile, under its own count; its job on root's (shared) input is nobody's
    replies = h.requests_as_nobody(d, [put_request("n1", a), map_request("0/r1", "n_exp"), put_request("n3", a),
                                       map_request("0/r2", "n4")])
    h.expect_ok(replies[0])
    assert h.expect_ok(replies[1])["output"]["shape"] == [6]
    h.expect_error(replies[2], "uid_dataset_limit")
    h.expect_error(replies[3], "uid_dataset_limit")
    assert owners(c) == {"r1": 0, "r2": 0, "n1": h.NOBODY_UID, "n_exp": h.NOBODY_UID}
    np.testing.assert_allclose(h.read_dataset(c.ok("dataset.info", name="65534/n_exp")), np.exp(a), rtol=1e-15)

    # a delete gives the place back, to that uid only
    c.ok("dataset.delete", name="r2")
    h.expect_error(h.requests_as_nobody(d, [put_request("n5", a)])[0], "uid_dataset_limit")
    out = h.output_array(c, h.run_job(c, "map", {"x": "65534/n1"}, params={"op": "square"}, output="r_sq"))
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
    share_with_nobody(c, "P")

    # nobody may hold 4096 bytes of its own, whoever holds the inputs of its jobs
    replies = h.requests_as_nobody(d, [put_request("n", np.ones(512)), put_request("n2", np.ones(1)),
                                       {"verb": "dataset.delete", "name": "n"},
                                       {"verb": "job.submit", "kernel": "rbf", "inputs": {"points": "0/P"},
                                        "output": "D", "wait": True}])
    h.expect_ok(replies[0])
    h.expect_error(replies[1], "uid_bytes_limit")
    h.expect_ok(replies[2])
    h.expect_ok(replies[3])
    assert owners(c) == {"a": 0, "P": 0, "D": h.NOBODY_UID}
    h.assert_close(h.read_dataset(c.ok("dataset.info", name="65534/D")), h.ref_rbf(P), h.RBF_RTOL, "nobody's rbf")

    c.ok("dataset.delete", name="a")  # root's bytes come back when its dataset is destroyed
    h.assert_close(h.output_array(c, h.run_job(c, "rbf", {"points": "P"}, output="D2")), h.ref_rbf(P), h.RBF_RTOL,
                   "root's rbf")


# --------------------------------------------------------------------------- dataset.open

# As nobody: try the segment by name, then read the dataset through Client.get (dataset.open),
# then try to write through a descriptor from dataset.open. Prints one JSON object.
OPEN_AS_NOBODY = r"""
import errno, json, mmap, os, sys
import shmpool
from shmpool.connection import PASSED_FD, Connection

socket_path, name, segment = sys.argv[1:4]
out = {}
try:
    os.close(os.open("/dev/shm/" + segment, os.O_RDONLY))
    out["by_name"] = "opened"
except OSError as e:
    out["by_name"] = errno.errorcode[e.errno]
with shmpool.Client(socket=socket_path) as c:
    view = c.get(name)
    out["values"] = view.tolist()
    out["dtype"] = view.dtype.name
    out["writeable"] = bool(view.flags.writeable)
conn = Connection(socket_path)
reply = conn.call("dataset.open", {"name": name})
fd = reply.pop(PASSED_FD)
out["reply"] = reply
attempts = {
    "map_shared_write": lambda: mmap.mmap(fd, 8, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE),
    "write": lambda: os.write(fd, b"x"),
    "reopen_rdwr": lambda: os.close(os.open("/proc/self/fd/%d" % fd, os.O_RDWR)),
    "fchmod": lambda: os.fchmod(fd, 0o666),
}
for what, attempt in attempts.items():
    try:
        attempt()
        out[what] = "done"
    except OSError as e:
        out[what] = errno.errorcode[e.errno]
os.close(fd)
print(json.dumps(out))
"""


def open_as_nobody(daemon, name, segment):
    res = h.run_python_as_nobody(OPEN_AS_NOBODY, daemon.socket_path, name, segment)
    assert res.returncode == 0, "client as nobody failed: %s" % res.stderr
    return json.loads(res.stdout)


def test_another_uid_reads_a_0600_segment_only_through_a_read_only_descriptor(daemon_factory):
    d = shared_daemon(daemon_factory)
    c = d.conn()
    X = h.rng(11).standard_normal((300, 7))
    info = h.expect_ok(h.put_shm(c, "X", X))
    assert h.file_mode("/dev/shm/" + info["segment"]) == 0o600
    share_with_nobody(c, "X")
    got = open_as_nobody(d, "0/X", info["segment"])
    assert got["by_name"] == "EACCES", got["by_name"]
    assert got["dtype"] == "float64" and got["writeable"] is False
    np.testing.assert_array_equal(np.array(got["values"]), X)
    assert got["reply"]["ok"] is True and got["reply"]["fd"] is True, got["reply"]
    assert got["reply"]["result"]["owner_uid"] == 0 and got["reply"]["result"]["segment"] == info["segment"]
    assert (got["map_shared_write"], got["write"], got["reopen_rdwr"], got["fchmod"]) == \
        ("EACCES", "EBADF", "EACCES", "EPERM"), got
    np.testing.assert_array_equal(h.read_dataset(info), X)  # untouched
    # nobody may keep its descriptor: the segment must not become a spare for a later dataset
    c.ok("dataset.delete", name="X")
    assert h.spare_inodes(d.instance) == {} and not os.path.exists("/dev/shm/" + info["segment"])


def test_dataset_open_of_a_job_output_and_its_refusals(daemon_factory):
    d = shared_daemon(daemon_factory)
    c = d.conn()
    P = h.rng(12).standard_normal((64, 3))
    h.expect_ok(h.put_inline(c, "P", P))
    h.run_job(c, "rbf", {"points": "P"}, output="D")
    share_with_nobody(c, "D")
    got = open_as_nobody(d, "0/D", c.ok("dataset.info", name="D")["segment"])
    h.assert_close(np.array(got["values"]), h.ref_rbf(P), h.RBF_RTOL, "rbf read through dataset.open")
    h.expect_error(c.call("dataset.open", name="nosuch"), "unknown_dataset")
    blocker = h.expect_ok(h.submit(c, "sleep", params={"rows": 1000, "ms": 50}, chunk=1, wait=False))["job"]
    h.expect_ok(h.submit(c, "map", {"x": "P"}, params={"op": "exp"}, output="E", wait=False))
    h.expect_error(c.call("dataset.open", name="E"), "dataset_busy")
    c.ok("job.cancel", job=blocker)


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_descriptor_replies_wait_behind_a_full_socket_and_arrive_in_order(daemon):
    """Large dataset.get replies fill the socket while dataset.open replies queue between them:
    each descriptor still comes with its own reply, and the daemon keeps none of them."""
    c = daemon.conn()
    A = np.arange(60000, dtype=np.int64)  # a dataset.get reply of about 400 KB
    B = h.rng(13).standard_normal(1000)
    h.expect_ok(h.put_shm(c, "A", A))
    h.expect_ok(h.put_shm(c, "B", B))
    fds_before = open_fds(daemon.pid)
    conn = Connection(daemon.socket_path)
    try:
        sent = []
        for k in range(8):  # 8 descriptors at most wait unsent (the next test)
            sent.append(("A", False, conn.send("dataset.get", {"name": "A"})))
            name = "AB"[k % 2]
            sent.append((name, True, conn.send("dataset.open", {"name": name})))
        time.sleep(0.5)  # unread: the daemon's writes meet a full socket buffer
        for name, is_open, rid in sent:
            reply = conn.receive(rid, time.monotonic() + h.REPLY_TIMEOUT)
            assert reply["ok"] is True, reply
            want = A if name == "A" else B
            if not is_open:
                np.testing.assert_array_equal(np.array(reply["result"]["data"]), want)
                continue
            assert reply["result"]["name"] == name and reply["fd"] is True
            fd = reply.pop(PASSED_FD)
            try:
                with mmap.mmap(fd, want.nbytes, mmap.MAP_SHARED, mmap.PROT_READ) as m:
                    np.testing.assert_array_equal(np.frombuffer(m, dtype=want.dtype).copy(), want)
            finally:
                os.close(fd)
    finally:
        conn.close()
    assert h.wait_until(lambda: open_fds(daemon.pid) <= fds_before, 10.0), "the daemon kept passed descriptors"


def test_a_client_that_never_reads_holds_at_most_8_descriptors(daemon):
    """Behind unread replies that fill the socket, dataset.open replies (each holding an open
    descriptor in the daemon) are capped per connection; the rest get their own code."""
    c = daemon.conn()
    h.expect_ok(h.put_shm(c, "A", np.arange(60000, dtype=np.int64)))  # a dataset.get reply of about 400 KB
    fds_before = open_fds(daemon.pid)
    slow = daemon.conn()
    gets = [slow.request("dataset.get", name="A") for _ in range(4)]
    opens = [slow.request("dataset.open", name="A") for _ in range(12)]
    assert c.ok("ping")["pong"] is True  # the others are served meanwhile
    replies = [slow.recv_reply(rid) for rid in gets + opens]
    assert all(r["ok"] for r in replies[:4])
    codes = [r["ok"] or r["error"]["code"] for r in replies[4:]]
    assert codes == [True] * 8 + ["too_many_descriptors"] * 4, codes
    assert slow.ok("dataset.open", name="A")["name"] == "A"  # usable once it reads
    assert h.wait_until(lambda: open_fds(daemon.pid) <= fds_before + 1, 10.0), "the daemon kept passed descriptors"
