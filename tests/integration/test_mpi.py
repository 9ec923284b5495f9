"""shmpool-mpi under `mpirun -n 1, 2, 3` against NumPy/SciPy and against a real daemon given the
same inputs and chunk: outputs and reduced values equal bit for bit, request errors word for word;
a rank killed mid-job leaves nothing in /dev/shm and no file under the output's name."""

import json
import math
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from scipy.interpolate import RectBivariateSpline
from scipy.ndimage import gaussian_filter
from scipy.spatial.distance import cdist

import shmpool_harness as h

MPIRUN = shutil.which("mpirun")
SHMPOOL_MPI = os.environ.get("SHMPOOL_MPI", os.path.join(h.REPO, "build", "mpi", "shmpool-mpi"))
PLUGIN_DIR = os.environ.get("SHMPOOL_PLUGIN_DIR", os.path.join(h.REPO, "build", "plugins"))
MPI_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(MPIRUN is None, reason="mpirun (Open MPI: openmpi-bin) is not installed")


def mpirun_argv(ranks, kernel, files, params, chunk, out, extra=()):
    argv = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), SHMPOOL_MPI, "run", kernel, "--json"]
    for role, path in files.items():
        argv += ["--in", "%s=%s" % (role, path)]
    for key, value in params.items():
        argv += ["--param", "%s=%s" % (key, json.dumps(value))]
    if chunk:
        argv += ["--chunk", str(chunk)]
    if out:
        argv += ["--out", out]
    return argv + list(extra)


def reap_orphaned_ranks(timeout=10.0):
    """mpirun may exit before it reaps a rank it aborted; the test process (the harness makes it a
    subreaper) adopts such a rank and reaps it here, so no zombie outlives the test."""
    def none_left():
        left = False
        for pid, state in h.children_of(os.getpid()):
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().strip() != "shmpool-mpi":
                        continue
            except (FileNotFoundError, ProcessLookupError):
                continue
            left = left or not (state == "Z" and h.reap_if_our_zombie(pid))
        return not left

    assert h.wait_until(none_left, timeout), "ranks of shmpool-mpi still running after mpirun exited"


def rank_env():
    """The ranks' environment. Under ASan, Open MPI's own allocations (in components it dlcloses
    at exit, so LeakSanitizer cannot name them to suppress) are reported as leaks: the ranks run
    with memory-error checks but no leak check. shmpool's code in them (kernels, plans, partials)
    is leak-checked by the unit tests and the daemon's tests."""
    env = dict(os.environ)
    if h.SANITIZED:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def run_mpirun(argv, workdir):
    try:
        return subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=MPI_TIMEOUT,
                              env=rank_env())
    finally:
        reap_orphaned_ranks()


def mpi_run(workdir, ranks, kernel, inputs, params=None, chunk=None, out=None, extra=()):
    """Runs shmpool-mpi on arrays `inputs` (saved as .npy); returns (exit status, reply, output array)."""
    assert os.access(SHMPOOL_MPI, os.X_OK), "no shmpool-mpi at %s (set SHMPOOL_MPI)" % SHMPOOL_MPI
    files = {}
    for role, arr in inputs.items():
        files[role] = os.path.join(workdir, "mpi-in-%s.npy" % role)
        np.save(files[role], np.ascontiguousarray(arr))
    out_path = os.path.join(workdir, out) if out else None
    argv = mpirun_argv(ranks, kernel, files, params or {}, chunk, out_path, extra)
    p = run_mpirun(argv, workdir)
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("{")]
    assert len(lines) == 1, "expected one JSON reply from %s\nstdout: %s\nstderr: %s" % (argv, p.stdout, p.stderr)
    reply = json.loads(lines[0])
    got = np.load(out_path) if out_path and p.returncode == 0 else None
    return p.returncode, reply, got


def daemon_run(c, workdir, kernel, inputs, params=None, chunk=None, with_output=False):
    """The same job through the daemon; returns (reply, output array). Its datasets are deleted."""
    for role, arr in inputs.items():
        h.put_file(c, workdir, "in_" + role, arr)
    reply = h.submit(c, kernel, {r: "in_" + r for r in inputs}, params or {}, chunk, "out" if with_output else None)
    got = None
    if reply.get("ok") and with_output:
        got = h.output_array(c, reply["result"])
    for name in ["in_" + r for r in inputs] + (["out"] if with_output and reply.get("ok") else []):
        c.ok("dataset.delete", name=name)
    return reply, got


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------- references

