"""Users' own Python functions on the pool (the `python` kernel, Client.map_ranges) against the real
shmpoold: results against NumPy, closures and module:function, failures contained, trust by uid."""

import io
import os
import re
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest

import shmpool_harness as h

sys.path.insert(0, h.PY_CLIENT_DIR)
import shmpool  # noqa: E402  (from the source tree)

GRACE = ["--cancel-grace", "0.2"]  # a worker stuck in an ended job's range is replaced soon


def client(d):
    return shmpool.Client(socket=d.socket_path, cleanup=True)


def worker_pids(d):
    return sorted(w["pid"] for w in d.workers())


# --------------------------------------------------------------------------- results

def test_map_ranges_output_equals_numpy_without_copying_inputs(daemon):
    P = h.rng(1).standard_normal((300, 3))
    scale = 1.5

    def rbf_rows(begin, end, points, out, params):
        assert not points.flags.writeable and not points.flags.owndata  # the dataset itself, mapped read-only
        r = np.sqrt(((points[begin:end, None] - points[None]) ** 2).sum(-1)) * params["scale"]
        out[begin:end] = r ** 3 / 12 + r ** 2 / 6

    with client(daemon) as c:
        c.put("P", P)
        D = c.map_ranges(rbf_rows, rows=len(P), inputs={"points": "P"}, out=("float64", (300, 300)),
                         params={"scale": scale}, chunk=7).result()
        r = np.sqrt(((P[:, None] - P[None]) ** 2).sum(-1)) * scale
        np.testing.assert_allclose(D, r ** 3 / 12 + r ** 2 / 6, rtol=1e-13, atol=0)
        assert not D.flags.writeable


@pytest.mark.parametrize("chunk", [1, 7, None])
def test_reductions_equal_numpy_whatever_the_chunking(daemon, chunk):
    x = h.rng(2).integers(-1000, 1000, size=1000).astype(np.float64)  # sums of these are exact
    y = h.rng(3).standard_normal(1000)
    with client(daemon) as c:
        c.put("x", x)
        c.put("y", y)
        total = c.map_ranges(lambda b, e, x: x[b:e].sum(), rows=len(x), inputs={"x": "x"}, reduce="sum",
                             chunk=chunk).result()
        assert total == x.sum()
        fsum = c.map_ranges(lambda b, e, y: float(np.sum(y[b:e])), rows=len(y), inputs={"y": "y"}, reduce="sum",
                            chunk=chunk).result()
        assert fsum == pytest.approx(np.sum(y), rel=1e-13, abs=1e-12)
        assert c.map_ranges(lambda b, e, y: y[b:e].min(), rows=len(y), inputs={"y": "y"}, reduce="min",
                            chunk=chunk).result() == y.min()
        assert c.map_ranges(lambda b, e, y: y[b:e].max(), rows=len(y), inputs={"y": "y"}, reduce="max",
                            chunk=chunk).result() == y.max()


@pytest.mark.parametrize("chunk", [1, 3])
def test_integer_reductions_are_exact_as_numpy(daemon, chunk):
    big = [2 ** 62, 2 ** 62 - 1, 3, 2 ** 53 + 1, -7, 2 ** 53, 2 ** 63 - 1, -(2 ** 63), 11]
    x = np.array(big, dtype=np.int64)
    with client(daemon) as c:
        c.put("x", x)
        for op in ("sum", "min", "max"):  # NumPy integer scalars: NumPy's int64 accumulator wraps
            got = c.map_ranges(lambda b, e, x, f=getattr(np, op): f(x[b:e]), rows=len(x), inputs={"x": "x"},
                               reduce=op, chunk=chunk).result()
            assert type(got) is int and got == int(getattr(np, op)(x)), op
        ints = c.map_ranges(lambda b, e: sum(2 ** 53 + 1 for _ in range(b, e)), rows=5, reduce="sum", chunk=chunk)
        assert ints.result() == 5 * (2 ** 53 + 1)  # Python ints, one past what a double holds
        assert c.map_ranges(lambda b, e: 2 ** 53 + 1 - b, rows=4, reduce="max", chunk=chunk).result() == 2 ** 53 + 1
        u = np.array([2 ** 64 - 1, 2 ** 63, 5, 1], dtype=np.uint64)
        unsigned = c.map_ranges(lambda b, e, u=u: u[b:e].sum(), rows=4, reduce="sum", chunk=chunk).result()
        assert unsigned == int(u.sum()) == 2 ** 63 + 5  # uint64 wraps as NumPy's


