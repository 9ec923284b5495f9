"""Immutable means immutable (issue #16): an array a client holds over a dataset's segment keeps
its values whatever anyone deletes or runs later, with the daemon's default settings (spares on).
A segment whose name or descriptor left the daemon is never reused; one no client saw still is."""

import mmap
import os
import sys

import numpy as np
import pytest

import shmpool_harness as h

sys.path.insert(0, os.path.join(h.REPO, "client", "python"))
import shmpool  # noqa: E402  (from the source tree)
from shmpool.connection import PASSED_FD, Connection  # noqa: E402

SHAPE = (256, 300)  # 600 KB of float64: every output below fits the others' spares


def full(value):
    return np.full(SHAPE, float(value))


def client(daemon, **kw):
    return shmpool.Client(socket=daemon.socket_path, **kw)


def square(c, src, out):
    return c.run("map", {"x": src}, params={"op": "square"}, output=out)


def assert_unchanged(held, ref, what):
    """Element-wise: the held array still shows exactly the values it had."""
    np.testing.assert_array_equal(np.asarray(held), ref, err_msg=what)


def stats(daemon):
    with daemon.conn() as c:
        return c.ok("stats")["datasets"]


def test_own_delete_then_a_same_size_job(daemon):
    with client(daemon) as c:
        c.put("A", full(1))
        c.put("B", full(7))
        r1 = square(c, "A", "O1").result()
        c.delete("O1")
        r2 = square(c, "B", "O2").result()
        assert_unchanged(r1, full(1), "O1's array after O1 was deleted and O2 computed")
        assert_unchanged(r2, full(49), "O2")
        assert stats(daemon)["spares_reused"] == 0


def test_another_clients_delete_then_put_and_job(daemon):
    with client(daemon) as c, client(daemon) as other:
        c.put("B", full(7))
        g = c.get("B")
        other.delete("B")
        other.put("C", full(3))
        square(other, "C", "O3").result()
        other.put("D", full(5))
        assert_unchanged(g, full(7), "B's array after another client deleted B and put C and D")


def test_cleanup_then_a_new_clients_work(daemon):
    with client(daemon, cleanup=True) as c:
        c.put("A", full(2))
        held_input = c.get("A")
        held_output = square(c, "A", "O").result()
    assert stats(daemon)["count"] == 0, "cleanup=True left datasets"
    with client(daemon, cleanup=True) as c2:
        c2.put("E", full(9))
        square(c2, "E", "F").result()
        square(c2, "F", "G").result()
    assert_unchanged(held_input, full(2), "A's array after cleanup and a new client's work")
    assert_unchanged(held_output, full(4), "O's array after cleanup and a new client's work")


@pytest.mark.parametrize("what", ["put", "job output"])
def test_a_memmap_of_an_info_segment(daemon, what):
    with client(daemon) as c:
        c.put("X", full(3))
        if what == "job output":
            square(c, "X", "Y").exception()  # waits, maps nothing
            name, ref = "Y", full(9)
        else:
            name, ref = "X", full(3)
        segment = c.info(name).segment
        view = np.memmap("/dev/shm/" + segment, dtype=np.float64, mode="r", shape=SHAPE)
        c.delete(name)
        c.put("Z", full(11))
        square(c, "Z", "W1").result()
        c.delete("W1")
        square(c, "Z", "W2").result()
        assert_unchanged(view, ref, "a memmap of %s's segment after it was deleted" % what)
        view._mmap.close()


def test_a_descriptor_from_dataset_open_keeps_its_values(daemon):
    """The raw verb the C++ client's open() sends: map the passed descriptor as a C++ program would."""
    with client(daemon) as c:
        c.put("A", full(1))
        square(c, "A", "S0").result()
        c.run("map", {"x": "A"}, params={"op": "negative"}, output="N").exception()
        conn = Connection(daemon.socket_path)
        reply = conn.call("dataset.open", {"name": "N"})
        fd = reply.pop(PASSED_FD)
        assert reply["ok"] is True, reply
        m = mmap.mmap(fd, full(0).nbytes, mmap.MAP_SHARED, mmap.PROT_READ)
        os.close(fd)
        conn.close()
        view = np.frombuffer(m, dtype=np.float64).reshape(SHAPE)
        c.delete("N")
        c.delete("S0")
        square(c, "A", "S1").result()
        c.run("map", {"x": "A"}, params={"op": "sqrt"}, output="S2").result()
        assert_unchanged(view, full(-1), "a mapping of dataset.open's descriptor after a delete")
        del view
        m.close()


@pytest.mark.parametrize("reveal", ["info", "list", "open", "nothing"])
def test_only_a_segment_no_client_saw_becomes_a_spare(daemon, reveal):
    """Job replies do not name the output's segment; info, list and open do, and a segment so
    revealed is removed on delete instead of kept."""
    with client(daemon) as c:
        c.put("A", full(1))
        job = square(c, "A", "O")
        job.exception()
        assert "segment" not in job.status()["output"], job.status()
        if reveal == "info":
            c.info("O")
        elif reveal == "list":
            c.datasets()
        elif reveal == "open":
            c.get("O")
        c.delete("O")
        kept = h.spare_inodes(daemon.instance)
        assert len(kept) == (1 if reveal == "nothing" else 0), (reveal, kept)


def test_a_pipelines_unseen_intermediate_is_reused(daemon):
    """X -> square -> T -> sqrt -> U: T is never opened, so once deleted its segment (pages and
    all) becomes the next T; the result read at the end is exact."""
    X = h.rng(16).standard_normal(SHAPE)
    with client(daemon) as c:
        c.put("X", X)
        for i in range(4):
            square(c, "X", "T").exception()
            c.run("map", {"x": "T"}, params={"op": "sqrt"}, output="U%d" % i).exception()
            c.delete("T")
        s = stats(daemon)
        assert s["spares_reused"] == 3 and s["spares"] == 1, s
        for i in range(4):
            np.testing.assert_allclose(c.get("U%d" % i), np.abs(X), rtol=1e-15, atol=0)
