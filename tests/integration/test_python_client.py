"""Integration tests of the Python client (client/python/shmpool) against the real shmpoold:
zero-copy put/get, jobs as futures, reductions, error codes, cleanup, killed clients."""

import concurrent.futures
import glob
import mmap
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import shmpool_harness as h

PY_CLIENT_DIR = os.path.join(h.REPO, "client", "python")
sys.path.insert(0, PY_CLIENT_DIR)
import shmpool  # noqa: E402  (from the source tree)
from shmpool import shm as shmpool_shm  # noqa: E402

SHAPES = [(37,), (9, 5), (4, 3, 6), (2, 3, 4, 5)]


def temp_objects(pid=None):
    """The client's temporary shm objects in /dev/shm (of one process, or of any)."""
    return sorted(glob.glob("/dev/shm/shmpool-py.%s.*" % (pid if pid is not None else "*")))


def sample(dtype, shape, seed=1):
    r = h.rng(seed)
    if np.dtype(dtype).kind == "f":
        return r.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return r.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def mapping_of(array):
    """The /proc/self/maps path of the mapping holding the array's first byte."""
    address = array.__array_interface__["data"][0]
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if lo <= address < hi:
                return fields[5] if len(fields) > 5 else ""
    return None


def assert_zero_copy_view(view, info):
    assert isinstance(view.base, mmap.mmap), type(view.base)
    assert mapping_of(view) == "/dev/shm/" + info.segment
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view.flat[0] = 0
    with pytest.raises(ValueError):
        view.setflags(write=True)


def client_of(daemon, **kw):
    return shmpool.Client(socket=daemon.socket_path, **kw)


# --------------------------------------------------------------------------- datasets

@pytest.mark.parametrize("dtype", h.DTYPES)
def test_put_get_round_trip_without_copy(daemon, dtype):
    with client_of(daemon, cleanup=True) as c:
        for i, shape in enumerate(SHAPES):
            a = sample(dtype, shape, seed=i)
            ds = c.put("a%d" % i, a, inline=False)
            h.check_info(ds.info, daemon, "a%d" % i, dtype, shape)
            assert (ds.dtype, ds.shape, ds.nbytes, ds.owner_uid) == (np.dtype(dtype), shape, a.nbytes, os.geteuid())
            assert temp_objects(os.getpid()) == [], "the put's temporary object was not unlinked"
            view = c.get("a%d" % i)
            assert view.dtype == np.dtype(dtype) and view.shape == shape
            assert np.array_equal(view, a)
            assert_zero_copy_view(view, ds)
            again = ds.array()
            assert np.array_equal(again, view) and mapping_of(again) == mapping_of(view)
            # independent reader: the daemon's bytes are the array's bytes
            assert np.array_equal(h.read_dataset(ds.info), a)


def test_put_inline_and_awkward_layouts(daemon):
    r = h.rng(3)
    base = r.standard_normal((20, 12))
    cases = {
        "strided": base[::3, ::2],
        "transposed": base.T,
        "big_endian": base.astype(">f8"),
        "fortran": np.asfortranarray(r.integers(-9, 9, (7, 5), dtype=np.int32)),
        "with_nan": np.array([1.0, np.nan, np.inf, -np.inf], dtype=np.float32),  # not JSON: goes by shm
        "scalar_list": [1, 2, 3],
    }
    with client_of(daemon, cleanup=True) as c:
        for name, a in cases.items():
            for inline in (None, False):
                ds = c.put("%s_%s" % (name, inline), a, inline=inline)
                want = np.asarray(a)
                assert ds.dtype == want.dtype.newbyteorder("=") and ds.shape == want.shape
                np.testing.assert_array_equal(c.get(ds.name), want)
        tiny = c.put("tiny", np.arange(6, dtype=np.uint8).reshape(2, 3), inline=True)
        assert np.array_equal(tiny.array(), np.arange(6).reshape(2, 3))
    assert temp_objects(os.getpid()) == []


def test_datasets_info_delete_and_dataset_scope(daemon):
    a = np.arange(12.0).reshape(3, 4)
    with client_of(daemon) as c:
        with c.put("scoped", a, inline=False) as ds:
            assert [d.name for d in c.datasets()] == ["scoped"]
            assert c.info("scoped").segment == ds.segment
            view = c.get("scoped")
        assert c.datasets() == []
        assert not os.path.exists("/dev/shm/" + ds.segment)
        assert np.array_equal(view, a), "a view outlives the dataset's deletion"
        c.put("gone", a)
        c.delete("gone")
        with pytest.raises(shmpool.UnknownDataset):
            c.delete("gone")
        c.delete("gone", missing_ok=True)