def test_mixed_int_and_float_partials_reduce_as_floats(daemon):
    def mixed(b, e):  # even ranges return an int past 2**53, odd ones a float
        return 2 ** 53 + 1 if b % 2 == 0 else 0.5

    values = [mixed(b, b + 1) for b in range(6)]
    with client(daemon) as c:
        total = c.map_ranges(mixed, rows=6, reduce="sum", chunk=1).result()
        assert type(total) is float and total == float(sum(Fraction(v) for v in values))  # rounded once
        top = c.map_ranges(mixed, rows=6, reduce="max", chunk=1).result()
        assert type(top) is float and top == float(2 ** 53 + 1)
        with pytest.raises(shmpool.PythonError, match="outside int64"):
            c.map_ranges(lambda b, e: 2 ** 63, rows=3, reduce="sum").result()  # never rounded silently
        with pytest.raises(shmpool.PythonError, match="not the complex"):
            c.map_ranges(lambda b, e: np.complex128(1j), rows=3, reduce="sum").result()


def test_closure_and_lambda(daemon):
    offset = 0.25
    weights = np.arange(1.0, 6.0)

    def make_rows(k):
        def rows(begin, end, out):  # a closure over k, offset and a NumPy array of the client
            for i in range(begin, end):
                out[i] = k * i + offset + weights.sum()
        return rows

    with client(daemon) as c:
        out = c.map_ranges(make_rows(3), rows=50, out=("float64", 50), chunk=4).result()
        np.testing.assert_array_equal(out, 3 * np.arange(50) + offset + weights.sum())
        assert c.map_ranges(lambda b, e: sum(range(b, e)), rows=100, reduce="sum", chunk=9).result() == 4950


@pytest.fixture
def module_dir(workdir, monkeypatch):
    """A directory on the daemon's (hence its workers') PYTHONPATH holding a module of functions."""
    path = os.path.join(workdir, "pymods")
    os.makedirs(path)
    with open(os.path.join(path, "shmpool_test_funcs.py"), "w") as f:
        f.write(textwrap.dedent("""
            import os
            calls = 0

            def squares(begin, end, x, out):
                out[begin:end] = x[begin:end] ** 2

            def count_calls(begin, end):
                global calls
                calls += 1
                return calls

            def blas_threads(begin, end):
                return int(os.environ["OPENBLAS_NUM_THREADS"]) + int(os.environ["OMP_NUM_THREADS"])
        """))
    monkeypatch.setenv("PYTHONPATH", path)
    return path


def test_module_function_runs_warm_and_keeps_one_blas_thread(daemon_factory, module_dir):
    d = daemon_factory.new(workers=1)
    x = h.rng(4).standard_normal(64)
    with client(d) as c:
        c.put("x", x)
        out = c.map_ranges("shmpool_test_funcs:squares", rows=64, inputs={"x": "x"}, out=("float64", 64)).result()
        np.testing.assert_array_equal(out, x ** 2)
        pids = worker_pids(d)
        first = c.map_ranges("shmpool_test_funcs:count_calls", rows=5, chunk=1, reduce="max").result()
        second = c.map_ranges("shmpool_test_funcs:count_calls", rows=5, chunk=1, reduce="max").result()
        assert (first, second) == (5, 10), "module state stays warm in the one worker across jobs"
        assert worker_pids(d) == pids
        assert c.map_ranges("shmpool_test_funcs:blas_threads", rows=1, reduce="sum").result() == 2
        with pytest.raises(shmpool.PythonError, match="ModuleNotFoundError"):
            c.map_ranges("no_such_module_here:f", rows=3).result()


def test_job_globals_do_not_leak_into_the_next_job(daemon_factory):
    d = daemon_factory.new(workers=1)

    def leave_a_global(begin, end):
        globals()["LEFT_BEHIND"] = begin
        return 1

    def look_for_it(begin, end):
        return int("LEFT_BEHIND" in globals())

    with client(d) as c:
        assert c.map_ranges(leave_a_global, rows=4, chunk=1, reduce="sum").result() == 4
        assert c.map_ranges(look_for_it, rows=4, chunk=1, reduce="sum").result() == 0


