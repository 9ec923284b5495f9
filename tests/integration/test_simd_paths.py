"""Runtime CPU dispatch through a real daemon: SHMPOOL_CPU forces each SIMD path this build and
CPU offer, `kernels` names it, and gaussian, bilinear_exp_sum, cdist, reduce, rbf, euclidean and
map agree with SciPy/NumPy on every path."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.spatial.distance import cdist

import shmpool_harness as h
from test_cdist_map_reduce import check_whole, exact_of, float_input, max_ulps, ULPS_TO_EXACT
from test_seed_kernels import assert_gaussian_close, bigdata, float_sums_bound, reference_per_grid, rel, BIL_RTOL

PATHS = ["baseline", "avx2", "avx512", "native"]
DISPATCHED = {"bilinear_exp_sum", "cdist", "euclidean", "gaussian", "map", "rbf", "reduce"}


@pytest.fixture(scope="module")
def offered():
    """The paths a daemon with no SHMPOOL_CPU offers (compiled in this build, run by this CPU)."""
    workdir = h.mkworkdir()
    d = h.Daemon(workdir, workers=1, label="probe")
    try:
        d.start()
        with d.conn() as c:
            simd = c.ok("kernels")["simd"]
    finally:
        d.stop()
        h.assert_no_leaks(d)
        h.cleanup_instance(d)
        h.rmworkdir(workdir)
    assert simd["forced_by"] is None and simd["path"] == simd["available"][-1], simd
    assert set(simd["available"]) <= set(simd["compiled"]) and simd["available"][0] == "baseline", simd
    return simd["available"]


def check_kernels_reply(c, path):
    reply = c.ok("kernels")
    assert reply["simd"]["path"] == path and reply["simd"]["forced_by"] == "SHMPOOL_CPU=" + path, reply["simd"]
    for k in reply["kernels"]:
        assert k.get("simd") == (path if k["name"] in DISPATCHED else None), k


@pytest.mark.parametrize("path", PATHS)
def test_every_path_agrees_with_scipy(daemon_factory, workdir, offered, path):
    if path not in offered:
        pytest.skip("this build or CPU lacks the %s path (offered: %s)" % (path, offered))
    d = daemon_factory.new(workers=2, env={"SHMPOOL_CPU": path})
    c = d.conn()
    check_kernels_reply(c, path)
    r = h.rng(PATHS.index(path))
    cases = [("float64", (9, 37, 29), 1.7, "reflect", "float64"), ("float32", (9, 37, 29), [0.8, 2.5], "constant",
             "float64"), ("float32", (3, 5, 3), 2.0, "mirror", "float64"),  # rows shorter than any vector
             ("float32", (9, 37, 29), [0.8, 2.5], "constant", "float32"), ("float32", (3, 5, 3), 2.0, "mirror",
             "float32")]
    for dtype, shape, sigma, mode, sums in cases:
        images = (r.random(shape) * 4 - 1).astype(dtype)
        h.put_file(c, workdir, "imgs", images)
        job = h.run_job(c, "gaussian", {"images": "imgs"}, {"sigma": sigma, "mode": mode, "cval": 0.5, "sums": sums},
                        chunk=2, output="out")
        ref = np.array([gaussian_filter(im, sigma, mode=mode, cval=0.5) for im in images])
        extra = float_sums_bound(images, sigma, mode, 4.0, 0.5) if sums == "float32" else 0.0
        assert_gaussian_close(h.output_array(c, job), ref, "%s %s %s, %s sums" % (path, dtype, shape, sums), extra)
        c.ok("dataset.delete", name="out")
        c.ok("dataset.delete", name="imgs")
    Z, P = bigdata(3, 11, 4099, 70)  # 4099 points: a partial tile and a scalar tail
    h.put_file(c, workdir, "Z", Z)
    h.put_file(c, workdir, "P", P)
    job = h.run_job(c, "bilinear_exp_sum", {"Z": "Z", "P": "P"}, {"per_grid": True}, chunk=1)
    ref = reference_per_grid(Z, P)
    assert rel(job["value"], ref.sum()) <= BIL_RTOL, (path, job["value"], ref.sum())
    np.testing.assert_allclose(h.output_array(c, job), ref, rtol=BIL_RTOL, atol=0)
    check_cdist(c, workdir, r, path)
    check_reduce(c, workdir, r, path)
    check_rbf(c, workdir, r, path)
    check_euclidean(c, workdir, r, path)
    check_map(c, workdir, path)


def check_rbf(c, workdir, r, path):
    """rbf of 2051 points (a full tile of columns and a vector tail) against SciPy's distances."""
    pts = r.standard_normal((2051, 3))
    h.put_file(c, workdir, "pts", pts)
    job = h.run_job(c, "rbf", {"points": "pts"}, chunk=97)
    dist = cdist(pts, pts)
    h.assert_close(h.output_array(c, job), dist ** 3 / 12 + dist ** 2 / 6, 1e-12, "%s rbf" % path)
    c.ok("dataset.delete", name=job["output"]["name"])
    c.ok("dataset.delete", name="pts")


