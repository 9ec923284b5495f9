"""The shmpool CLI end to end against a real daemon: commands, --json output, exit codes
(0 ok, 1 the daemon answered with an error, 2 usage error, 3 no daemon at the socket)."""

import json
import os
import socket

import numpy as np

import shmpool_harness as h


def cli(daemon, *args, cwd=None, expect=0):
    res = h.run_cli(list(args), socket_path=daemon.socket_path if daemon else None, cwd=cwd)
    assert res.returncode == expect, "shmpool %s: exit %d, expected %d\nstdout: %s\nstderr: %s" % (
        " ".join(args), res.returncode, expect, res.stdout[-3000:], res.stderr[-3000:])
    return res


def cli_json(daemon, *args, cwd=None, expect=0):
    res = cli(daemon, "--json", *args, cwd=cwd, expect=expect)
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, "--json printed %d lines: %r" % (len(lines), res.stdout[:2000])
    reply = json.loads(lines[0])
    assert isinstance(reply, dict) and "ok" in reply, reply
    return reply


def test_cli_end_to_end(daemon, workdir):
    sub = os.path.join(workdir, "cwd")
    os.mkdir(sub)
    r = h.rng(21)
    P, Q = r.standard_normal((50, 3)), r.standard_normal((30, 3))
    np.save(os.path.join(sub, "P.npy"), P)

    out = cli(daemon, "ping").stdout
    assert "pong" in out and daemon.instance in out, out
    pong = h.expect_ok(cli_json(daemon, "ping"))
    assert pong["pid"] == daemon.pid and pong["instance"] == daemon.instance, pong

    # put from a file given relative to the CLI's working directory, and from a shm object
    out = cli(daemon, "put", "P.npy", "--name", "P", cwd=sub).stdout
    assert "P" in out and "float64" in out, out
    shm = h.client_shm_name()
    with open("/dev/shm/" + shm, "wb") as f:
        f.write(Q.tobytes())
    try:
        put = h.expect_ok(cli_json(daemon, "put", "--shm", "/" + shm, "--dtype", "float64", "--shape", "30,3",
                                   "--name", "Q"))
    finally:
        os.unlink("/dev/shm/" + shm)
    assert put["name"] == "Q" and put["shape"] == [30, 3], put
    c = daemon.conn()
    assert np.array_equal(h.read_dataset(c.ok("dataset.info", name="P")), P)
    assert np.array_equal(h.read_dataset(c.ok("dataset.info", name="Q")), Q)

    out = cli(daemon, "ls").stdout
    assert "P" in out and "Q" in out and "float64" in out, out
    listed = h.expect_ok(cli_json(daemon, "ls"))
    assert sorted(d["name"] for d in listed["datasets"]) == ["P", "Q"], listed
    out = cli(daemon, "info", "P").stdout
    assert "float64" in out and "50" in out and "3" in out, out
    assert h.expect_ok(cli_json(daemon, "info", "P")) == c.ok("dataset.info", name="P")

    # run, then save relative to the CLI's working directory
    out = cli(daemon, "run", "rbf", "--in", "points=P", "--out", "D").stdout
    assert "done" in out and "D" in out, out
    cli(daemon, "save", "D", "out.npy", cwd=sub)
    h.assert_close(np.load(os.path.join(sub, "out.npy")), h.ref_rbf(P), h.RBF_RTOL, "CLI rbf")
    job = h.expect_ok(cli_json(daemon, "run", "euclidean", "--in", "X=P", "--in", "Y=Q", "--out", "E",
                               "--chunk", "7"))
    h.check_job_done(job, rows=50, chunk=7)
    h.assert_close(h.output_array(c, job), h.ref_euclidean(P, Q), h.EUCLID_RTOL, "CLI euclidean")

    out = cli(daemon, "rm", "D").stdout
    assert "D" in out, out
    res = cli(daemon, "info", "D", expect=1)
    assert "unknown_dataset" in res.stderr, res.stderr
    err = cli_json(daemon, "info", "D", expect=1)
    h.expect_error(err, "unknown_dataset")

    # status / cancel / wait on a detached job
    jid = cli(daemon, "run", "sleep", "--param", "rows=3000", "--param", "ms=10", "--chunk", "1",
              "--detach").stdout.strip()
    assert jid.isdigit(), "--detach printed %r, not a job id" % jid
    out = cli(daemon, "status", jid).stdout
    assert "sleep" in out and ("running" in out or "queued" in out), out
    st = h.expect_ok(cli_json(daemon, "status", jid))
    assert st["job"] == int(jid) and st["kernel"] == "sleep", st
    out = cli(daemon, "cancel", jid).stdout
    assert "cancelled" in out, out
    res = cli(daemon, "wait", jid, expect=1)
    assert "cancelled" in res.stderr, res.stderr
    jid = cli(daemon, "run", "sleep", "--param", "rows=4", "--param", "ms=5", "--detach").stdout.strip()
    out = cli(daemon, "wait", jid).stdout
    assert "done" in out, out
    h.check_job_done(h.expect_ok(cli_json(daemon, "wait", jid)), rows=4)

    for cmd in (["workers"], ["kernels"]):
        assert h.expect_ok(cli_json(daemon, *cmd)), cmd
        assert cli(daemon, *cmd).stdout.strip()


def test_cli_exit_codes(daemon, workdir):
    # 1: the daemon answered with an error
    for args in (["info", "nosuch"], ["rm", "nosuch"], ["save", "nosuch", os.path.join(workdir, "x.npy")],
                 ["status", "424242"], ["run", "nosuchkernel"], ["run", "euclidean", "--in", "X=nosuch"],
                 ["put", os.path.join(workdir, "missing.npy"), "--name", "M"]):
        res = cli(daemon, *args, expect=1)
        assert res.stderr.strip(), args
    # 2: usage errors, sent nowhere
    for args in ([], ["frobnicate"], ["info"], ["run"], ["put", "--name", "N"], ["status", "seven"],
                 ["put", "--shm", "/x", "--name", "N"], ["run", "rbf", "--in", "points"], ["ping", "--bogus"],
                 ["--instance", "bad/name", "ping"]):
        res = cli(daemon, *args, expect=2)
        assert res.stderr.strip(), args
    res = h.run_cli(["--socket", daemon.socket_path, "--instance", "x", "ping"])
    assert res.returncode == 2, res
    # 3: no daemon at the socket (no file; a file nobody listens on)
    res = h.run_cli(["ping"], socket_path=os.path.join(workdir, "nobody.sock"))
    assert res.returncode == 3 and res.stderr.strip(), res
    dead = os.path.join(workdir, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)
    s.close()
    res = h.run_cli(["ls"], socket_path=dead)
    assert res.returncode == 3 and res.stderr.strip(), res
    os.unlink(dead)
    # help and version
    assert h.run_cli(["--help"]).returncode == 0
    assert h.run_cli(["run", "--help"]).returncode == 0
    assert h.run_cli(["--version"]).returncode == 0
    h.still_serves(daemon)


def test_cli_shutdown(daemon):
    out = cli(daemon, "shutdown").stdout
    assert out.strip(), out
    assert daemon.wait_exit() == 0
    h.assert_no_leaks(daemon)
    res = h.run_cli(["ping"], socket_path=daemon.socket_path)
    assert res.returncode == 3, res