# --------------------------------------------------------------------------- failures

def test_exception_fails_the_job_with_its_traceback_and_the_worker_lives_on(daemon):
    def check_row(i):
        if i == 13:
            raise ValueError("row %d is unlucky" % i)

    def rows(begin, end):
        for i in range(begin, end):
            check_row(i)

    def write_input(begin, end, x):
        x[0] = 1.0

    with client(daemon) as c:
        pids = worker_pids(daemon)
        with pytest.raises(shmpool.PythonError) as e:
            c.map_ranges(rows, rows=40, chunk=5).result()
        assert e.value.code == "python_error"
        for part in ("Traceback", "check_row", "ValueError: row 13 is unlucky", "[10, 15)"):
            assert part in e.value.message, e.value.message
        c.put("x", np.zeros(8))
        with pytest.raises(shmpool.PythonError, match="read-only"):
            c.map_ranges(write_input, rows=1, inputs={"x": "x"}).result()
        with pytest.raises(shmpool.PythonError, match="SystemExit"):
            c.map_ranges(lambda b, e: sys.exit(3), rows=1).result()
        assert c.map_ranges(lambda b, e: e - b, rows=30, reduce="sum").result() == 30
        assert worker_pids(daemon) == pids, "a Python exception must not cost a worker"
        np.testing.assert_array_equal(c.get("x"), np.zeros(8))


def test_segfault_in_native_code_is_retried_then_range_failed(daemon_factory):
    d = daemon_factory.new(extra_args=["--max-attempts", "2"])

    def crash(begin, end):
        import ctypes
        if begin == 3:
            ctypes.string_at(0)  # SIGSEGV in the worker

    with client(d) as c:
        pids = worker_pids(d)
        with pytest.raises(shmpool.RangeFailed, match="failed 2 attempts"):
            c.map_ranges(crash, rows=6, chunk=1).result()
        assert c.map_ranges(lambda b, e: 1, rows=4, chunk=1, reduce="sum").result() == 4
        assert worker_pids(d) != pids


def test_endless_loop_ends_at_timeout_and_at_cancel(daemon_factory):
    d = daemon_factory.new(extra_args=GRACE)

    def forever(begin, end):
        while True:
            pass

    with client(d) as c:
        with pytest.raises(shmpool.JobTimedOut):
            c.map_ranges(forever, rows=2, chunk=1, timeout=0.5).result()
        job = c.map_ranges(forever, rows=2, chunk=1)
        h.wait_until(lambda: job.status()["state"] == "running" and any(w["job"] == job.id for w in d.workers()), 20)
        assert job.cancel()
        with pytest.raises(shmpool.JobCancelled):
            job.result()
        assert c.map_ranges(lambda b, e: 1, rows=8, chunk=1, reduce="sum").result() == 8


# --------------------------------------------------------------------------- requests and trust

def test_bad_python_requests_get_their_codes(daemon):
    conn = daemon.conn()
    h.expect_error(h.submit(conn, "python", params={"rows": 3, "python": "3.10", "function": "builtins:max"}),
                   "python_version_mismatch")
    h.expect_error(h.submit(conn, "python", params={"rows": 3, "python": "3.11"}), "missing_role")
    h.expect_error(h.submit(conn, "python", params={"rows": 3, "python": "3.11", "function": "max"}), "bad_param")
    h.expect_error(h.submit(conn, "python", params={"rows": 3, "python": "3.11", "function": "builtins:max",
                                                    "reduce": "mean"}), "bad_param")
    h.expect_error(h.submit(conn, "python", params={"rows": 3, "python": "3.11", "function": "builtins:max",
                                                    "output": {"dtype": "complex", "shape": [3]}}), "dtype_mismatch")
    done = h.expect_ok(h.submit(conn, "python", params={"rows": 10, "python": "3.11", "function": "builtins:max",
                                                        "reduce": "sum"}, chunk=3))
    assert done["value"] == 3 + 6 + 9 + 10  # max(begin, end) of each range is its end
    h.expect_error(conn.call("job.result", job=done["job"], range=0), "bad_request")  # numbers kept no object
    h.expect_error(conn.call("job.result", job=done["job"]), "bad_request")
    h.expect_error(conn.call("job.result", job=999, range=0), "unknown_job")
    assert "results" not in h.expect_ok(conn.call("job.drop_results", job=done["job"]))


