"""Kernel plugins end to end: a real shmpoold started with --kernel-dir holding the example plugin
(weighted_dot), a valid test plugin (plugin_sum, plugin_crash) and three broken ones.

The .so files come from the build (env SHMPOOL_PLUGIN_DIR and SHMPOOL_TEST_PLUGIN_DIR, set by ctest)
and are copied into the test's private kernel dir.
"""

import os
import re
import shutil

import numpy as np
import pytest

import shmpool_harness as h

PLUGIN_DIR = os.environ.get("SHMPOOL_PLUGIN_DIR", os.path.join(h.REPO, "build", "plugins"))
TEST_PLUGIN_DIR = os.environ.get("SHMPOOL_TEST_PLUGIN_DIR", os.path.join(h.REPO, "build", "tests", "plugins"))

LOADED = {"weighted_dot.so": ["weighted_dot"], "test_plugin_probe.so": ["plugin_sum", "plugin_crash"]}
REFUSED = {  # file -> what its refusal line must say
    "test_plugin_bad_abi.so": "ABI version 1001, this shmpoold takes version 1",
    "test_plugin_no_entry.so": "no entry symbol 'shmpool_plugin'",
    "test_plugin_dup_rbf.so": "kernel 'rbf' has the name of a built-in kernel",
}
NEVER_LISTED = ["bad_abi_kernel", "no_entry_kernel", "dup_first_kernel"]


@pytest.fixture
def kernel_dir(workdir):
    path = os.path.join(workdir, "kernels")
    os.mkdir(path)
    shutil.copy(os.path.join(PLUGIN_DIR, "weighted_dot.so"), path)
    for name in ["test_plugin_probe.so"] + list(REFUSED):
        shutil.copy(os.path.join(TEST_PLUGIN_DIR, name), path)
    with open(os.path.join(path, "README.txt"), "w") as f:
        f.write("not a plugin: ignored\n")
    return path


@pytest.fixture
def pdaemon(daemon_factory, kernel_dir):
    return daemon_factory.new(workers=2, extra_args=["--kernel-dir", kernel_dir, "--max-attempts", "2"])


def cli(daemon, *args, cwd=None):
    res = h.run_cli(list(args), socket_path=daemon.socket_path, cwd=cwd)
    assert res.returncode == 0, "shmpool %s: exit %d\nstdout: %s\nstderr: %s" % (
        " ".join(args), res.returncode, res.stdout[-3000:], res.stderr[-3000:])
    return res.stdout


def test_daemon_logs_each_loaded_and_refused_plugin(pdaemon, kernel_dir):
    log = pdaemon.stderr_text()
    for name, kernels in LOADED.items():
        path = os.path.join(kernel_dir, name)
        line = [l for l in log.splitlines() if "plugin %s: loaded" % path in l]
        assert len(line) == 1 and " info: " in line[0], "no load line for %s in:\n%s" % (name, log)
        assert all("'%s'" % k in line[0] for k in kernels), line
    for name, reason in REFUSED.items():
        path = os.path.join(kernel_dir, name)
        line = [l for l in log.splitlines() if "plugin %s refused: " % path in l]
        assert len(line) == 1 and " warn: " in line[0] and reason in line[0], "refusal of %s: %r\n%s" % (name, line, log)
    assert "README.txt" not in log
    assert pdaemon.running()


def test_kernels_lists_plugins_with_roles_and_params(pdaemon):
    kernels = pdaemon.conn().ok("kernels")["kernels"]
    by_name = {k["name"]: k for k in kernels}
    assert len(by_name) == len(kernels), "a kernel is listed twice: %s" % [k["name"] for k in kernels]
    wd = by_name["weighted_dot"]
    assert wd["roles"] == ["X", "w"], wd
    assert list(wd["params"]) == ["offset"] and "default 0" in wd["params"]["offset"], wd
    assert "X w + offset" in wd["description"], wd
    assert by_name["plugin_sum"]["roles"] == ["x"] and "op" in by_name["plugin_sum"]["params"]
    assert by_name["plugin_crash"]["roles"] == []
    for name in NEVER_LISTED:
        assert name not in by_name, name
    assert "stub" not in by_name["rbf"]["description"], by_name["rbf"]

    out = cli(pdaemon, "kernels")
    row = [l for l in out.splitlines() if l.startswith("weighted_dot")]
    assert len(row) == 1 and "offset" in row[0] and "X" in row[0] and "w" in row[0], out
    assert not any(n in out for n in NEVER_LISTED), out


def test_weighted_dot_through_the_cli_matches_numpy(pdaemon, workdir):
    r = h.rng(31)
    X, w = r.standard_normal((1000, 13)), r.standard_normal(13)
    np.save(os.path.join(workdir, "X.npy"), X)
    np.save(os.path.join(workdir, "w.npy"), w)
    cli(pdaemon, "put", "X.npy", "--name", "X", cwd=workdir)
    cli(pdaemon, "put", "w.npy", "--name", "w", cwd=workdir)

    out = cli(pdaemon, "run", "weighted_dot", "--in", "X=X", "--in", "w=w", "--out", "y")
    assert "done" in out and "y" in out, out
    cli(pdaemon, "save", "y", "y.npy", cwd=workdir)
    y = np.load(os.path.join(workdir, "y.npy"))
    h.assert_close(y, X @ w, 1e-12, "weighted_dot via the CLI")

    cli(pdaemon, "run", "weighted_dot", "--in", "X=X", "--in", "w=w", "--out", "y2", "--param", "offset=0.5",
        "--chunk", "7")
    c = pdaemon.conn()
    info = c.ok("dataset.info", name="y2")
    assert info["dtype"] == "float64" and info["shape"] == [1000], info
    h.assert_close(h.read_dataset(info), X @ w + 0.5, 1e-12, "weighted_dot offset 0.5, chunk 7")
    h.still_serves(pdaemon)