# --------------------------------------------------------------------------- jobs

def test_run_outputs_match_numpy(daemon):
    r = h.rng(5)
    P = r.random((300, 3))
    X, Y = r.standard_normal((50, 8)), r.standard_normal((40, 8))
    with client_of(daemon, cleanup=True) as c:
        c.put("P", P)
        xs, ys = c.put("X", X), c.put("Y", Y)
        job = c.run("rbf", {"points": "P"}, chunk=16, output="D")
        D = job.result(timeout=h.JOB_TIMEOUT)
        h.assert_close(D, h.ref_rbf(P), h.RBF_RTOL, "rbf through the python client")
        assert not D.flags.writeable and mapping_of(D) == "/dev/shm/" + c.info("D").segment
        assert job.done() and not job.cancelled() and job.exception() is None
        assert job.progress() == shmpool.Progress(19, 19) and job.output == "D"
        E = c.run("euclidean", {"X": xs, "Y": ys}).result(timeout=h.JOB_TIMEOUT)
        h.assert_close(E, h.ref_euclidean(X, Y), h.EUCLID_RTOL, "euclidean through the python client")
        ints = c.put("I", r.integers(-100, 100, (64, 3), dtype=np.int64))
        sq = c.run("map", {"x": ints}, params={"op": "square"}, chunk=np.int64(10)).result()
        assert np.array_equal(sq, ints.array() ** 2)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "uint8"])
def test_reductions(daemon, dtype):
    x = sample(dtype, (40, 7), seed=11)
    with client_of(daemon, cleanup=True) as c:
        c.put("x", x)
        for op in ("sum", "mean", "min", "max", "argmin", "argmax"):
            job = c.run("reduce", {"x": "x"}, params={"op": op}, chunk=3)
            got = job.result(timeout=h.JOB_TIMEOUT)
            as_double = op == "mean" or (op == "sum" and x.dtype.kind == "f")  # float sums in float64
            want = getattr(x.astype(np.float64) if as_double else x, op)()
            if op == "sum" and x.dtype.kind != "f":  # NumPy's int64 (uint64) accumulator, exact
                assert type(got) is int and got == want.item(), (op, got, want)
            elif op in ("argmin", "argmax"):
                assert got == want and job.index == want, (op, got, want)
            elif op in ("min", "max"):
                assert got == want and job.index == int(getattr(x, "arg" + op)()), (op, got, want)
            else:
                assert got == pytest.approx(float(want), rel=1e-12, abs=1e-9), (op, got, want)
        axis = c.run("reduce", {"x": "x"}, params={"op": "max", "axis": 1}).result()
        assert np.array_equal(axis, x.max(axis=1))


def test_non_finite_reductions_are_floats(daemon):
    with client_of(daemon, cleanup=True) as c:
        c.put("n", np.array([1.0, np.nan, 2.0]))
        c.put("i", np.array([1.0, np.inf, 2.0]))
        c.put("m", np.array([-np.inf, 0.0]))
        nan_sum = c.run("reduce", {"x": "n"}, params={"op": "sum"}).result()
        assert isinstance(nan_sum, float) and np.isnan(nan_sum)
        assert c.run("reduce", {"x": "i"}, params={"op": "sum"}).result() == float("inf")
        job = c.run("reduce", {"x": "m"}, params={"op": "min"})
        assert job.result() == float("-inf") and job.index == 0


@pytest.mark.time_limit(120)
def test_progress_cancel_and_result_timeout(daemon):
    with client_of(daemon, cleanup=True) as c:
        job = c.run("sleep", params={"rows": 400, "ms": 50}, chunk=1)  # 10 s on 2 workers
        assert h.wait_until(lambda: job.progress().done > 0, 30), job.status()
        done, total = job.progress()
        assert total == 400 and 0 < done < total
        assert not job.done() and job.running()
        with pytest.raises(TimeoutError):
            job.result(timeout=0.05)
        with pytest.raises(concurrent.futures.TimeoutError):
            job.exception(timeout=0.05)
        assert job.cancel() is True and job.cancelled() and job.done()
        with pytest.raises(shmpool.JobCancelled) as caught:
            job.result()
        assert caught.value.code == "cancelled" and caught.value.job["state"] == "cancelled"
        with pytest.raises(concurrent.futures.CancelledError):
            job.exception()
        assert job.progress().done < 400
        short = c.run("sleep", params={"rows": 4, "ms": 100}, chunk=1)
        with pytest.raises(TimeoutError):
            short.result(timeout=0.01)
        assert short.result(timeout=h.JOB_TIMEOUT) is None  # the job.wait left in flight is reused
        assert short.cancel() is False and short.exception() is None
    h.wait_pool_idle(daemon, 2)