def ref_gaussian(images, sigma):
    return np.array([gaussian_filter(im, sigma, mode="reflect", truncate=4.0) for im in images])


def ref_bilinear(Z, P):
    n = Z.shape[1]
    return sum(math.fsum(np.exp(RectBivariateSpline(np.arange(n), np.arange(n), g, kx=1, ky=1).ev(P[:, 0], P[:, 1])))
               for g in Z)


def bilinear_inputs(k, n, m, seed):
    r = h.rng(seed)
    P = r.uniform(0, n - 1, size=(m, 2))
    P[:2] = [[0, 0], [n - 1, n - 1]]
    return {"Z": r.uniform(size=(k, n, n)), "P": P}


r = h.rng(14)
X53, Y31 = r.standard_normal((53, 5)), r.standard_normal((31, 5))
POINTS = r.random((45, 3))
IMAGES = r.random((13, 20, 17))
BIG_IMAGE = r.random((61, 45)).astype(np.float32)
BIL = bilinear_inputs(5, 12, 3001, 15)
VEC = r.standard_normal(1001)
TIES = np.array([3.0, 7.0, 1.0, 7.0, 1.0, 7.0])
INTS = r.integers(-1000, 1000, size=(401, 3)).astype(np.int64)
CUBE = r.standard_normal((7, 6, 9))

# (id, ranks, kernel, inputs, params, chunk, reference of the output or None, reference of the value or None)
CASES = [
    ("euclidean", 3, "euclidean", {"X": X53, "Y": Y31}, {}, 7, lambda: h.ref_euclidean(X53, Y31), None),
    ("euclidean-one-range", 2, "euclidean", {"X": X53[:9], "Y": Y31}, {}, 20, lambda: h.ref_euclidean(X53[:9], Y31),
     None),
    ("rbf", 2, "rbf", {"points": POINTS}, {}, 4, lambda: h.ref_rbf(POINTS), None),
    ("cdist-minkowski", 3, "cdist", {"X": X53, "Y": Y31}, {"metric": "minkowski", "p": 3}, 11,
     lambda: cdist(X53, Y31, "minkowski", p=3), None),
    ("gaussian", 3, "gaussian", {"images": IMAGES}, {"sigma": 1.3}, 3, lambda: ref_gaussian(IMAGES, 1.3), None),
    ("gaussian-row-blocks", 3, "gaussian", {"images": BIG_IMAGE}, {"sigma": [2.0, 0.7]}, 7,
     lambda: gaussian_filter(BIG_IMAGE, [2.0, 0.7]), None),
    ("bilinear", 3, "bilinear_exp_sum", BIL, {}, 3, None, lambda: ref_bilinear(BIL["Z"], BIL["P"])),
    ("bilinear-per-grid", 2, "bilinear_exp_sum", BIL, {"per_grid": True}, None, None,
     lambda: ref_bilinear(BIL["Z"], BIL["P"])),
    ("map-exp", 2, "map", {"x": VEC}, {"op": "exp"}, 97, lambda: np.exp(VEC), None),
    ("map-square-int", 3, "map", {"x": INTS}, {"op": "square"}, 50, lambda: INTS * INTS, None),
    ("reduce-sum", 3, "reduce", {"x": VEC}, {"op": "sum"}, 13, None, lambda: math.fsum(VEC)),
    ("reduce-mean-2d", 2, "reduce", {"x": INTS}, {"op": "mean"}, 17, None, lambda: INTS.mean()),
    ("reduce-argmax-ties", 3, "reduce", {"x": TIES}, {"op": "argmax"}, 1, None, lambda: float(TIES.max())),
    ("reduce-min", 1, "reduce", {"x": VEC}, {"op": "min"}, 100, None, lambda: float(VEC.min())),
    ("reduce-max", 2, "reduce", {"x": VEC}, {"op": "max"}, 64, None, lambda: float(VEC.max())),
    ("reduce-argmin-int", 3, "reduce", {"x": INTS}, {"op": "argmin"}, 9, None, lambda: float(INTS.min())),
    ("reduce-axis", 1, "reduce", {"x": INTS.astype(np.float64)}, {"op": "sum", "axis": 1}, 31,
     lambda: INTS.astype(np.float64).sum(axis=1), None),
    # ranges that are not output rows: the ranks' bytes are merged (MPI_BOR) at the end
    ("reduce-axis-3d", 2, "reduce", {"x": CUBE}, {"op": "max", "axis": 1}, 5, lambda: CUBE.max(axis=1), None),
]