def test_weighted_dot_rejects_bad_jobs_with_stable_codes(pdaemon):
    c = pdaemon.conn()
    r = h.rng(32)
    h.expect_ok(h.put_inline(c, "X", r.standard_normal((6, 3))))
    h.expect_ok(h.put_inline(c, "w", r.standard_normal(3)))
    h.expect_ok(h.put_inline(c, "w4", r.standard_normal(4)))
    h.expect_ok(h.put_inline(c, "w32", r.standard_normal(3).astype(np.float32)))
    cases = [
        ({"X": "X", "w": "w32"}, {}, "dtype_mismatch", "'w' must be float64"),
        ({"X": "X", "w": "w4"}, {}, "shape_mismatch", "4 elements"),
        ({"X": "w", "w": "w"}, {}, "shape_mismatch", "'X' must have 2 dims"),
        ({"X": "X", "w": "w"}, {"offset": "x"}, "bad_param", "offset"),
        ({"X": "X", "w": "w"}, {"scale": 2}, "bad_param", "scale"),
        ({"X": "X"}, {}, "missing_role", "'w'"),
    ]
    for inputs, params, code, text in cases:
        err = h.expect_error(h.submit(c, "weighted_dot", inputs, params), code, "%s %s" % (inputs, params))
        assert text in err["message"], err
    names = {d["name"] for d in c.ok("dataset.list")["datasets"]}
    assert names == {"X", "w", "w4", "w32"}, "a refused job left a dataset: %s" % names
    h.still_serves(pdaemon)


def test_plugin_reductions(pdaemon):
    c = pdaemon.conn()
    x = h.rng(33).standard_normal(10007)
    h.expect_ok(h.put_inline(c, "x", x))
    for op, want in [("sum", x.sum()), ("mean", x.mean()), ("max", x.max())]:
        job = h.run_job(c, "plugin_sum", {"x": "x"}, {"op": op}, chunk=37)
        assert job["reduce"] == op and job["output"] is None, job
        np.testing.assert_allclose(job["value"], want, rtol=1e-12, atol=1e-12, err_msg=op)
        if op == "max":
            assert job["index"] == int(np.argmax(x)), job


@pytest.mark.time_limit(120)
def test_misbehaving_plugin_fails_its_job_never_the_daemon(pdaemon):
    c = pdaemon.conn()
    pid = pdaemon.pid

    # plan runs in a short-lived child of the daemon: a crash or a hang fails the submit only
    err = h.expect_error(h.submit(c, "plugin_crash", params={"where": "plan", "how": "segv"}), "internal")
    assert re.search(r"plugin_crash.*crashed: signal 11", err["message"]), err
    err = h.expect_error(h.submit(c, "plugin_crash", params={"where": "plan", "how": "hang"}), "internal")
    assert "did not finish" in err["message"], err
    err = h.expect_error(h.submit(c, "plugin_crash", params={"where": "plan", "how": "error"}), "bad_param")
    assert "failed on purpose in plan" in err["message"], err

    # start and run run in workers: an error fails the range, a crash kills the worker, which
    # is replaced, and the range fails the job after --max-attempts
    for where, how, deaths in [("start", "error", 0), ("run", "error", 0), ("run", "segv", 2), ("start", "segv", 2)]:
        before = sum(w["restarts"] for w in h.wait_pool_idle(pdaemon, 2))
        job = h.submit_and_fail(c, "plugin_crash", "range_failed", params={"where": where, "how": how}, chunk=8)
        assert job["state"] == "failed" and job["error"]["code"] == "range_failed", job
        if how == "error":
            assert "failed on purpose in " + where in job["error"]["message"], job
        restarts = sum(w["restarts"] for w in h.wait_pool_idle(pdaemon, 2)) - before
        assert restarts == deaths, "%s/%s: %d worker restarts, expected %d" % (where, how, restarts, deaths)

    assert c.ok("ping")["pid"] == pid and pdaemon.running()
    h.still_serves(pdaemon)
    # replaced workers are forked from the daemon too, so they still have the plugin kernels
    r = h.rng(34)
    X, w = r.standard_normal((40, 5)), r.standard_normal(5)
    h.expect_ok(h.put_inline(c, "X", X))
    h.expect_ok(h.put_inline(c, "w", w))
    job = h.run_job(c, "weighted_dot", {"X": "X", "w": "w"}, chunk=3, output="y")
    h.assert_close(h.output_array(c, job), X @ w, 1e-12, "weighted_dot after worker crashes")


def test_daemon_without_kernel_dir_has_no_plugin_kernels(daemon):
    names = [k["name"] for k in daemon.conn().ok("kernels")["kernels"]]
    assert "weighted_dot" not in names and "rbf" in names, names


def test_unreadable_kernel_dir_is_logged_and_the_daemon_starts(daemon_factory, workdir):
    missing = os.path.join(workdir, "no-such-dir")
    d = daemon_factory.new(workers=1, extra_args=["--kernel-dir", missing])
    assert "kernel dir %s refused: cannot list it" % missing in d.stderr_text()
    h.still_serves(d)