def python_submit(rows=10):
    return {"verb": "job.submit", "kernel": "python", "wait": True, "chunk": 5,
            "params": {"rows": rows, "python": "3.11", "function": "builtins:max", "reduce": "sum"}}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
def test_only_trusted_uids_may_run_code(daemon_factory):
    d = daemon_factory.new(extra_args=["--allow-users", "nobody"])
    h.share_with_everyone(d)
    refused, plain = h.requests_as_nobody(d, [python_submit(), {"verb": "job.submit", "kernel": "noop",
                                                                  "params": {"rows": 4}, "wait": True}])
    h.expect_error(refused, "code_not_allowed")
    assert "code-users" in refused["error"]["message"]
    h.expect_ok(plain)  # connecting and built-in kernels stay allowed
    trusted = daemon_factory.new(extra_args=["--allow-users", "nobody", "--code-users", "nobody"], label="t")
    h.share_with_everyone(trusted)
    assert h.expect_ok(h.requests_as_nobody(trusted, [python_submit()])[0])["value"] == 15
    roots = h.expect_ok(trusted.conn().call(**python_submit()))["job"]
    others = h.requests_as_nobody(trusted, [{"verb": "job.result", "job": roots, "range": 0},
                                            {"verb": "job.drop_results", "job": roots}])
    for reply in others:  # another uid's job: neither read nor dropped
        h.expect_error(reply, "not_owner")


# --------------------------------------------------------------------------- objects back (map)

def result_objects(d):
    return [n for n in h.shm_entries(d.instance) if ".res" in n]


def no_result_objects_left(d, timeout=10.0):
    """True once no result object of `d` is left. A failed job's other ranges may still be
    running when the client hears of the failure; their late results go when they report."""
    return h.wait_until(lambda: result_objects(d) == [], timeout)


@pytest.mark.parametrize("chunk", [1, None])
def test_array_reductions_equal_numpy_whatever_the_chunking(daemon, chunk):
    X = h.rng(5).integers(-50, 50, size=(200, 6)).astype(np.float64)
    with client(daemon) as c:
        c.put("X", X)
        for op, ref in (("sum", X.sum(0)), ("min", X.min(0)), ("max", X.max(0))):
            reducer = getattr(np, op)
            got = c.map_ranges(lambda b, e, X, f=reducer: f(X[b:e], axis=0), rows=len(X), inputs={"X": "X"},
                               reduce=op, chunk=chunk).result()
            np.testing.assert_array_equal(got, ref)
        assert no_result_objects_left(daemon), result_objects(daemon)


def test_map_returns_any_objects_in_order(daemon):
    W = h.rng(6).standard_normal((10, 4))

    class Box:
        def __init__(self, i, v):
            self.i, self.v = i, v

    def describe(item, W):
        i, name = item
        return {"name": name * 2, "row": W[i % 10].copy(), "box": Box(i, float(W[i % 10].sum()))}

    items = [(i, "k%d" % i) for i in range(37)]
    with client(daemon) as c:
        c.put("W", W)
        got = c.map(describe, items, inputs={"W": "W"}, chunk=4).result()
        assert [g["name"] for g in got] == [n * 2 for _, n in items]
        for (i, _), g in zip(items, got):
            np.testing.assert_array_equal(g["row"], W[i % 10])
            assert (g["box"].i, g["box"].v) == (i, float(W[i % 10].sum()))
        big = c.map(lambda n: np.full(n, n, dtype=np.int64), [200_000, 3, 100_000]).result()  # megabytes back
        assert [b.tolist()[:2] for b in big] == [[200_000] * 2, [3] * 2, [100_000] * 2]
        assert c.map(len, ["abc", "", "xy"]).result() == [3, 0, 2]
        with pytest.raises(shmpool.PythonError, match="ZeroDivisionError"):
            c.map(lambda x: 1 / x, [1, 2, 0, 4], chunk=1).result()
        assert no_result_objects_left(daemon), result_objects(daemon)
    with client(daemon) as c:
        unread = c.map(str, range(40), chunk=3)
        assert unread.exception() is None and len(result_objects(daemon)) == 14  # one object per range
    assert no_result_objects_left(daemon), result_objects(daemon)  # cleanup drops results never read


