"""Focused timing behind bench/analysis.md's page-floor section: gaussian 20000x28x28 and
euclidean 4000x4000 (d=64) as shmpool jobs with 1 and 2 workers, beside SciPy, sklearn and the
bare dgemm; medians of 7 after a warm-up. Usage: /usr/bin/python3 bench/page_focus.py BUILD_DIR
"""
import os
import statistics
import sys
import tempfile
import time

import numpy as np

if len(sys.argv) != 2:
    sys.exit("usage: /usr/bin/python3 bench/page_focus.py BUILD_DIR (with shmpoold and shmpool)")
os.environ["SHMPOOLD"] = os.path.join(os.path.abspath(sys.argv[1]), "shmpoold")
os.environ["SHMPOOL_CLI"] = os.path.join(os.path.abspath(sys.argv[1]), "shmpool")
import library_baselines as lb  # noqa: E402
import references as ref  # noqa: E402
import shmpool_side as side  # noqa: E402
from workloads import SIGMA  # noqa: E402

REPEAT = 7


def median_s(call):
    call()
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    images = np.random.default_rng(2000).random((20000, 28, 28))
    X, Y = np.random.default_rng(2017).random((4000, 64)), np.random.default_rng(1).random((4000, 64))
    print("before:", os.popen("uptime").read().strip())
    print("SciPy gaussian_filter        %.3f s" % median_s(lambda: ref.scipy_gaussian(images, SIGMA)))
    print("sklearn pairwise n_jobs=2    %.3f s" % median_s(lambda: lb.sklearn_euclidean(X, Y, 2)))
    print("sklearn pairwise n_jobs=1    %.3f s" % median_s(lambda: lb.sklearn_euclidean(X, Y, 1)))
    print("NumPy X @ Y.T (dgemm only)   %.3f s" % median_s(lambda: X @ Y.T))
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as workdir, side.daemon(workdir, workers) as d:
            side.put(d, "images", images)
            side.put(d, "X", X)
            side.put(d, "Y", Y)
            g, _ = side.job_walls(d, "gaussian", {"images": "images"}, {"sigma": SIGMA}, REPEAT)
            e, _ = side.job_walls(d, "euclidean", {"X": "X", "Y": "Y"}, {}, REPEAT)
            print("shmpool %d worker(s) gaussian %.3f s, euclidean %.3f s" % (workers, g["median"], e["median"]))
    print("after:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