def check_euclidean(c, workdir, r, path):
    """The direct loop (d <= 16) and the pass after BLAS (larger d), with rows of Y equal to rows
    of X (distance 0: the entries at risk of cancellation, redone directly), and sqeuclidean."""
    for d in (3, 41):
        X = r.standard_normal((37, d)) * 3.0 + 100.0
        Y = np.concatenate([r.standard_normal((26, d)) + 100.5, X[[4, 9, 30]]])
        h.put_file(c, workdir, "X", X)
        h.put_file(c, workdir, "Y", Y)
        for kernel, params, metric in (("euclidean", {}, "euclidean"), ("cdist", {"metric": "sqeuclidean"},
                                                                         "sqeuclidean")):
            job = h.run_job(c, kernel, {"X": "X", "Y": "Y"}, params, chunk=5)
            got, want = h.output_array(c, job), cdist(X, Y, metric)
            h.assert_close(got, want, 1e-9, "%s %s d=%d" % (path, metric, d))
            assert got[4, 26] == got[9, 27] == got[30, 28] == 0.0, (path, metric, d)
            c.ok("dataset.delete", name=job["output"]["name"])
        c.ok("dataset.delete", name="X")
        c.ok("dataset.delete", name="Y")


def check_map(c, workdir, path):
    """A float op of each dtype within libm's ulps of the exact value, and an integer op exact."""
    for dtype in ("float64", "float32"):
        x = float_input(dtype, 5)
        h.put_file(c, workdir, "x", x)
        for op in ("exp", "sigmoid"):
            job = h.run_job(c, "map", {"x": "x"}, {"op": op}, chunk=97)
            got, exact = h.output_array(c, job), exact_of(op, x)
            normal = ~(np.abs(exact) < np.finfo(dtype).tiny)
            assert max_ulps(got[normal], exact[normal]) <= ULPS_TO_EXACT[op], (path, op, dtype)
            c.ok("dataset.delete", name=job["output"]["name"])
        c.ok("dataset.delete", name="x")
    ints = np.arange(-500, 500, dtype=np.int32).reshape(100, 10) * 70001
    h.put_file(c, workdir, "ints", ints)
    job = h.run_job(c, "map", {"x": "ints"}, {"op": "square"}, chunk=7)
    with np.errstate(over="ignore"):
        assert np.array_equal(h.output_array(c, job), ints * ints), path
    c.ok("dataset.delete", name=job["output"]["name"])
    c.ok("dataset.delete", name="ints")


def check_cdist(c, workdir, r, path):
    """cityblock and minkowski, by the transposed (small d) and the blocked (larger d) loop."""
    for d in (3, 41):
        X, Y = r.standard_normal((37, d)) * 3.0, r.standard_normal((29, d)) + 0.5
        h.put_file(c, workdir, "X", X)
        h.put_file(c, workdir, "Y", Y)
        for metric, extra in (("cityblock", {}), ("minkowski", {}), ("minkowski", {"p": 3})):
            job = h.run_job(c, "cdist", {"X": "X", "Y": "Y"}, dict(metric=metric, **extra), chunk=5)
            h.assert_close(h.output_array(c, job), cdist(X, Y, metric, **extra), 1e-12,
                           "%s cdist %s %s d=%d" % (path, metric, extra, d))
            c.ok("dataset.delete", name=job["output"]["name"])
        c.ok("dataset.delete", name="X")
        c.ok("dataset.delete", name="Y")


def check_reduce(c, workdir, r, path):
    """sum, min and max of float64 and float32 (a NaN in the second), ranges of odd lengths."""
    for dtype in ("float64", "float32"):
        x = (r.standard_normal(10007) * 10 + 1).astype(dtype)
        for name, arr in (("x", x), ("x_nan", np.where(np.arange(x.size) == 6001, np.nan, x).astype(dtype))):
            h.put_file(c, workdir, name, arr)
            for op in ("sum", "min", "max"):
                check_whole(h.run_job(c, "reduce", {"x": name}, {"op": op}, chunk=997), op, arr)
            c.ok("dataset.delete", name=name)


@pytest.mark.parametrize("value", ["sse9", "AVX2"])
def test_a_path_the_build_lacks_stops_the_start(daemon_factory, value):
    d = daemon_factory.new(start=False, env={"SHMPOOL_CPU": value})
    d.expected_rc = 1
    d.refused = True
    d.spawn()
    assert d.wait_exit() == 1
    assert "SHMPOOL_CPU=%s names no SIMD path" % value in d.stderr_text(), d.stderr_text()
