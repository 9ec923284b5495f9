#!/usr/bin/python3
# Seed 002 (an RBF matrix f(r) = r^3/12 + r^2/6 over all pairs of N 3-D points, computed in
# the seed with RawArray + JoinableQueue + Process) redone with the shmpool Python client.
"""Usage: rbf_seed002.py [--instance NAME | --socket PATH] [--n N] [--seed S]

Needs a running shmpoold. Prints the time of the seed's single-process NumPy code and of
shmpool (put + job + zero-copy view) on the same points, and checks they agree."""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "client", "python"))
import shmpool  # noqa: E402  (the source tree's, else the installed one)


def numpy_rbf(nodes):
    """The seed's spCalcDistance: the whole N x N matrix in one process."""
    p, q = nodes, nodes.T
    rx, ry, rz = p[:, 0:1] - q[0:1], p[:, 1:2] - q[1:2], p[:, 2:3] - q[2:3]
    L = np.sqrt(rx * rx + ry * ry + rz * rz)
    return L * L * L / 12 + L * L / 6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instance", default="default")
    ap.add_argument("--socket", default=None)
    ap.add_argument("--n", type=int, default=3000, help="number of points (the seed used 3000)")
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    nodes = np.random.default_rng(args.seed).random((args.n, 3))

    t0 = time.perf_counter()
    reference = numpy_rbf(nodes)
    t_numpy = time.perf_counter() - t0

    with shmpool.Client(args.instance, args.socket, cleanup=True) as client:
        workers = len(client.workers())
        t0 = time.perf_counter()
        client.put("rbf_seed002.nodes", nodes)
        D = client.run("rbf", {"points": "rbf_seed002.nodes"}).result()
        t_shmpool = time.perf_counter() - t0
        err = float(np.max(np.abs(D - reference)))
        ok = np.allclose(D, reference, rtol=1e-12, atol=1e-12)

    print("N = %d points, %d workers, %d cores" % (args.n, workers, os.cpu_count()))
    print("numpy, one process:   %.3f s" % t_numpy)
    print("shmpool (put + rbf):  %.3f s  (%.2fx numpy)" % (t_shmpool, t_numpy / t_shmpool))
    print("max abs difference:   %.2e" % err)
    print("matches NumPy" if ok else "DOES NOT MATCH NumPy")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