def test_replies_out_of_order_on_one_connection(daemon):
    with client_of(daemon, cleanup=True) as c:
        slow = c.run("sleep", params={"rows": 2, "ms": 300}, chunk=1)
        with pytest.raises(TimeoutError):
            slow.result(timeout=0.01)  # its job.wait stays in flight...
        for _ in range(20):
            assert c.ping()["pong"] is True  # ...while other replies overtake it
        assert len(c.workers()) == 2 and {k["name"] for k in c.kernels()} >= {"rbf", "sleep", "reduce"}
        assert slow.result() is None


# --------------------------------------------------------------------------- errors

def test_errors_carry_the_daemon_codes(daemon):
    with client_of(daemon, cleanup=True) as c:
        ints = c.put("ints", np.arange(10, dtype=np.int32))
        expected = [
            (lambda: c.get("nosuch"), shmpool.UnknownDataset, "unknown_dataset"),
            (lambda: c.put("ints", np.zeros(3)), shmpool.DatasetExists, "dataset_exists"),
            (lambda: c.put("bad/name", np.zeros(3)), shmpool.BadName, "bad_name"),
            (lambda: c.put("five", np.zeros((1, 1, 1, 1, 2)), inline=False), shmpool.BadShape, "bad_shape"),
            (lambda: c.put("empty", np.zeros((0, 3))), shmpool.BadShape, "bad_shape"),
            (lambda: c.put("bools", np.zeros(3, dtype=bool)), shmpool.BadRequest, "bad_request"),
            (lambda: c.run("nosuch"), shmpool.UnknownKernel, "unknown_kernel"),
            (lambda: c.run("rbf"), shmpool.MissingRole, "missing_role"),
            (lambda: c.run("map", {"x": ints}, params={"op": "exp"}), shmpool.DtypeMismatch, "dtype_mismatch"),
            (lambda: c.run("map", {"x": ints}, params={"op": "frobnicate"}), shmpool.BadParam, "bad_param"),
            (lambda: c.run("sleep", params={"ms": float("nan")}), shmpool.BadRequest, "bad_request"),
            (lambda: c._call("frobnicate"), shmpool.UnknownVerb, "unknown_verb"),
            (lambda: c._call("job.status", job=987654), shmpool.UnknownJob, "unknown_job"),
        ]
        for action, cls, code in expected:
            with pytest.raises(cls) as caught:
                action()
            assert isinstance(caught.value, shmpool.ShmpoolError) and caught.value.code == code, caught.value
            assert caught.value.message
        assert temp_objects(os.getpid()) == []
        # a job that fails: the error and the ended job travel together
        c.put("Z", np.zeros((3, 3)))
        c.put("P", np.array([[0.5, 0.5], [7.0, 1.0]]))
        job = c.run("bilinear_exp_sum", {"Z": "Z", "P": "P"})
        with pytest.raises(shmpool.RangeFailed) as caught:
            job.result(timeout=h.JOB_TIMEOUT)
        assert caught.value.code == "range_failed" and "outside the grid" in caught.value.message
        assert caught.value.job["state"] == "failed" and isinstance(job.exception(), shmpool.JobFailed)
        late = c.run("sleep", params={"rows": 100, "ms": 100}, chunk=1, timeout=0.3)
        with pytest.raises(shmpool.JobTimedOut):
            late.result(timeout=h.JOB_TIMEOUT)
        assert c.ping()["pong"], "the connection stays usable after errors"


def test_get_of_an_output_still_being_written(daemon):
    with client_of(daemon, cleanup=True) as c:
        c.put("x", np.arange(100.0), inline=False)
        blocker = c.run("sleep", params={"rows": 1000, "ms": 50}, chunk=1)  # older: dispatched first
        queued = c.run("map", {"x": "x"}, params={"op": "sqrt"}, output="roots")
        assert c.info("roots").sealed is False
        with pytest.raises(shmpool.DatasetBusy) as caught:
            c.get("roots")
        assert caught.value.code == "dataset_busy"
        blocker.cancel()
        np.testing.assert_array_equal(queued.result(timeout=h.JOB_TIMEOUT), np.sqrt(np.arange(100.0)))