def test_map_accounts_each_result_once_when_a_worker_is_killed(daemon_factory):
    d = daemon_factory.new(workers=2)

    def slow_square(x):
        import time
        time.sleep(0.02)
        return (x, x * x)

    items = list(range(120))
    with client(d) as c:
        job = c.map(slow_square, items, chunk=2)
        h.wait_until(lambda: job.progress().done >= 5, 30)
        busy = []
        h.wait_until(lambda: busy.extend(w["pid"] for w in d.workers() if w["job"] == job.id) or busy, 30)
        os.kill(busy[0], 9)
        got = job.result()
        assert got == [(x, x * x) for x in items]
        status = job.status()
        assert status["ranges_requeued"] >= 1, status
        assert no_result_objects_left(d), result_objects(d)


@pytest.mark.parametrize("limit, code", [("--max-shm-bytes-per-uid", "uid_bytes_limit"),
                                         ("--max-shm-bytes", "no_space")])
def test_kept_results_count_against_the_shm_quotas(daemon_factory, limit, code):
    d = daemon_factory.new(workers=2, extra_args=[limit, "1000000"])

    def block(i):
        return np.full(25_000, i, dtype=np.float64)  # a result object of about 200 kB

    with client(d) as c:
        with pytest.raises(shmpool.ShmpoolError) as failed:
            c.map(block, range(8), chunk=1).result()  # 1.6 MB of results
        assert failed.value.code == code, failed.value
        assert no_result_objects_left(d), result_objects(d)
        for _ in range(3):  # 600 kB each time: within the limit once the last job's results went
            got = c.map(block, range(3), chunk=1).result()
            assert [b.tolist() for b in got] == [[float(i)] * 25_000 for i in range(3)]
        kept = c.map(block, range(3), chunk=1)
        assert kept.exception() is None  # its results are kept, unread: 600 kB held
        with pytest.raises(shmpool.ShmpoolError) as refused:
            c.put("big", np.zeros(60_000))  # 480 kB more than the limit leaves
        assert refused.value.code == code, refused.value
        kept.result()  # read and dropped: the room is back
        c.put("big", np.zeros(60_000))
    assert no_result_objects_left(d), result_objects(d)


def test_result_with_progress_draws_a_tqdm_bar_to_the_total(daemon, monkeypatch):
    tqdm = pytest.importorskip("tqdm")  # python3-tqdm (scripts/setup.sh)
    x = h.rng(4).standard_normal(240)
    counts = []  # the bar's count after each move

    class CountingBar(tqdm.tqdm):
        def update(self, n=1):
            counts.append(self.n + n)
            return super().update(n)

    def slow_rows(begin, end, x, out):
        import time
        time.sleep(0.03)  # 12 ranges a worker: the job lasts several 100 ms event periods
        out[begin:end] = np.exp(x[begin:end])

    with client(daemon) as c:
        c.put("x", x)
        text = io.StringIO()
        bar = CountingBar(file=text, mininterval=0)
        got = c.map_ranges(slow_rows, rows=len(x), inputs={"x": "x"}, out=("float64", (240,)),
                           chunk=10).result(progress=bar)
        np.testing.assert_allclose(got, np.exp(x), rtol=1e-15)
        assert (bar.n, bar.total) == (24, 24)
        assert len(counts) >= 2 and counts == sorted(counts), counts  # moved while the job ran
        assert "24/24" in text.getvalue()
        bar.close()
        job = c.map(len, ["ab", "c", ""] * 5, chunk=2)
        assert job.result(progress=True) == [2, 1, 0] * 5  # a bar of its own, drawn and closed
        assert job.result(progress=True) == [2, 1, 0] * 5  # the job has ended: the full bar at once
        monkeypatch.setitem(sys.modules, "tqdm", None)  # as without tqdm installed
        job = c.map(len, ["a", "bc"])
        with pytest.raises(ImportError, match="python3-tqdm"):
            job.result(progress=True)
        assert job.result() == [1, 2]
        assert no_result_objects_left(daemon), result_objects(daemon)


# --------------------------------------------------------------------------- Executor and joblib

