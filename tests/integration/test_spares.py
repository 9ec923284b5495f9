"""Spare segments: a deleted dataset's segment that no client saw is kept with its pages and
renamed to the next job output of its size. Every kernel with an output must overwrite all of a reused segment's old
bytes (references from NumPy/SciPy); spares give way to quotas, expire, and are never kept for a
cancelled job's output or when segments are readable by others."""

import os
import time

import numpy as np
import pytest
from scipy.interpolate import RectBivariateSpline
from scipy.ndimage import gaussian_filter
from scipy.spatial.distance import cdist

import shmpool_harness as h


def inode_of(info):
    return os.stat("/dev/shm/" + info["segment"]).st_ino


def unseen_output(c, name, nbytes):
    """A job output of `nbytes` bytes of 0xFF (NaN as float64, -1 as integers) whose segment no
    client saw (a job reply does not name it), so that deleting it keeps it as a spare. Its
    input, put (and so exposed), is deleted: its segment is removed, never kept."""
    h.expect_ok(h.put_shm(c, name + ".src", np.ones(nbytes, np.uint8)), "put " + name + ".src")
    h.run_job(c, "map", {"x": name + ".src"}, {"op": "negative"}, output=name)
    c.ok("dataset.delete", name=name + ".src")


def make_spares(c, daemon, *sizes):
    """Unseen job outputs of these sizes in bytes, all made before any is deleted (a job could
    reuse the spare of the one before), then deleted: their segments become spares. Returns
    their inodes, in order."""
    for i, n in enumerate(sizes):
        unseen_output(c, "junk%d" % i, n)
    inodes = []
    for i in range(len(sizes)):
        before = set(h.spare_inodes(daemon.instance).values())
        c.ok("dataset.delete", name="junk%d" % i)
        new = set(h.spare_inodes(daemon.instance).values()) - before
        assert len(new) == 1, "deleting junk%d kept no spare: %s" % (i, new)
        inodes.append(new.pop())
    assert sorted(inodes) == sorted(h.spare_inodes(daemon.instance).values())
    return inodes


def make_spare(c, daemon, nbytes):
    return make_spares(c, daemon, nbytes)[0]


def bilinear_per_grid(Z, P):
    n = Z.shape[1]
    return np.array([np.sum(np.exp(RectBivariateSpline(np.arange(n), np.arange(n), z, kx=1, ky=1).ev(P[:, 0], P[:, 1])))
                     for z in Z])


R = h.rng(31)
X, Y = R.standard_normal((50, 3)), R.standard_normal((40, 3))
IMAGES = R.random((6, 13, 11))
Z, P = R.random((3, 6, 6)), R.uniform(0, 5, size=(500, 2))
XI = R.integers(-1000, 1000, size=(70, 5), dtype=np.int32)