def test_one_client_shared_by_threads(daemon):
    with client_of(daemon, cleanup=True) as c:
        def worker(k):
            def body():
                a = h.rng(k).standard_normal((200 + k, 4))
                c.put("t%d" % k, a, inline=bool(k % 2))
                for _ in range(5):
                    total = c.run("reduce", {"x": "t%d" % k}, params={"op": "sum"}).result(timeout=h.JOB_TIMEOUT)
                    assert total == pytest.approx(a.sum(), rel=1e-12, abs=1e-12)
                    assert np.array_equal(c.get("t%d" % k), a)
            return body
        h.run_threads([worker(k) for k in range(6)])
        assert sorted(d.name for d in c.datasets()) == sorted("t%d" % k for k in range(6))


def test_a_thread_waiting_on_a_job_does_not_hold_up_others(daemon):
    with client_of(daemon, cleanup=True) as c:
        job = c.run("sleep", params={"rows": 4, "ms": 4000}, chunk=1)  # 8 s on 2 workers
        outcome = []

        def wait_for_job():
            try:
                job.result()
            except shmpool.JobCancelled as e:
                outcome.append(e.code)

        waiter = threading.Thread(target=wait_for_job)
        waiter.start()
        assert h.wait_until(lambda: job._wait_id is not None, 10)  # the waiter now reads the socket
        for _ in range(20):
            assert c.ping()["pong"] is True  # answered although another thread holds the reading
        assert not job.done(), "the pings waited for the job's end"
        assert job.cancel()
        waiter.join(h.REPLY_TIMEOUT)
        assert not waiter.is_alive() and outcome == ["cancelled"]


def test_connection_errors_are_distinct(workdir, monkeypatch):
    with pytest.raises(shmpool.DaemonConnectionError) as caught:
        shmpool.Client(socket=os.path.join(workdir, "nobody.sock"))
    assert not isinstance(caught.value, shmpool.ShmpoolError)
    with pytest.raises(shmpool.BadName):
        shmpool.Client(instance="bad/instance")
    monkeypatch.setattr(os, "geteuid", lambda: 1234)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1234")
    assert shmpool.default_socket_path("a") == "/run/user/1234/shmpool/a.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert shmpool.default_socket_path() == "/tmp/shmpool-1234/default.sock"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert shmpool.default_socket_path("b") == "/run/shmpool/b.sock"


def test_default_socket_path_is_the_cli_s(daemon_factory, workdir, monkeypatch):
    if os.geteuid() != 0:
        monkeypatch.setenv("XDG_RUNTIME_DIR", workdir)
    instance = h.unique_instance()
    path = shmpool.default_socket_path(instance)
    d = daemon_factory.new(instance=instance, socket_path=path)
    assert h.run_cli(["--instance", instance, "ping"], env=dict(os.environ)).returncode == 0
    with shmpool.Client(instance=instance) as c:
        assert c.ping()["instance"] == instance and c.socket_path == d.socket_path


def test_daemon_gone_mid_session(daemon):
    c = client_of(daemon)
    job = c.run("sleep", params={"rows": 1000, "ms": 50}, chunk=1)
    daemon.stop()
    with pytest.raises(shmpool.DaemonConnectionError):
        job.result(timeout=h.JOB_TIMEOUT)
    with pytest.raises(shmpool.DaemonConnectionError):
        c.ping()
    c.close()


# --------------------------------------------------------------------------- cleanup and leaks

def test_with_cleanup_leaves_nothing(daemon):
    before = h.dataset_entries(daemon.instance)
    big = h.rng(2).standard_normal((300, 200))
    with client_of(daemon, cleanup=True) as c:
        c.put("big", big, inline=False)
        c.put("small", np.arange(5))
        done = c.run("map", {"x": "big"}, params={"op": "negative"}, output="neg")
        done.result()
        default_named = c.run("map", {"x": "small"}, params={"op": "square"})
        default_named.result()
        running = c.run("sleep", params={"rows": 1000, "ms": 50}, chunk=1)
        held = c.get("neg")
        assert len(h.dataset_entries(daemon.instance)) == len(before) + 4
    assert running.cancelled()
    with client_of(daemon) as other:
        assert other.datasets() == []
    assert h.dataset_entries(daemon.instance) == before
    assert temp_objects(os.getpid()) == []
    assert np.array_equal(held, -big), "a view stays readable after its dataset is gone"


