"""Security and hostile input against the real daemon: who may connect (SO_PEERCRED, checked by
running a client as `nobody`), which paths a client may name, every limit's own error code."""

import collections
import json
import os
import threading
import time
import tempfile

import numpy as np
import pytest

import shmpool_harness as h

NOBODY_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"id":1,"verb":"ping"}\n')
except (BrokenPipeError, ConnectionResetError):
    pass  # refused: the daemon's one line is still there to read
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
    if data.count(b"\n") >= 1 and b'"pong"' in data:
        break
sys.stdout.write(data.decode())
"""


def run_as_nobody(socket_path):
    """Runs a one-ping client as uid/gid nobody (we are root); returns its stdout lines as JSON."""
    res = h.run_python_as_nobody(NOBODY_CLIENT, socket_path)
    assert res.returncode == 0, "client as nobody failed: %s" % res.stderr
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
def test_peer_not_allowed_is_refused_and_logged(daemon_factory):
    d = daemon_factory.new()
    assert h.file_mode(d.socket_path) == 0o660
    h.share_with_everyone(d)  # the default 0660 socket would already stop `nobody` at connect
    replies = run_as_nobody(d.socket_path)
    assert len(replies) == 1, replies
    h.expect_error(replies[0], "peer_not_allowed")
    assert "refused connection from pid" in d.stderr_text() and "uid 65534" in d.stderr_text()
    h.still_serves(d)  # root (this test) is allowed
    assert "accepted connection" in d.stderr_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
@pytest.mark.parametrize("flag", [["--allow-users", "nobody"], ["--allow-groups", "nogroup"], ["--allow-users", "65534"]])
def test_allowed_peer_is_served(daemon_factory, flag):
    d = daemon_factory.new(extra_args=flag)
    h.share_with_everyone(d)  # the default 0660 socket would already stop `nobody` at connect
    replies = run_as_nobody(d.socket_path)
    assert h.expect_ok(replies[0])["pong"] is True


def test_unknown_allowed_user_stops_the_start(daemon_factory):
    d = daemon_factory.new(start=False, extra_args=["--allow-users", "no-such-user-xyz"])
    d.expected_rc = 1
    d.refused = True
    d.spawn()
    assert d.wait_exit() == 1
    assert "no user named 'no-such-user-xyz'" in d.stderr_text()


@pytest.fixture
def outside_dir():
    path = tempfile.mkdtemp(prefix="shmpool-outside.")
    yield path
    h.rmworkdir(path)


def test_paths_outside_the_allowed_dirs_are_refused(daemon, workdir, outside_dir):
    c = daemon.conn()
    arr = np.arange(12.0).reshape(3, 4)
    secret = os.path.join(outside_dir, "secret.npy")
    np.save(secret, arr)
    inside = os.path.join(workdir, "ok.npy")
    np.save(inside, arr)
    os.symlink(secret, os.path.join(workdir, "link_out.npy"))
    os.symlink(outside_dir, os.path.join(workdir, "dir_out"))
    os.symlink(inside, os.path.join(workdir, "link_in.npy"))
    for path in [secret, os.path.join(workdir, "link_out.npy"), os.path.join(workdir, "dir_out", "secret.npy"),
                 os.path.join(workdir, "..", os.path.basename(outside_dir), "secret.npy"), "ok.npy",
                 "/etc/passwd", os.path.join(workdir, "..", "nonexistent.npy")]:
        h.expect_error(c.call("dataset.put", name="S", file=path), "path_not_allowed", "put from %s" % path)
    assert c.ok("dataset.list")["datasets"] == []
    # inside (also through a symlink that stays inside) it works
    assert c.ok("dataset.put", name="A", file=inside)["shape"] == [3, 4]
    assert c.ok("dataset.put", name="B", file=os.path.join(workdir, "link_in.npy"))["shape"] == [3, 4]
    for path in [os.path.join(outside_dir, "out.npy"), os.path.join(workdir, "dir_out", "out.npy"), "/tmp/x.npy",
                 workdir + "/../x.npy"]:
        h.expect_error(c.call("dataset.save", name="A", file=path), "path_not_allowed", "save to %s" % path)
    assert os.listdir(outside_dir) == ["secret.npy"]
    saved = os.path.join(workdir, "saved.npy")
    c.ok("dataset.save", name="A", file=saved)
    np.testing.assert_array_equal(np.load(saved), arr)


def test_a_directory_swapped_for_a_symlink_while_loading_never_leads_out(daemon, workdir, outside_dir):
    """A client flips a directory inside the allowed one with a symlink to a secret directory
    while loads name a file in it: no load ever returns the secret (the daemon opens beneath
    the allowed directory with openat2 and the workers reopen its descriptor, never the path;
    tests/unit/test_access_policies.cpp swaps a checked path deterministically)."""
    inside, secret = np.arange(16.0), np.full(16, 7.0)
    os.mkdir(os.path.join(workdir, "d"))
    np.save(os.path.join(workdir, "d", "x.npy"), inside)
    np.save(os.path.join(outside_dir, "x.npy"), secret)
    os.symlink(outside_dir, os.path.join(workdir, "d.link"))
    stop = threading.Event()

    def flip():
        d, real, link = (os.path.join(workdir, n) for n in ("d", "d.real", "d.link"))
        while not stop.is_set():
            os.rename(d, real)
            os.rename(link, d)
            time.sleep(0.0005)
            os.rename(d, link)
            os.rename(real, d)
            time.sleep(0.0005)

    flipper = threading.Thread(target=flip)
    flipper.start()
    c = daemon.conn()
    outcomes = collections.Counter()
    try:
        for i in range(300):
            reply = c.call("dataset.put", name="L%d" % i, file=os.path.join(workdir, "d", "x.npy"))
            if not reply["ok"]:
                assert reply["error"]["code"] in ("path_not_allowed", "io_error"), reply
                outcomes[reply["error"]["code"]] += 1
                continue
            got = h.read_dataset(reply["result"])
            assert not np.array_equal(got, secret), "a load read the secret through the swapped symlink"
            np.testing.assert_array_equal(got, inside)
            outcomes["loaded"] += 1
            c.ok("dataset.delete", name="L%d" % i)
    finally:
        stop.set()
        flipper.join()
    print("outcomes of 300 loads during the flips:", dict(outcomes))
    after = c.ok("dataset.put", name="after", file=os.path.join(workdir, "d", "x.npy"))
    np.testing.assert_array_equal(h.read_dataset(after), inside)


def test_no_allowed_dir_means_no_paths(daemon_factory, workdir):
    d = no_path_daemon(daemon_factory)
    path = os.path.join(workdir, "x.npy")
    np.save(path, np.zeros(3))
    c = d.conn()
    h.expect_error(c.call("dataset.put", name="X", file=path), "path_not_allowed")
    h.expect_ok(h.put_inline(c, "X", np.zeros(3)))
    h.expect_error(c.call("dataset.save", name="X", file=path + ".out"), "path_not_allowed")


def no_path_daemon(daemon_factory):
    """A daemon with no --allow-dir: no file path is allowed at all."""
    d = daemon_factory.new(start=False)
    d.argv = lambda: [h.SHMPOOLD, "--instance", d.instance, "--socket", d.socket_path, "--workers", "2",
                      "--foreground"]
    return d.start()


def test_passed_memfd_loads_without_any_path(daemon_factory, outside_dir):
    d = no_path_daemon(daemon_factory)
    c = d.conn()
    arr = h.rng(3).standard_normal((1000, 7))
    fd = h.npy_memfd(arr)
    try:
        info = h.expect_ok(h.put_fd(c, "M", fd))
    finally:
        os.close(fd)
    assert info["shape"] == [1000, 7] and info["dtype"] == "float64", info
    np.testing.assert_array_equal(h.read_dataset(info), arr)
    # a file the client opened itself, outside any allowed directory, goes the same way
    path = os.path.join(outside_dir, "mine.npy")
    ints = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    np.save(path, ints)
    fd = os.open(path, os.O_RDONLY)
    try:
        np.testing.assert_array_equal(h.read_dataset(h.expect_ok(h.put_fd(c, "F", fd))), ints)
        # a refused request still consumes its descriptor: the next one gets its own
        h.expect_error(h.put_fd(c, "bad/name", fd), "bad_name")
        h.expect_error(c.call("dataset.put", name="N", fd=True), "bad_request")  # nothing passed
    finally:
        os.close(fd)
    h.expect_error(c.call("dataset.put", name="P", file=path), "path_not_allowed")


def test_cli_put_fd_from(daemon_factory, outside_dir):
    d = no_path_daemon(daemon_factory)
    path = os.path.join(outside_dir, "cli.npy")
    arr = np.arange(10, dtype=np.float32)
    np.save(path, arr)
    res = h.run_cli(["--json", "put", "--fd-from", path, "--name", "C"], socket_path=d.socket_path)
    assert res.returncode == 0, res.stderr
    info = h.expect_ok(json.loads(res.stdout))
    np.testing.assert_array_equal(h.read_dataset(info), arr)
    res = h.run_cli(["put", "--fd-from", os.path.join(outside_dir, "missing.npy"), "--name", "D"],
                    socket_path=d.socket_path)
    assert res.returncode == 2 and "open() failed" in res.stderr, (res.returncode, res.stderr)
    res = h.run_cli(["put", path, "--name", "E"], socket_path=d.socket_path)  # by path: refused
    assert res.returncode == 1 and "path_not_allowed" in res.stderr, (res.returncode, res.stderr)


def test_passed_descriptor_that_is_not_npy(daemon, workdir):
    c = daemon.conn()
    fd = os.memfd_create("junk")
    try:
        os.write(fd, b"not an npy file at all")
        h.expect_error(h.put_fd(c, "J", fd), ("io_error", "bad_request"))
        r, w = os.pipe()
        try:
            h.expect_error(h.put_fd(c, "J", r), "io_error")
        finally:
            os.close(r)
            os.close(w)
    finally:
        os.close(fd)
    assert c.ok("dataset.list")["datasets"] == []


def test_segments_are_owner_only_by_default_and_configurable(daemon_factory):
    for args, mode in [([], 0o600), (["--segment-mode", "0640"], 0o640)]:
        d = daemon_factory.new(extra_args=args)
        c = d.conn()
        info = h.expect_ok(h.put_inline(c, "M", np.zeros(4)))
        assert h.file_mode("/dev/shm/" + info["segment"]) == mode
        d.stop()


def test_bad_instance_names_refused(daemon_factory):
    for bad in ["../x", "a/b", "a\x01b", "a.b"]:
        d = daemon_factory.new(start=False)
        d.argv = lambda bad=bad, d=d: [h.SHMPOOLD, "--instance", bad, "--socket", d.socket_path, "--foreground"]
        d.expected_rc = 2  # a bad setting: exit 2, like every configuration error
        d.refused = True
        d.spawn()
        assert d.wait_exit() == 2, bad
        assert "instance names are" in d.stderr_text()


# --------------------------------------------------------------------------- limits

def test_max_connections(daemon_factory):
    d = daemon_factory.new(extra_args=["--max-connections", "3"])
    conns = [d.conn() for _ in range(3)]
    for c in conns:
        assert c.ok("ping")["pong"] is True
    extra = d.conn()
    reply = extra._read_reply(h.time.monotonic() + 10)
    h.expect_error(reply, "too_many_connections")
    assert extra.wait_closed()
    conns[0].close()
    assert h.wait_until(lambda: _ping_ok(d), 10.0)
    assert "max_connections reached" in d.stderr_text()


def _ping_ok(d):
    try:
        with h.Conn(d.socket_path, timeout=5.0) as c:
            return c.call("ping").get("ok") is True
    except (h.ConnectionClosed, OSError, AssertionError):
        return False


def test_max_requests_per_connection(daemon_factory):
    """Requests of one connection waiting for a job count against its cap; one more gets its own
    code and the connection stays usable; other connections are not affected."""
    d = daemon_factory.new(extra_args=["--max-requests-per-connection", "3"])
    c, other = d.conn(), d.conn()
    job = h.expect_ok(h.submit(c, "sleep", params={"rows": 100000, "ms": 10}, chunk=1, wait=False))["job"]
    waits = [c.request("job.wait", job=job) for _ in range(3)]
    h.expect_error(c.call("job.wait", job=job), "too_many_requests")
    h.expect_error(c.call("ping"), "too_many_requests")
    assert other.ok("ping")["pong"] is True
    other.ok("job.cancel", job=job)
    for rid in waits:
        h.expect_error(c.recv_reply(rid), "cancelled")
    assert c.ok("ping")["pong"] is True
    h.wait_pool_idle(d, 2)


def test_max_datasets(daemon_factory):
    d = daemon_factory.new(extra_args=["--max-datasets", "2"])
    c = d.conn()
    h.expect_ok(h.put_inline(c, "a", np.zeros(2)))
    h.expect_ok(h.put_inline(c, "b", np.zeros(2)))
    h.expect_error(h.put_inline(c, "c", np.zeros(2)), "too_many_datasets")
    h.expect_error(h.submit(c, "map", {"x": "a"}, params={"op": "exp"}), "too_many_datasets")
    c.ok("dataset.delete", name="a")
    h.expect_ok(h.put_inline(c, "c", np.zeros(2)))


def test_max_ranges_and_dataset_bytes(daemon_factory):
    d = daemon_factory.new(extra_args=["--max-ranges", "10", "--max-dataset-bytes", "4096"])
    c = d.conn()
    h.expect_error(h.submit(c, "noop", params={"rows": 100}, chunk=1), "too_many_ranges")
    h.check_job_done(h.run_job(c, "noop", params={"rows": 100}, chunk=10))
    h.expect_error(h.put_shm(c, "big", np.zeros(513)), "too_large")
    h.expect_ok(h.put_inline(c, "P", np.zeros((40, 2))))
    h.expect_error(h.submit(c, "rbf", {"points": "P"}, chunk=40), "too_large")  # 40x40 float64 output: 12800 bytes


def test_max_output_bytes(daemon_factory):
    """A job output over --max-output-bytes gets its own code at submit and allocates nothing;
    one under it runs, and a put of the same size is not an output, so it is not capped."""
    d = daemon_factory.new(extra_args=["--max-output-bytes", "4096"])
    c = d.conn()
    h.expect_ok(h.put_inline(c, "P", np.zeros((40, 2))))
    before = d.segments()
    h.expect_error(h.submit(c, "rbf", {"points": "P"}), "output_too_large")  # 40x40 float64: 12800 bytes
    assert d.segments() == before
    h.expect_ok(h.put_inline(c, "Q", np.arange(40.0).reshape(20, 2)))
    h.check_job_done(h.run_job(c, "rbf", {"points": "Q"}))  # 20x20 float64: 3200 bytes
    h.expect_ok(h.put_inline(c, "big", np.zeros(1024)))  # 8192 bytes, not a job output


def test_line_too_long(daemon_factory):
    d = daemon_factory.new(extra_args=["--max-line", "1000"])
    c = d.conn()
    c.send_raw(b'{"id":1,"verb":"ping","pad":"' + b"x" * 2000 + b'"}\n')
    h.expect_error(c.recv_any(), "line_too_long")
    assert c.wait_closed()
    h.still_serves(d)