def check_against_reference(case_id, got, value, index, ref_out, ref_value, inputs):
    if ref_out is not None:
        ref = ref_out()
        rtol = 2e-6 if got.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=1e-12 if got.dtype != np.float32 else 1e-6,
                                   err_msg=case_id)
    if ref_value is not None:
        assert value == pytest.approx(ref_value(), rel=1e-10, abs=1e-12), case_id
    if case_id == "reduce-argmax-ties":
        assert index == 1, "argmax ties go to the lowest index, as NumPy's: %r" % index
    if case_id == "reduce-argmin-int":
        assert index == int(np.argmin(inputs["x"])), index


@pytest.mark.time_limit(240)
def test_seed_kernels_match_numpy_and_the_daemon_bit_for_bit(daemon, workdir):
    c = daemon.conn()
    for case_id, ranks, kernel, inputs, params, chunk, ref_out, ref_value in CASES:
        with_output = ref_out is not None or params.get("per_grid") is True
        rc, reply, got = mpi_run(workdir, ranks, kernel, inputs, params, chunk, "out.npy" if with_output else None)
        assert rc == 0 and reply["ok"], "%s: %s" % (case_id, reply)
        job = reply["result"]
        h.check_job_done(job, chunk=chunk)
        assert job["ranks"] == ranks and sum(job["ranges_by_rank"]) == job["ranges"], job
        check_against_reference(case_id, got, job.get("value"), job.get("index"), ref_out, ref_value, inputs)
        # the daemon (2 workers) given the same inputs and the job's chunk: the same bits
        dreply, dgot = daemon_run(c, workdir, kernel, inputs, params, job["chunk"], with_output)
        djob = h.expect_ok(dreply, case_id)
        for key in ("rows", "chunk", "ranges", "reduce", "value", "index"):
            assert job.get(key) == djob.get(key), "%s: %s %r (mpi) vs %r (daemon)" % (case_id, key, job.get(key),
                                                                                   djob.get(key))
        if with_output:
            assert same_bits(got, dgot), "%s: the output differs from the daemon's" % case_id
            assert job["output"]["dtype"] == djob["output"]["dtype"] and job["output"]["shape"] == djob["output"][
                "shape"], (job, djob)
        if got is not None:
            os.unlink(os.path.join(workdir, "out.npy"))


def test_same_value_for_one_two_and_three_ranks(workdir):
    """The value of a sum depends only on the chunk, never on how ranges fell on ranks."""
    x = h.rng(16).standard_normal(20000) * 1e6
    values = set()
    for ranks in (1, 2, 3):
        rc, reply, _ = mpi_run(workdir, ranks, "reduce", {"x": x}, {"op": "sum"}, 333)
        assert rc == 0, reply
        values.add(reply["result"]["value"])
    assert len(values) == 1, values


def test_plugin_kernel_through_kernel_dir(daemon_factory, workdir):
    d = daemon_factory.new(workers=2, extra_args=["--kernel-dir", PLUGIN_DIR])
    c = d.conn()
    r = h.rng(17)
    inputs = {"X": r.standard_normal((70, 6)), "w": r.standard_normal(6)}
    rc, reply, got = mpi_run(workdir, 3, "weighted_dot", inputs, {"offset": 0.5}, 9, "y.npy",
                             extra=["--kernel-dir", PLUGIN_DIR])
    assert rc == 0, reply
    np.testing.assert_allclose(got, inputs["X"] @ inputs["w"] + 0.5, rtol=1e-12, atol=1e-12)
    dreply, dgot = daemon_run(c, workdir, "weighted_dot", inputs, {"offset": 0.5}, 9, True)
    h.expect_ok(dreply)
    assert same_bits(got, dgot)


