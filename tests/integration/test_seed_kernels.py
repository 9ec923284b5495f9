"""The seed kernels through a real daemon against SciPy: `gaussian` vs scipy.ndimage.gaussian_filter
per image, and `bilinear_exp_sum` vs RectBivariateSpline(kx=1, ky=1).ev summed (the seed's BigData)."""

import numpy as np
import pytest
from scipy.interpolate import RectBivariateSpline
from scipy.ndimage import gaussian_filter

import shmpool_harness as h

MODES = ["reflect", "nearest", "mirror", "wrap", "constant"]
# (sigma, truncate): the seed's sqrt(1.5), an anisotropic pair, an axis left alone, a short kernel
FILTERS = [(float(np.sqrt(1.5)), 4.0), ([0.7, 3.0], 4.0), ([0.0, 2.0], 4.0), (2.2, 1.5)]
F64_ATOL = 1e-12
BIL_RTOL = 1e-10


def reference_gaussian(images, sigma, mode, truncate, cval):
    return np.array([gaussian_filter(im, sigma, mode=mode, truncate=truncate, cval=cval) for im in images])


def float_sums_bound(images, sigma, mode, truncate, cval):
    """What float32 sums (param sums) may add to the error: (r0 + r1 + 10)·2^-24 of the filter of
    the images' magnitudes (docs/protocol.md), computed here in float64 by SciPy."""
    radius = [int(truncate * s + 0.5) if s > 1e-15 else 0 for s in np.broadcast_to(np.asarray(sigma, float), (2,))]
    magnitude = reference_gaussian(np.abs(images.astype(np.float64)), sigma, mode, truncate, abs(cval))
    return (sum(radius) + 10) * 2.0 ** -24 * magnitude


def assert_gaussian_close(got, ref, what, extra=0.0):
    assert got.dtype == ref.dtype and got.shape == ref.shape, "%s: %s %s vs %s %s" % (
        what, got.dtype, got.shape, ref.dtype, ref.shape)
    if got.dtype == np.float64:
        diff = np.max(np.abs(got - ref))
        assert diff <= F64_ATOL, "%s: max abs diff %g" % (what, diff)
    else:  # each of the two passes may round to the neighbouring float32; float sums: `extra` too
        tol = 2 * np.finfo(np.float32).eps * np.maximum(1.0, np.abs(ref.astype(np.float64))) + extra
        bad = np.abs(got.astype(np.float64) - ref.astype(np.float64)) > tol
        assert not bad.any(), "%s: %d elements beyond float32 rounding, first at %s" % (
            what, bad.sum(), np.argwhere(bad)[0])