def test_executor_submit_and_map(daemon):
    with shmpool.Executor(socket=daemon.socket_path) as ex:
        futures = [ex.submit(pow, i, 2) for i in range(10)]
        assert [f.result() for f in futures] == [i * i for i in range(10)]
        assert list(ex.map(lambda a, b: a - b, range(20), range(0, 40, 2))) == [-i for i in range(20)]
        bad = ex.submit(int, "not a number")
        assert isinstance(bad.exception(), shmpool.PythonError) and "ValueError" in str(bad.exception())
    assert no_result_objects_left(daemon), result_objects(daemon)


def file_waiter():
    """wait_for_file(path), in a worker: True once `path` exists (the client side made it),
    False after 30 s. Made here so that cloudpickle ships it by value."""
    def wait_for_file(path):
        import time
        for _ in range(3000):
            if os.path.exists(path):
                return True
            time.sleep(0.01)
        return False
    return wait_for_file


def gated_bar(tqdm, gate, counts):
    """A tqdm bar into a string that records its counts and creates `gate` when it first moves."""
    class GateBar(tqdm.tqdm):
        def update(self, n=1):
            counts.append(self.n + n)
            open(gate, "w").close()
            return super().update(n)
    text = io.StringIO()
    return GateBar(file=text, mininterval=0), text


def test_executor_progress_reaches_the_total_and_moves_during_the_run(daemon, tmp_path):
    tqdm = pytest.importorskip("tqdm")
    wait_for_file = file_waiter()
    counts, gate = [], str(tmp_path / "moved")
    bar, text = gated_bar(tqdm, gate, counts)
    with shmpool.Executor(socket=daemon.socket_path, progress=bar) as ex:  # a bar over the submitted calls
        futures = [ex.submit(pow, i, 2) for i in range(5)] + [ex.submit(wait_for_file, gate)]
        assert [f.result() for f in futures] == [0, 1, 4, 9, 16, True]  # the last call saw the bar move
    assert (bar.n, bar.total) == (6, 6) and "6/6" in text.getvalue()
    assert counts == sorted(counts) and counts[0] < 6, counts

    counts, gate = [], str(tmp_path / "map-moved")
    bar, text = gated_bar(tqdm, gate, counts)
    with shmpool.Executor(socket=daemon.socket_path) as ex:  # map: its job's ranges
        got = list(ex.map(lambda i, g=gate: wait_for_file(g) if i == 11 else i, range(12), chunksize=1,
                          progress=bar))
    assert got == list(range(11)) + [True]
    assert (bar.n, bar.total) == (12, 12) and "12/12" in text.getvalue()
    assert counts == sorted(counts) and counts[0] < 12, counts
    assert no_result_objects_left(daemon), result_objects(daemon)


def test_joblib_verbose_lists_tasks_as_they_complete(daemon, tmp_path, monkeypatch):
    joblib = pytest.importorskip("joblib")
    from shmpool.joblib import register
    register()
    gate, lines, wait_for_file = str(tmp_path / "done-printed"), [], file_waiter()

    class Recorder:  # joblib writes its progress to sys.stderr
        def write(self, text):
            lines.append(text)
            if "Done" in text:
                open(gate, "w").close()

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Recorder())
    with joblib.parallel_backend("shmpool", n_jobs=2, socket=daemon.socket_path):
        got = joblib.Parallel(verbose=11)(joblib.delayed(lambda i, g=gate: wait_for_file(g) if i == 7 else i)(i)
                                         for i in range(8))
    monkeypatch.undo()
    assert got == list(range(7)) + [True]  # the last task saw a "Done" line printed before it ended
    done = [int(n) for n in re.findall(r"Done\s+(\d+)", "".join(lines))]
    assert len(done) >= 2 and done == sorted(done) and done[-1] == 8, lines
    assert "Done   8 out of   8" in "".join(lines), lines