# name: (kernel, inputs {role: array}, params, reference, rtol)
CASES = {
    "euclidean": ("euclidean", {"X": X, "Y": Y}, {}, cdist(X, Y), h.EUCLID_RTOL),
    "rbf": ("rbf", {"points": X}, {}, h.ref_rbf(X), h.RBF_RTOL),
    "cdist-cityblock": ("cdist", {"X": X, "Y": Y}, {"metric": "cityblock"}, cdist(X, Y, "cityblock"), 1e-12),
    "cdist-cosine": ("cdist", {"X": X, "Y": Y}, {"metric": "cosine"}, cdist(X, Y, "cosine"), 1e-12),
    "cdist-chebyshev": ("cdist", {"X": X, "Y": Y}, {"metric": "chebyshev"}, cdist(X, Y, "chebyshev"), 1e-12),
    "map-sqrt": ("map", {"x": np.abs(X)}, {"op": "sqrt"}, np.sqrt(np.abs(X)), 1e-15),
    "map-square-int32": ("map", {"x": XI}, {"op": "square"}, XI * XI, 0),
    "reduce-sum-axis0": ("reduce", {"x": X}, {"op": "sum", "axis": 0}, X.sum(axis=0), 1e-13),
    "reduce-argmax-axis1": ("reduce", {"x": X}, {"op": "argmax", "axis": 1}, X.argmax(axis=1), 0),
    "gaussian": ("gaussian", {"images": IMAGES}, {"sigma": 1.3},
                 np.array([gaussian_filter(im, 1.3) for im in IMAGES]), 1e-12),
    "bilinear-per-grid": ("bilinear_exp_sum", {"Z": Z, "P": P}, {"per_grid": True}, bilinear_per_grid(Z, P), 1e-12),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("chunk", [None, 1])
def test_kernel_output_overwrites_every_byte_of_a_reused_segment(daemon, case, chunk):
    kernel, inputs, params, ref, rtol = CASES[case]
    c = daemon.conn()
    for role, arr in inputs.items():
        h.expect_ok(h.put_shm(c, role, arr), "put " + role)
    ino = make_spare(c, daemon, ref.nbytes)
    job = h.run_job(c, kernel, {r: r for r in inputs}, params, chunk=chunk, output="out")
    info = c.ok("dataset.info", name="out")
    assert inode_of(info) == ino, "the output did not reuse the spare of its size"
    got = h.read_dataset(info)
    if rtol:
        h.assert_close(got, ref, rtol, case)
    else:
        np.testing.assert_array_equal(got, ref, err_msg=case)
    if kernel == "bilinear_exp_sum":
        assert abs(float(job["value"]) - ref.sum()) <= 1e-12 * abs(ref.sum()), job


@pytest.mark.parametrize("how", ["shm", "fd", "file"])
def test_put_overwrites_every_byte_of_a_reused_segment(daemon, workdir, how):
    arr = h.rng(4).standard_normal((300, 7))
    c = daemon.conn()
    ino = make_spare(c, daemon, arr.nbytes)
    if how == "fd":
        fd = h.npy_memfd(arr)
        try:
            info = h.expect_ok(h.put_fd(c, "a", fd))
        finally:
            os.close(fd)
    else:
        info = h.put_any(c, workdir, "a", arr, how)
    assert inode_of(info) == ino
    np.testing.assert_array_equal(h.read_dataset(info), arr)


def test_only_a_spare_within_an_eighth_of_the_size_is_reused(daemon):
    c = daemon.conn()
    big = make_spare(c, daemon, 8000)
    small = h.expect_ok(h.put_shm(c, "small", np.arange(6999 // 8, dtype=np.float64)))  # 6992 bytes
    assert inode_of(small) != big and list(h.spare_inodes(daemon.instance).values()) == [big]
    fits = h.expect_ok(h.put_shm(c, "fits", np.arange(7000 // 8, dtype=np.float64)))  # 7000 bytes
    assert inode_of(fits) == big and h.spare_inodes(daemon.instance) == {}
    # cut to its new size: no byte of the dataset the spare held stays past the new one's end
    assert os.stat("/dev/shm/" + fits["segment"]).st_size == 7000
    stats = c.ok("stats")["datasets"]
    assert (stats["spares"], stats["spare_bytes"], stats["spares_reused"]) == (0, 0, 1), stats
    np.testing.assert_array_equal(h.read_dataset(fits), np.arange(875, dtype=np.float64))


def test_a_job_output_in_a_spare_cut_to_its_size_is_written_to_its_end(daemon):
    """The workers still map a reused spare at its old, larger size: what a range allocates
    follows the output's own bytes, not that mapping (past the cut, madvise fails EFAULT)."""
    c = daemon.conn()
    n = 15 << 19  # 7.5 MiB: above the daemon's own copy, so the put is a copy job too
    h.expect_ok(h.put_shm(c, "src", np.ones(n, np.uint8)), "put src")
    ino = make_spare(c, daemon, 8 << 20)  # written by both workers, so both map it writable
    for chunk in [None, 1 << 20]:
        job = h.run_job(c, "map", {"x": "src"}, {"op": "negative"}, chunk=chunk, output="out")
        info = c.ok("dataset.info", name="out")
        assert inode_of(info) == ino and os.stat("/dev/shm/" + info["segment"]).st_size == n, (job, info)
        assert np.all(h.read_dataset(info) == 255)
        c.ok("dataset.delete", name="out")  # the segment was seen: removed, so make it again
        if chunk is None:
            ino = make_spare(c, daemon, 8 << 20)


def test_the_smallest_fitting_spare_is_taken(daemon):
    c = daemon.conn()
    larger, exact = make_spares(c, daemon, 8192, 8000)
    stats = c.ok("stats")["datasets"]
    assert (stats["spares"], stats["spare_bytes"]) == (2, 8192 + 8000), stats
    info = h.expect_ok(h.put_shm(c, "x", np.zeros(1000)))
    assert inode_of(info) == exact
    assert list(h.spare_inodes(daemon.instance).values()) == [larger]


@pytest.mark.parametrize("daemon", [{"extra_args": ["--spare-idle", "0.3"]}], indirect=True)
def test_an_unused_spare_is_released_after_spare_idle(daemon):
    c = daemon.conn()
    make_spare(c, daemon, 100000)
    assert h.wait_until(lambda: not h.spare_inodes(daemon.instance), 5.0), "spare kept past --spare-idle"
    h.still_serves(daemon)


@pytest.mark.parametrize("daemon", [{"extra_args": ["--spare-bytes", "1500000"]}], indirect=True)
def test_spares_beyond_spare_bytes_release_the_oldest(daemon):
    c = daemon.conn()
    old = make_spare(c, daemon, 1000000)
    new = make_spare(c, daemon, 600000)
    assert list(h.spare_inodes(daemon.instance).values()) == [new], "the oldest spare was not released"
    unseen_output(c, "c", 2000000)  # over spare-bytes: not kept
    c.ok("dataset.delete", name="c")
    assert [s for s in daemon.segments() if ".ds" in s] == [], daemon.segments()
    assert list(h.spare_inodes(daemon.instance).values()) == [new]
    assert old not in h.segment_inodes(daemon.instance).values()


@pytest.mark.parametrize("daemon", [{"extra_args": ["--max-shm-bytes", "1000000"]}], indirect=True)
def test_spares_give_way_to_the_shm_quota(daemon):
    c = daemon.conn()
    make_spare(c, daemon, 400000)
    info = h.expect_ok(h.put_shm(c, "b", np.ones(700000, np.uint8)))  # live 0.7 MB + spare 0.4 MB > quota
    assert h.spare_inodes(daemon.instance) == {}, "a spare kept the instance over max-shm-bytes"
    np.testing.assert_array_equal(h.read_dataset(info), np.ones(700000, np.uint8))


@pytest.mark.parametrize("daemon", [{"extra_args": ["--spare-bytes", "0"]},
                                    {"extra_args": ["--segment-mode", "0640"]}], indirect=True)
def test_no_spares_when_off_or_when_segments_are_readable_by_others(daemon):
    c = daemon.conn()
    unseen_output(c, "a", 400000)
    c.ok("dataset.delete", name="a")
    assert [s for s in daemon.segments() if ".ds" in s] == [], daemon.segments()
    assert h.spare_inodes(daemon.instance) == {}


def test_spares_are_removed_when_the_daemon_stops(daemon):
    c = daemon.conn()
    make_spare(c, daemon, 300000)
    c.close()
    daemon.stop()
    assert h.shm_entries(daemon.instance) == []


def test_a_crash_storm_on_reused_segments_keeps_outputs_exact(daemon):
    """Workers SIGKILLed while they write reused segments: requeued ranges rewrite their rows."""
    import signal
    c = daemon.conn()
    h.expect_ok(h.put_shm(c, "X", X))
    h.expect_ok(h.put_shm(c, "Y", Y))
    ref = cdist(X, Y)
    for round_ in range(8):
        job = h.expect_ok(h.submit(c, "euclidean", {"X": "X", "Y": "Y"}, chunk=1, output="D", wait=False))
        time.sleep(0.002 * round_)
        pids = [w["pid"] for w in daemon.workers() if w["pid"]]
        if pids:
            os.kill(pids[round_ % len(pids)], signal.SIGKILL)
        h.check_job_done(c.ok("job.wait", job=job["job"]))
        got = np.array(c.ok("dataset.get", name="D")["data"])  # a copy: D's segment stays unseen
        h.assert_close(got, ref, h.EUCLID_RTOL, "round %d" % round_)
        c.ok("dataset.delete", name="D")
        assert len(h.spare_inodes(daemon.instance)) == 1
    assert c.ok("stats")["datasets"]["spares_reused"] == 7