def run_gaussian(c, name, images, sigma, mode, truncate, cval, chunk=None, sums="float64"):
    params = {"sigma": sigma, "mode": mode, "truncate": truncate, "cval": cval, "sums": sums}
    job = h.run_job(c, "gaussian", {"images": name}, params, chunk=chunk, output="out")
    out = job["output"]
    assert out["dtype"] == str(images.dtype) and list(out["shape"]) == list(images.shape), job
    got = h.output_array(c, job)
    c.ok("dataset.delete", name="out")
    return got


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_matches_scipy(daemon, workdir, mode, dtype):
    r = h.rng(MODES.index(mode) * 10 + (dtype == "float32"))
    images = (r.random((37, 28, 28)) * 4 - 1).astype(dtype)
    c = daemon.conn()
    h.put_file(c, workdir, "imgs", images)
    for sigma, truncate in FILTERS:
        cval = 0.5 if mode == "constant" else 0.0
        got = run_gaussian(c, "imgs", images, sigma, mode, truncate, cval, chunk=5)
        ref = reference_gaussian(images, sigma, mode, truncate, cval)
        assert_gaussian_close(got, ref, "%s %s sigma %s truncate %s" % (mode, dtype, sigma, truncate))


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_float32_sums_stay_within_their_bound_of_scipy(daemon, workdir, mode):
    """sums=float32 sums in float: within its documented bound of SciPy's double sums, and not
    SciPy's result (the sums are float's, so some outputs land on another float32)."""
    images = (h.rng(60 + MODES.index(mode)).random((37, 28, 28)) * 4 - 1).astype(np.float32)
    c = daemon.conn()
    h.put_file(c, workdir, "imgs", images)
    for sigma, truncate in FILTERS + [(3.0, 4.0)]:
        cval = 0.5 if mode == "constant" else 0.0
        got = run_gaussian(c, "imgs", images, sigma, mode, truncate, cval, chunk=5, sums="float32")
        ref = reference_gaussian(images, sigma, mode, truncate, cval)
        what = "%s sigma %s truncate %s, float32 sums" % (mode, sigma, truncate)
        assert_gaussian_close(got, ref, what, float_sums_bound(images, sigma, mode, truncate, cval))
        if truncate * np.max(sigma) >= 4:  # a few taps or more: float's roundings show
            assert np.count_nonzero(got != ref) > got.size // 100, what


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_tiny_images_and_wide_kernels(daemon, workdir, mode):
    """Radius larger than the image: scipy's boundary patterns repeat."""
    c = daemon.conn()
    r = h.rng(40 + MODES.index(mode))
    for shape in [(3, 1, 1), (4, 2, 3), (2, 3, 2), (2, 1, 9), (2, 7, 1)]:
        images = r.standard_normal(shape)
        h.put_inline(c, "tiny", images)
        for sigma in [3.0, [5.0, 0.6]]:
            got = run_gaussian(c, "tiny", images, sigma, mode, 4.0, -1.25, chunk=1)
            assert_gaussian_close(got, reference_gaussian(images, sigma, mode, 4.0, -1.25),
                                  "%s %s sigma %s" % (mode, shape, sigma))
        c.ok("dataset.delete", name="tiny")


@pytest.mark.parametrize("daemon", [1, 2], indirect=True, ids=["w1", "w2"])
def test_gaussian_one_image_and_few_large_images(daemon, workdir):
    """A 2-D dataset is one image; few large images are split into row blocks across ranges."""
    c = daemon.conn()
    r = h.rng(50)
    one = r.random((61, 45))
    h.put_file(c, workdir, "one", one)
    got = run_gaussian(c, "one", one, [2.0, 1.0], "mirror", 4.0, 0.0)
    assert_gaussian_close(got, gaussian_filter(one, [2.0, 1.0], mode="mirror"), "one 2-D image")
    big = r.random((2, 400, 70)).astype(np.float32)
    h.put_file(c, workdir, "big", big)
    for chunk in [None, 1, 3]:
        got = run_gaussian(c, "big", big, 3.0, "wrap", 4.0, 0.0, chunk=chunk)
        assert_gaussian_close(got, reference_gaussian(big, 3.0, "wrap", 4.0, 0.0), "2 large images chunk %s" % chunk)


def test_gaussian_bad_params_are_refused(daemon, workdir):
    c = daemon.conn()
    h.put_inline(c, "im", np.zeros((2, 4, 4)))
    for params, part in [({}, "sigma"), ({"sigma": 1, "order": 1}, "order"), ({"sigma": 1, "mode": "edge"}, "mode"),
                         ({"sigma": [1, 2, 3]}, "sigma"), ({"sigma": -1}, "sigma"),
                         ({"sigma": 1, "sums": "float32"}, "needs float32 images"),
                         ({"sigma": 1, "sums": "half"}, "'sums' must be")]:
        err = h.expect_error(h.submit(c, "gaussian", {"images": "im"}, params), "bad_param", str(params))
        assert part in err["message"], err
    h.put_inline(c, "ints", np.zeros((2, 4, 4), dtype=np.int32))
    h.expect_error(h.submit(c, "gaussian", {"images": "ints"}, {"sigma": 1}), "dtype_mismatch")


# --------------------------------------------------------------------------- bilinear_exp_sum

