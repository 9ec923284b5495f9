"""Kernels and datasets against independent NumPy/SciPy references, with 1 and 2 workers."""

import os

import numpy as np
import pytest

import shmpool_harness as h

# name -> (X shape, Y shape); "identical" is X with repeated rows and Y = X (the same dataset).
SHAPES = {
    "1x1": ((1, 1), (1, 1)),
    "1row": ((1, 6), (13, 6)),
    "37x5_41x5": ((37, 5), (41, 5)),
    "500x64_300x64": ((500, 64), (300, 64)),
    "identical": ((24, 4), None),
}
CHUNKS = {"chunk1": 1, "chunk7": 7, "auto": None, "over_rows": "over"}
PUT_HOW = ["file", "shm", "inline"]


def make_inputs(case, seed):
    r = h.rng(seed)
    xs, ys = SHAPES[case]
    X = r.standard_normal(xs) * 3.0
    if ys is None:
        X[xs[0] // 2:] = X[:xs[0] - xs[0] // 2]  # every point twice
        return X, None
    return X, r.standard_normal(ys) * 3.0


@pytest.mark.parametrize("daemon", [1, 2], indirect=True, ids=["w1", "w2"])
@pytest.mark.parametrize("chunk", list(CHUNKS.values()), ids=list(CHUNKS))
@pytest.mark.parametrize("case", list(SHAPES))
def test_euclidean_and_rbf(daemon, workdir, case, chunk):
    X, Y = make_inputs(case, seed=len(case) * 31 + (chunk if isinstance(chunk, int) else 0))
    how = PUT_HOW[list(SHAPES).index(case) % 3] if X.nbytes < 200_000 else "file"
    c = daemon.conn()
    h.put_any(c, workdir, "X", X, how)
    if Y is None:
        inputs = {"X": "X", "Y": "X"}
        Y = X
    else:
        h.put_any(c, workdir, "Y", Y, "file" if how == "inline" and Y.nbytes > 200_000 else how)
        inputs = {"X": "X", "Y": "Y"}
    n = X.shape[0]
    ck = n + 5 if chunk == "over" else chunk

    job = h.run_job(c, "euclidean", inputs, chunk=ck, output="D")
    h.check_job_done(job, rows=n, chunk=ck)
    if chunk == "over":
        assert job["ranges"] == 1, job
    out = job["output"]
    assert out["name"] == "D" and out["dtype"] == "float64" and list(out["shape"]) == [n, Y.shape[0]], job
    info = c.ok("dataset.info", name="D")
    h.check_info(info, daemon, "D", "float64", (n, Y.shape[0]))
    h.assert_close(h.read_dataset(info), h.ref_euclidean(X, Y), h.EUCLID_RTOL, "euclidean %s" % case)

    # rbf with the default output name job<id>.out
    job = h.run_job(c, "rbf", {"points": "X"}, chunk=ck)
    h.check_job_done(job, rows=n, chunk=ck)
    assert job["output"]["name"] == "job%d.out" % job["job"], job
    info = c.ok("dataset.info", name=job["output"]["name"])
    h.check_info(info, daemon, job["output"]["name"], "float64", (n, n))
    got = h.read_dataset(info)
    h.assert_close(got, h.ref_rbf(X), h.RBF_RTOL, "rbf %s" % case)
    assert np.all(np.diag(got) == 0.0), "rbf diagonal is not exactly zero: %r" % np.diag(got)[:10]


@pytest.mark.parametrize("daemon", [1, 2], indirect=True, ids=["w1", "w2"])
def test_noop_many_ranges(daemon):
    c = daemon.conn()
    before = c.ok("dataset.list")["datasets"]
    job = h.run_job(c, "noop", params={"rows": 100000}, chunk=1)
    h.check_job_done(job, rows=100000, chunk=1)
    assert job["ranges"] == 100000, job
    assert job.get("output") is None, "noop has no output: %s" % job
    assert c.ok("dataset.list")["datasets"] == before
    # defaults: one row, one range
    job = h.run_job(c, "noop")
    assert job["rows"] == 1 and job["ranges"] == 1, job
    job = h.run_job(c, "sleep", params={"rows": 5, "ms": 2}, chunk=2)
    h.check_job_done(job, rows=5, chunk=2)
    assert job["ranges"] == 3, job


def test_noop_input_maps_its_input_and_writes_nothing(daemon, workdir):
    c = daemon.conn()
    h.put_file(c, workdir, "big", h.rng(4).standard_normal((3000, 50)))
    before = c.ok("dataset.list")["datasets"]
    job = h.run_job(c, "noop_input", {"x": "big"}, params={"rows": 5000}, chunk=7)
    h.check_job_done(job, rows=5000, chunk=7)
    assert job["ranges"] == 715 and job.get("output") is None, job
    assert c.ok("dataset.list")["datasets"] == before
    h.expect_error(h.submit(c, "noop_input"), ("missing_role",), "noop_input without x")
    h.expect_error(h.submit(c, "noop_input", {"x": "no-such"}), ("unknown_dataset",), "unknown input")


def test_job_output_feeds_next_job(daemon, workdir):
    r = h.rng(3)
    X, Y = r.standard_normal((30, 4)), r.standard_normal((20, 4))
    c = daemon.conn()
    h.put_file(c, workdir, "X", X)
    h.put_file(c, workdir, "Y", Y)
    h.run_job(c, "euclidean", {"X": "X", "Y": "Y"}, output="D", chunk=4)
    job = h.run_job(c, "euclidean", {"X": "D", "Y": "D"}, output="DD", chunk=3)
    D = h.ref_euclidean(X, Y)
    h.assert_close(h.output_array(c, job), h.ref_euclidean(D, D), 1e-8, "euclidean of a job's output")


def sample(dtype, shape, seed):
    r = h.rng(seed)
    if dtype == "uint8":
        return r.integers(0, 256, shape, dtype=np.uint8)
    if dtype == "int32":
        return r.integers(-2**31, 2**31, shape, dtype=np.int32)
    if dtype == "int64":
        return r.integers(-2**62, 2**62, shape, dtype=np.int64)
    return (r.standard_normal(shape) * 1e3).astype(dtype)


@pytest.mark.parametrize("dtype", h.DTYPES)
@pytest.mark.parametrize("how", PUT_HOW)
def test_dataset_put_info_list_get_save_delete(daemon, workdir, how, dtype):
    c = daemon.conn()
    arrays = {}
    for i, shape in enumerate([(7,), (5, 3), (2, 3, 4), (2, 1, 3, 2), (1,)]):
        name = "ds%d.%s:%s-x_" % (i, dtype, how)
        arr = sample(dtype, shape, seed=i)
        info = h.put_any(c, workdir, name, arr, how)
        h.check_info(info, daemon, name, dtype, shape)
        assert h.file_mode("/dev/shm/" + info["segment"]) == 0o600, "segment mode %o" % h.file_mode(
            "/dev/shm/" + info["segment"])
        got = h.read_dataset(info)
        assert got.dtype == arr.dtype and np.array_equal(got, arr), (name, got, arr)
        assert c.ok("dataset.info", name=name) == info
        arrays[name] = (arr, info)

    listed = {d["name"]: d for d in c.ok("dataset.list")["datasets"]}
    assert set(listed) == set(arrays), listed
    for name, (arr, info) in arrays.items():
        assert listed[name] == info

        got = c.ok("dataset.get", name=name)
        # a copy of the data: no segment named (it stays unseen, docs/protocol.md)
        assert {k: v for k, v in got.items() if k != "data"} == {k: v for k, v in info.items() if k != "segment"}, got
        assert np.array_equal(np.array(got["data"], dtype=dtype), arr) and got["data"] == arr.tolist(), got

        out = os.path.join(workdir, "saved-%s.npy" % name.replace(":", "_"))
        saved = c.ok("dataset.save", name=name, file=out)
        assert saved["file"] == out and saved["bytes"] == os.path.getsize(out), saved
        back = np.load(out)
        assert back.dtype == arr.dtype and back.shape == arr.shape and np.array_equal(back, arr), name

    leftovers = [f for f in os.listdir(workdir) if not f.endswith((".npy", ".stderr", ".sock"))]
    assert not leftovers, "temporary files left by dataset.save: %s" % leftovers

    for name, (arr, info) in arrays.items():
        assert c.ok("dataset.delete", name=name) == {"deleted": name}
        assert not os.path.exists("/dev/shm/" + info["segment"]), "segment of a deleted dataset remains"
        h.expect_error(c.call("dataset.info", name=name), "unknown_dataset")
        h.expect_error(c.call("dataset.delete", name=name), "unknown_dataset")
    assert c.ok("dataset.list")["datasets"] == []


def test_dataset_put_large_file_and_shm(daemon, workdir):
    """Multi-megabyte copies (run by the workers as jobs) arrive intact."""
    r = h.rng(11)
    big = r.standard_normal((3000, 257))
    c = daemon.conn()
    info = h.put_file(c, workdir, "big", big)
    h.check_info(info, daemon, "big", "float64", big.shape)
    assert np.array_equal(h.read_dataset(info), big)
    info2 = h.expect_ok(h.put_shm(c, "big2", big[::-1]))
    assert np.array_equal(h.read_dataset(info2), big[::-1])
    out = os.path.join(workdir, "big-saved.npy")
    c.ok("dataset.save", name="big2", file=out)
    assert np.array_equal(np.load(out), big[::-1])


def test_dataset_get_over_limit_and_save_errors(daemon, workdir):
    c = daemon.conn()
    h.put_file(c, workdir, "huge", np.zeros((300000,)))  # 2.4 MB: over dataset.get's 1 MiB
    h.expect_error(c.call("dataset.get", name="huge"), "too_large")
    h.expect_error(c.call("dataset.save", name="huge", file=os.path.join(workdir, "no", "such", "dir.npy")),
                   "io_error")
    os.mkdir(os.path.join(workdir, "a_dir"))
    h.expect_error(c.call("dataset.save", name="huge", file=os.path.join(workdir, "a_dir")), "io_error")
    h.expect_error(c.call("dataset.save", name="huge", file="/proc/version"), "path_not_allowed")
    assert c.ok("ping")["pong"] is True


def test_socket_mode_and_introspection(daemon):
    assert h.file_mode(daemon.socket_path) == 0o660, "socket mode %o" % h.file_mode(daemon.socket_path)
    c = daemon.conn()
    pong = c.ok("ping")
    assert pong["instance"] == daemon.instance and pong["pid"] == daemon.pid and isinstance(pong["version"], str)
    ws = c.ok("workers")["workers"]
    assert len(ws) == 2 and sorted(w["slot"] for w in ws) == [0, 1], ws
    for w in ws:
        assert w["state"] in ("idle", "busy", "starting"), w
        assert h.proc_stat(w["pid"])[1] == daemon.pid, "worker %s is not a child of the daemon" % w
    kernels = {k["name"]: k for k in c.ok("kernels")["kernels"]}
    assert {"euclidean", "rbf", "noop", "sleep"} <= set(kernels), kernels
    assert sorted(kernels["euclidean"]["roles"]) == ["X", "Y"] and kernels["rbf"]["roles"] == ["points"]
    assert not [k for k in kernels if k.startswith("_")], "internal kernels are listed: %s" % list(kernels)


@pytest.mark.parametrize("how", PUT_HOW)
def test_delete_frees_segment_of_used_datasets(daemon, workdir, how):
    """dataset.delete removes the segment at once, also for a put's copy and a job's output
    (a job that has ended must not keep its datasets' memory)."""
    c = daemon.conn()
    X = h.rng(6).standard_normal((10, 3))
    xinfo = h.put_any(c, workdir, "X", X, how)
    job = h.run_job(c, "rbf", {"points": "X"}, output="R")
    rinfo = c.ok("dataset.info", name="R")
    out = os.path.join(workdir, "R.npy")
    c.ok("dataset.save", name="R", file=out)
    for name, info in (("X", xinfo), ("R", rinfo)):
        c.ok("dataset.delete", name=name)
        assert not os.path.exists("/dev/shm/" + info["segment"]), \
            "segment %s of deleted dataset %s (%s) still in /dev/shm; job %d ended" % (
                info["segment"], name, how, job["job"])
    assert [s for s in daemon.segments() if ".ds" in s] == [], daemon.segments()


def write_npy(path, arr, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=True)


NPY_GOOD = {
    "v1": lambda p: write_npy(p, np.arange(12.0).reshape(3, 4), (1, 0)),
    "v2": lambda p: write_npy(p, np.arange(12.0).reshape(3, 4), (2, 0)),
    "v3": lambda p: write_npy(p, np.arange(12, dtype=np.int32).reshape(2, 3, 2), (3, 0)),
    "uint8_4d": lambda p: np.save(p, np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)),
    "fortran_order": lambda p: np.save(p, np.asfortranarray(np.arange(12.0).reshape(3, 4))),
    "big_endian": lambda p: np.save(p, np.arange(4.0).astype(">f8")),
}
NPY_BAD = {  # name -> (writer, accepted error codes)
    "bool": (lambda p: np.save(p, np.ones(3, dtype=bool)), ("io_error", "dtype_mismatch")),
    "int16": (lambda p: np.save(p, np.ones(3, dtype=np.int16)), ("io_error", "dtype_mismatch")),
    "object": (lambda p: write_npy(p, np.array([1, "a"], dtype=object)), ("io_error", "dtype_mismatch")),
    "zero_d": (lambda p: np.save(p, np.float64(3.0)), ("io_error", "bad_shape")),
    "empty": (lambda p: np.save(p, np.zeros((0, 3))), ("io_error", "bad_shape")),
    "five_dims": (lambda p: np.save(p, np.zeros((1, 1, 1, 1, 2))), ("io_error", "bad_shape")),
    "truncated": (lambda p: (np.save(p, np.arange(300000.0)), os.truncate(p, 100000)), ("io_error",)),
    "header_only": (lambda p: (np.save(p, np.arange(10.0)), os.truncate(p, 20)), ("io_error",)),
    "directory": (lambda p: os.mkdir(p), ("io_error",)),
}


def test_npy_files(daemon, workdir):
    """Every .npy NumPy writes for a supported array loads exactly; anything else is a clean error."""
    c = daemon.conn()
    for name, writer in NPY_GOOD.items():
        path = os.path.join(workdir, name + ".npy")
        writer(path)
        info = c.ok("dataset.put", name=name, file=path)
        ref = np.load(path)
        got = h.read_dataset(info)
        assert got.dtype == ref.dtype.newbyteorder("=") and np.array_equal(got, ref), name
    for name, (writer, codes) in NPY_BAD.items():
        path = os.path.join(workdir, name + ".npy")
        writer(path)
        h.expect_error(c.call("dataset.put", name=name, file=path), codes, "put of a %s .npy" % name)
    assert sorted(d["name"] for d in c.ok("dataset.list")["datasets"]) == sorted(NPY_GOOD)
    h.still_serves(daemon)