BAD = [
    ("no kernel", "nope", {"x": VEC}, {}),
    ("missing role", "euclidean", {"X": X53}, {}),
    ("unknown role", "map", {"x": VEC, "y": VEC}, {"op": "exp"}),
    ("bad param", "map", {"x": VEC}, {"op": "cube"}),
    ("shape mismatch", "euclidean", {"X": X53, "Y": r.standard_normal((4, 2))}, {}),
    ("range fails", "bilinear_exp_sum", {"Z": BIL["Z"][:1], "P": np.vstack([BIL["P"], [[40.0, 1.0]]])}, {}),
]


def test_bad_requests_fail_with_the_daemons_code_and_message(daemon, workdir):
    c = daemon.conn()
    for what, kernel, inputs, params in BAD:
        rc, reply, _ = mpi_run(workdir, 2, kernel, inputs, params, 500)
        dreply, _ = daemon_run(c, workdir, kernel, inputs, params, 500)
        derr = h.expect_error(dreply, dreply.get("error", {}).get("code", "?"), what)
        assert rc == 1 and reply["ok"] is False, (what, reply)
        assert reply["error"]["code"] == derr["code"] and reply["error"]["message"] == derr["message"], (
            what, reply, dreply)
        assert ("job" in reply["error"]) == ("job" in derr), (what, reply, dreply)


def test_usage_errors_exit_2(workdir):
    for args in (["walk", "map"], ["run", "map", "--chunk", "-3"]):
        p = run_mpirun([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", "2", SHMPOOL_MPI] + args, workdir)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert p.stderr.decode().count("shmpool-mpi: ") == 1, "one rank reports: %r" % p.stderr


# --------------------------------------------------------------------------- a rank killed mid-job

# /dev/shm entries that are not MPI's or shmpool-mpi's: daemons' instances, clients' objects,
# joblib and multiprocessing (other tests and benchmarks may make them while this one runs)
FOREIGN_SHM = ("shmpool.", "shmpool-client.", "joblib_", "sem.loky", "sem.mp-", "loky-", "psm_")


def shm_names():
    return {n for n in os.listdir("/dev/shm") if not n.startswith(FOREIGN_SHM)}


def rank_pids(mpirun_pid):
    """{rank: pid} of the ranks mpirun started."""
    out = {}
    for pid, _ in h.children_of(mpirun_pid):
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"OMPI_COMM_WORLD_RANK" in env:
            out[int(env[b"OMPI_COMM_WORLD_RANK"])] = pid
    return out


def test_killed_rank_leaves_no_segment_and_no_output(workdir, victim=0):
    """Rank 0, which created the .part and wrote its header, is SIGKILLed mid-job."""
    before = shm_names()
    x_path = os.path.join(workdir, "x.npy")
    np.save(x_path, np.arange(2_000_000, dtype=np.float64))
    out = os.path.join(workdir, "y.npy")
    argv = mpirun_argv(3, "map", {"x": x_path}, {"op": "sqrt"}, 1, out)  # two million one-row ranges: seconds
    proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=rank_env())
    try:
        def started():
            parts = [n for n in os.listdir(workdir) if n.endswith(".part")]
            return parts and os.path.getsize(os.path.join(workdir, parts[0])) > 4096 and len(rank_pids(proc.pid)) == 3
        assert h.wait_until(started, 60.0), "the job never started writing its output"
        os.kill(rank_pids(proc.pid)[victim], signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        reap_orphaned_ranks()
    assert proc.returncode != 0, "mpirun exited 0 after a rank was killed"
    assert not os.path.exists(out), "an output under the final name after an aborted job"
    # the surviving ranks delete the temporary .part when mpirun signals them
    assert not [n for n in os.listdir(workdir) if n.endswith(".part")], os.listdir(workdir)
    assert h.wait_until(lambda: not (shm_names() - before), 10.0), "left in /dev/shm: %s" % (shm_names() - before)
