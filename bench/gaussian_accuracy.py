#!/usr/bin/python3
"""gaussian's float32 error against SciPy with each `sums` (issue #15): one shmpoold build, the
four image shapes of gaussian_sizes.py (fewer images), data of one sign and of both signs.

Usage: bench/gaussian_accuracy.py [--build DIR]
Per case and sums: the largest error in ulps of SciPy's float32 result, the share of outputs that
differ from it, and the largest error over the bound the tests hold float32 sums to
(test_seed_kernels.float_sums_bound: (r0 + r1 + 10)·2^-24 of the filtered magnitudes).
"""
import argparse
import os
import sys
import tempfile

import numpy as np
from scipy.ndimage import gaussian_filter

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(BENCH, "..", "tests", "integration"))
import shmpool_side as sp  # noqa: E402
from test_seed_kernels import float_sums_bound  # noqa: E402

h = sp.h
CASES = [(2000, 28, 1.2), (200, 64, 2.0), (20, 256, 3.0), (2, 1024, 3.0)]  # images, side, sigma


def filtered(c, images, sigma, sums):
    job = h.run_job(c, "gaussian", {"images": "g"}, {"sigma": sigma, "sums": sums}, output="o")
    out = h.output_array(c, job)
    c.ok("dataset.delete", name="o")
    return out


def report(d, workdir):
    c = d.conn()
    print("| images | sigma | data | sums | max ulps | outputs differing | max error / bound |")
    print("|---|---|---|---|---|---|---|")
    for K, side, sigma in CASES:
        for low in (0.0, -1.0):
            images = (np.random.default_rng(side).random((K, side, side)) * (1 - low) + low).astype(np.float32)
            h.put_file(c, workdir, "g", images)
            ref = np.array([gaussian_filter(im, sigma) for im in images]).astype(np.float64)
            bound = float_sums_bound(images, sigma, "reflect", 4.0, 0.0)
            ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
            for sums in ("float64", "float32"):
                err = np.abs(filtered(c, images, sigma, sums).astype(np.float64) - ref)
                print(f"| {K}x{side}x{side} | {sigma} | [{low:g}, 1) | {sums} | {np.max(err / ulp):.0f} | "
                      f"{100 * np.mean(err > 0):.1f} % | {np.max(err / bound):.3f} |")
            c.ok("dataset.delete", name="g")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(BENCH, "..", "build"), help="DIR holding shmpoold")
    a = ap.parse_args()
    h.SHMPOOLD = os.path.abspath(os.path.join(a.build, "shmpoold"))
    with tempfile.TemporaryDirectory() as workdir:
        d = h.Daemon(workdir, workers=2, extra_args=["--log-level", "error"], label="gauss-accuracy")
        d.start()
        try:
            report(d, workdir)
        finally:
            assert d.stop() == 0, d.stderr_tail()
            h.assert_no_leaks(d)
            h.cleanup_instance(d)


if __name__ == "__main__":
    main()