def bigdata(k, n, m, seed):
    r = h.rng(seed)
    Z = r.uniform(size=(k, n, n))
    P = r.uniform(0, n - 1, size=(m, 2))
    P[:4] = [[0, 0], [n - 1, n - 1], [0, n - 1], [n - 1, 0.5]]  # corners and the last cell
    return Z, P


def reference_per_grid(Z, P):
    n = Z.shape[1]
    out = []
    for g in range(Z.shape[0]):
        f = RectBivariateSpline(np.arange(n), np.arange(n), Z[g], kx=1, ky=1)
        out.append(np.sum(np.exp(f.ev(P[:, 0], P[:, 1]))))
    return np.array(out)


def rel(a, b):
    return abs(a - b) / abs(b)


def bilinear_value(c, chunk=None, per_grid=False):
    params = {"per_grid": True} if per_grid else {}
    job = h.run_job(c, "bilinear_exp_sum", {"Z": "Z", "P": "P"}, params, chunk=chunk)
    assert job["reduce"] == "sum" and job["value"] is not None, job
    return job


def test_bilinear_matches_scipy_and_per_grid(daemon, workdir):
    Z, P = bigdata(6, 17, 30000, 60)
    c = daemon.conn()
    h.put_file(c, workdir, "Z", Z)
    h.put_file(c, workdir, "P", P)
    ref = reference_per_grid(Z, P)
    job = bilinear_value(c)
    assert job["output"] is None, job
    assert rel(job["value"], ref.sum()) <= BIL_RTOL, (job["value"], ref.sum())
    for chunk in [None, 1, 4]:
        job = bilinear_value(c, chunk, per_grid=True)
        assert job["rows"] == 6, job
        assert rel(job["value"], ref.sum()) <= BIL_RTOL, (job["value"], ref.sum())
        sums = h.output_array(c, job)
        assert sums.dtype == np.float64 and sums.shape == (6,), sums
        np.testing.assert_allclose(sums, ref, rtol=BIL_RTOL, atol=0)
        c.ok("dataset.delete", name=job["output"]["name"])


def test_bilinear_same_value_for_any_chunking_and_worker_count(daemon_factory, workdir):
    Z, P = bigdata(50, 50, 20000, 61)
    ref = reference_per_grid(Z, P).sum()
    values = {}
    for workers in [1, 2]:
        d = daemon_factory.new(workers=workers)
        c = d.conn()
        h.put_file(c, workdir, "Z", Z)
        h.put_file(c, workdir, "P", P)
        for chunk in [1, 7, None]:
            job = bilinear_value(c, chunk)
            if chunk:
                h.check_job_done(job, chunk=chunk)
            values[(workers, chunk)] = job["value"]
    first = values[(1, 1)]
    assert rel(first, ref) <= BIL_RTOL, (first, ref)
    for key, value in values.items():
        assert rel(value, first) <= 1e-12, "value %r for (workers, chunk) %s differs from %r" % (value, key, first)


@pytest.mark.parametrize("bad", ["below", "beyond", "nan"])
def test_bilinear_point_outside_the_grid_fails_the_job(daemon, workdir, bad):
    Z, P = bigdata(4, 10, 5000, 62)
    P[3217] = {"below": [-0.25, 3.0], "beyond": [2.0, 9.5], "nan": [np.nan, 1.0]}[bad]
    c = daemon.conn()
    h.put_file(c, workdir, "Z", Z)
    h.put_file(c, workdir, "P", P)
    for per_grid in [False, True]:
        params = {"per_grid": True} if per_grid else {}
        err = h.expect_error(h.submit(c, "bilinear_exp_sum", {"Z": "Z", "P": "P"}, params), "range_failed")
        want = {"below": "point 3217 (-0.25, 3)", "beyond": "point 3217 (2, 9.5)", "nan": "point 3217 (nan, 1)"}[bad]
        assert want in err["message"] and "outside the grid" in err["message"], err
    assert sorted(d["name"] for d in c.ok("dataset.list")["datasets"]) == ["P", "Z"]  # no output left
    h.still_serves(daemon)