def test_a_failed_joblib_batch_cancels_the_others_and_shutdown_can_cancel(daemon_factory, tmp_path):
    joblib = pytest.importorskip("joblib")
    from shmpool.joblib import register
    register()
    d, never, wait_for_file = daemon_factory.new(extra_args=GRACE), str(tmp_path / "never"), file_waiter()

    def task(i, never=never):
        if i == 0:
            raise ValueError("batch 0 fails")
        return wait_for_file(never)  # 30 s unless cancelled

    with d.conn() as conn:
        before = conn.ok("stats")["jobs"]["cancelled"]
        with pytest.raises(shmpool.PythonError, match="batch 0 fails"):
            with joblib.parallel_backend("shmpool", n_jobs=2, socket=d.socket_path):
                joblib.Parallel(batch_size=1)(joblib.delayed(task)(i) for i in range(4))
        assert conn.ok("stats")["jobs"]["cancelled"] - before == 3  # not waited for: cancelled
        assert conn.ok("stats")["active_jobs"] == []

    with shmpool.Executor(socket=d.socket_path) as ex:
        waiting = [ex.submit(wait_for_file, never) for _ in range(12)]  # 8 awaited, 4 in line
        ex.shutdown(wait=False, cancel_futures=True)
        for job in [f.shmpool_job for f in waiting]:
            job.cancel()  # the 8 awaited ones run on: end them here
    assert sum(f.cancelled() for f in waiting) == 4
    assert no_result_objects_left(d), result_objects(d)


def test_joblib_backend_puts_large_arrays_once_and_sklearn_predicts_as_one_process(daemon):
    joblib = pytest.importorskip("joblib")
    ensemble = pytest.importorskip("sklearn.ensemble")
    datasets_ = pytest.importorskip("sklearn.datasets")
    from shmpool.joblib import register
    register()
    X = h.rng(7).standard_normal((40_000, 8))  # 2.5 MB: a dataset, not pickled per task

    def column_sum(X, j):
        assert not X.flags.writeable  # the dataset, mapped read-only
        return X[:, j].sum()

    with joblib.parallel_backend("shmpool", n_jobs=2, socket=daemon.socket_path):
        sums = joblib.Parallel()(joblib.delayed(column_sum)(X, j) for j in range(8))
    np.testing.assert_allclose(sums, X.sum(0), rtol=1e-12)

    sparse = pytest.importorskip("scipy.sparse")
    S = sparse.random(20_000, 40, density=0.25, format="csc", random_state=9)  # 2.4 MB: three datasets

    def sparse_column_sum(S, j):
        assert S.format == "csc" and not S.data.flags.writeable and not S.indices.flags.owndata  # mapped
        return S[:, j].sum()

    with joblib.parallel_backend("shmpool", n_jobs=2, socket=daemon.socket_path):
        sums = joblib.Parallel()(joblib.delayed(sparse_column_sum)(S, j) for j in range(6))
    np.testing.assert_allclose(sums, np.asarray(S.sum(0)).ravel()[:6], rtol=1e-12)

    Xc, yc = datasets_.make_classification(n_samples=600, n_features=20, n_informative=6, random_state=0)
    one = ensemble.RandomForestClassifier(n_estimators=24, n_jobs=1, random_state=3).fit(Xc, yc)
    with daemon.conn() as conn:
        jobs_before = conn.ok("stats")["jobs"]["submitted"]
    with joblib.parallel_backend("shmpool", n_jobs=2, socket=daemon.socket_path):
        pooled = ensemble.RandomForestClassifier(n_estimators=24, n_jobs=2, random_state=3).fit(Xc, yc)
    np.testing.assert_array_equal(pooled.predict(Xc), one.predict(Xc))
    np.testing.assert_array_equal(pooled.predict_proba(Xc), one.predict_proba(Xc))
    with daemon.conn() as conn:
        assert conn.ok("stats")["jobs"]["submitted"] > jobs_before, "the trees were not fitted on the pool"
        assert conn.ok("dataset.list")["datasets"] == []  # the backend deleted what it put
    assert no_result_objects_left(daemon), result_objects(daemon)


def test_a_sparse_input_arrives_as_a_csr_matrix_without_a_copy(daemon):
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(300, 50, density=0.05, format="csr", random_state=4)
    w = h.rng(8).standard_normal(50)

    def rows(begin, end, X, w, out):
        assert sparse.isspmatrix_csr(X) and not X.data.flags.writeable and not X.data.flags.owndata
        out[begin:end] = X[begin:end] @ w

    with client(daemon) as c:
        c.put("w", w)
        out = c.map_ranges(rows, rows=300, inputs={"X": X, "w": "w"}, out=("float64", 300), chunk=64).result()
        np.testing.assert_allclose(out, X @ w, rtol=1e-13, atol=1e-15)
        assert c.map(lambda i, X: X[i].nnz, range(300), inputs={"X": X}).result() == list(np.diff(X.indptr))
        assert [d.name for d in c.datasets() if d.name.startswith("_py.")] == []  # the parts went with the jobs