def test_job_scope_cancels_and_deletes_output(daemon):
    before = h.dataset_entries(daemon.instance)
    with client_of(daemon) as c:
        with c.put("x", np.ones((2000, 100)), inline=False):
            with c.run("map", {"x": "x"}, params={"op": "exp"}, output="ex") as job:
                np.testing.assert_allclose(job.result(), np.e)
            with c.run("sleep", params={"rows": 500, "ms": 50}, chunk=1) as slow:
                pass
            assert slow.cancelled()
            assert [d.name for d in c.datasets()] == ["x"]
        assert c.datasets() == []
    assert h.dataset_entries(daemon.instance) == before


def run_child(daemon, body):
    """Starts a python process using the client on the daemon; returns the Popen (stdout piped)."""
    code = "import sys, time, numpy as np\nsys.path.insert(0, %r)\nimport shmpool\n" % PY_CLIENT_DIR
    code += "c = shmpool.Client(socket=%r)\n" % daemon.socket_path + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def wait_line(proc, expected):
    line = proc.stdout.readline().strip()
    assert line == expected, "child printed %r, expected %r" % (line, expected)


@pytest.mark.time_limit(120)
def test_killed_client_does_not_leak(daemon):
    child = run_child(daemon, """
        c.put("left", np.arange(1 << 20, dtype=np.float64), inline=False)
        view = c.get("left")
        job = c.run("sleep", params={"rows": 100000, "ms": 20}, chunk=1, output=None)
        print("waiting", job.id, flush=True)
        job.result()
    """)
    line = child.stdout.readline().split()
    assert line[:1] == ["waiting"], line
    job_id = int(line[1])
    child.kill()
    child.wait(10)
    child.stdout.close()
    assert temp_objects(child.pid) == []
    with client_of(daemon) as c:
        # the daemon serves on; the child's dataset is the daemon's, intact, and deletable
        assert np.array_equal(c.get("left"), np.arange(1 << 20, dtype=np.float64))
        c._call("job.cancel", job=job_id)
        c.delete("left")
    h.still_serves(daemon)
    h.wait_pool_idle(daemon, 2)


def test_a_killed_put_leaves_no_object_and_old_leftovers_are_swept(daemon):
    """A put's copy is an anonymous memfd passed to the daemon: a client killed while holding it
    leaves nothing in /dev/shm. Objects an older client left there by name are still swept."""
    child = run_child(daemon, """
        from shmpool.shm import TempObject
        a = np.arange(1000.0)
        obj = TempObject(a, a.dtype)  # killed between filling its object and the put's reply
        print(obj.fd, flush=True)
        time.sleep(600)
    """)
    assert int(child.stdout.readline()) >= 0
    assert temp_objects(child.pid) == [], "a put's object has a name in /dev/shm"
    child.kill()
    child.wait(10)
    child.stdout.close()
    stale = "/dev/shm/shmpool-py.%d.0123abcd" % child.pid
    with open(stale, "wb"):
        pass
    try:
        with client_of(daemon) as c:
            assert c.stale_objects_removed == [os.path.basename(stale)]
        assert not os.path.exists(stale)
    finally:
        if os.path.exists(stale):
            os.unlink(stale)


# --------------------------------------------------------------------------- example and install

def test_rbf_example(daemon):
    script = os.path.join(h.REPO, "examples", "python", "rbf_seed002.py")
    res = subprocess.run([sys.executable, script, "--socket", daemon.socket_path, "--n", "400"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "matches NumPy" in res.stdout, res.stdout


def test_install_rule_installs_the_package(workdir):
    build_dir = os.path.dirname(h.SHMPOOLD)
    prefix = os.path.join(workdir, "prefix")
    res = subprocess.run(["cmake", "--install", build_dir, "--prefix", prefix], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    site = os.path.join(prefix, "lib", "python3", "dist-packages")
    res = subprocess.run([sys.executable, "-c", "import shmpool; print(shmpool.__file__)"], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=site), cwd=workdir, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == os.path.join(site, "shmpool", "__init__.py")
