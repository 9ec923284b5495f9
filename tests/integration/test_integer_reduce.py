"""Whole-dataset reductions of every integer dtype at the edges (2**53 +- 1, INT64_MIN/MAX,
sums that wrap, uint8 sums past 255) against NumPy, through all three clients: the CLI's
--json, the C++ client (build/tests/reduce_client) and the Python client. Integer results
must come back as exact integers, never rounded through a double."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import shmpool_harness as h

sys.path.insert(0, os.path.join(h.REPO, "client", "python"))
import shmpool  # noqa: E402  (from the source tree)

BUILD_DIR = os.environ.get("SHMPOOL_BUILD_DIR", os.path.dirname(h.SHMPOOLD))
REDUCE_CLIENT = os.path.join(BUILD_DIR, "tests", "reduce_client")
OPS = ("sum", "mean", "min", "max", "argmin", "argmax")
I64 = np.iinfo(np.int64)
P53 = 2 ** 53


def edge_cases():
    """(name, array): the issue's examples, the int64 limits, wrapping sums, and each dtype's
    extremes; 2-D shapes so ranges (one a row) split the data."""
    r = h.rng(18)
    return [
        ("p53", np.array([P53 + 1, 0], dtype=np.int64)),
        ("near_p53", np.array([[P53 - 1, P53], [P53 + 1, -P53 - 1]], dtype=np.int64)),
        ("limits", np.array([[I64.min, I64.max], [0, -1]], dtype=np.int64)),
        ("wrap_up", np.array([2 ** 62, 2 ** 62 - 1, 3], dtype=np.int64)),
        ("wrap_down", np.array([[I64.min, I64.min], [5, -7]], dtype=np.int64)),
        ("all_max", np.full((3, 2), I64.max, dtype=np.int64)),
        ("big_random", r.integers(I64.min, I64.max, size=(16, 8), dtype=np.int64, endpoint=True)),
        ("i32_limits", np.array([[-2 ** 31, -2 ** 31], [-7, 2 ** 31 - 1]], dtype=np.int32)),
        ("i32_random", r.integers(-2 ** 31, 2 ** 31 - 1, size=(9, 7), dtype=np.int32, endpoint=True)),
        ("u8_255s", np.where(np.arange(1000) == 500, 0, 255).astype(np.uint8).reshape(10, 100)),
        ("u8_random", r.integers(0, 255, size=(12, 5), dtype=np.uint8, endpoint=True)),
    ]


def numpy_result(x, op):
    """What NumPy gives, as a Python number: sums in NumPy's accumulator (int64, uint64 for
    unsigned), extremes as the element, argmin/argmax as the flat index. A mean is a float64
    of the exact sum (documented: it does not round each element's contribution)."""
    if op == "mean":
        return float(sum(int(v) for v in x.ravel())) / x.size
    value = getattr(np, op)(x)
    assert op != "sum" or value.dtype == (np.uint64 if x.dtype.kind == "u" else np.int64)
    return value.item()


def check_value(got, want, op, what):
    if op == "mean":
        assert isinstance(got, float) and got == pytest.approx(want, rel=1e-15, abs=0), (what, got, want)
    else:
        assert type(got) is int and got == want, "%s: got %r, NumPy gives %r" % (what, got, want)


def test_python_client_integer_reductions_equal_numpy(daemon):
    with shmpool.Client(socket=daemon.socket_path, cleanup=True) as c:
        for name, x in edge_cases():
            c.put(name, x)
            for op in OPS:
                job = c.run("reduce", {"x": name}, {"op": op}, chunk=1)
                got = job.result(timeout=60)
                check_value(got, numpy_result(x, op), op, "python %s %s" % (op, name))
                if op in ("min", "max", "argmin", "argmax"):  # the extreme itself, exact
                    extreme = getattr(np, op.replace("arg", ""))(x).item()
                    assert type(job.value) is int and job.value == extreme, (op, name, job.value)
                    assert job.index == getattr(np, "arg" + op.replace("arg", ""))(x).item(), (op, name)


def test_cli_json_integer_reductions_equal_numpy(daemon, workdir):
    conn = daemon.conn()
    for name, x in edge_cases():
        h.put_file(conn, workdir, name, x)
        for op in OPS:
            res = h.run_cli(["--json", "run", "reduce", "--in", "x=" + name, "--param", "op=" + op, "--chunk", "1"],
                            socket_path=daemon.socket_path)
            assert res.returncode == 0, res.stderr
            result = json.loads(res.stdout)["result"]
            want = numpy_result(x, op)
            if op.startswith("arg"):
                check_value(result["index"], want, op, "cli %s %s" % (op, name))
                want = getattr(np, op[3:])(x).item()
            check_value(result["value"], want, "mean" if op == "mean" else "min", "cli %s %s" % (op, name))


def test_cpp_client_integer_reductions_equal_numpy(daemon, workdir):
    assert os.access(REDUCE_CLIENT, os.X_OK), "no %s (built with the tests)" % REDUCE_CLIENT
    conn = daemon.conn()
    for name, x in edge_cases():
        h.put_file(conn, workdir, name, x)
        r = subprocess.run([REDUCE_CLIENT, daemon.socket_path, name] + list(OPS), capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        for line in r.stdout.splitlines():
            got = json.loads(line)
            op, want = got["op"], numpy_result(x, got["op"])
            what = "c++ %s %s: %r" % (op, name, got)
            if op == "mean":
                assert got["kind"] == "double", what
                check_value(got["value"], want, op, what)
                continue
            if op.startswith("arg"):
                check_value(got["index"], want, op, what)
                want = getattr(np, op[3:])(x).item()
            unsigned_sum = op == "sum" and x.dtype.kind == "u" and want > I64.max
            assert got["kind"] == ("uint64" if unsigned_sum else "int64"), what
            check_value(got["value"], want, "min", what)
