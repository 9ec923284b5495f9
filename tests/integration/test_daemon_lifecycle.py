"""shmpoold as a background service: daemonized (no --foreground) it returns to a caller that
captures its output, keeps serving with stdin/stdout at /dev/null and its records in --log-file
(reopened on SIGHUP), and start-up errors still reach the caller with exit 1. `--cleanup`
removes what a SIGKILLed daemon left in /dev/shm and refuses while a daemon serves."""

import os
import re
import signal
import subprocess

import numpy as np
import pytest

import shmpool_harness as h

CAPTURE_TIMEOUT = 10  # seconds: the bound for a daemonized start under capture_output


def fd_targets(pid):
    return [os.readlink("/proc/%d/fd/%d" % (pid, fd)) for fd in (0, 1, 2)]


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def start_daemonized(workdir, instance, sock, *extra):
    """Runs shmpoold without --foreground. This test process is a subreaper: a daemon child that
    failed to start becomes its child, and is reaped here."""
    before = {pid for pid, _ in h.children_of(os.getpid())}
    r = subprocess.run([h.SHMPOOLD, "--instance", instance, "--socket", sock, "--workers", "2",
                        "--allow-dir", workdir] + list(extra), capture_output=True, timeout=CAPTURE_TIMEOUT)
    if r.returncode != 0:
        orphans = [pid for pid, _ in h.children_of(os.getpid()) if pid not in before]
        assert h.wait_pids_gone(orphans, 5.0), "a daemon that failed to start lives on: %s" % orphans
    return r


def stop_and_check_gone(instance, sock, pids):
    """SIGTERM to the daemon (pids[0]); then nothing of the instance may remain."""
    os.kill(pids[0], signal.SIGTERM)
    assert h.wait_pids_gone(pids, 20.0), "processes of %s left: %s" % (instance, h.instance_processes(instance))
    assert h.shm_entries(instance) == [], h.shm_entries(instance)
    assert not os.path.lexists(sock)


def kill_instance(instance, sock):
    """After a failed test: SIGKILL what is left of the instance (by pid) and remove its files."""
    pids = h.instance_processes(instance)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    h.wait_pids_gone(pids, 5.0)
    for name in h.shm_entries(instance):
        os.unlink("/dev/shm/" + name)
    if os.path.lexists(sock):
        os.unlink(sock)


def test_daemonized_returns_under_capture_output_and_logs_to_its_file(workdir):
    instance, sock, log = h.unique_instance(), os.path.join(workdir, "bg.sock"), os.path.join(workdir, "bg.log")
    try:
        r = start_daemonized(workdir, instance, sock, "--log-file", log)
        assert r.returncode == 0 and r.stdout == b"" and r.stderr == b"", r
        with h.Conn(sock) as c:
            pid = c.ok("ping")["pid"]
            workers = [w["pid"] for w in c.ok("workers")["workers"]]
            assert h.put_inline(c, "v", np.arange(10, dtype=np.int64))["ok"]
            assert h.run_job(c, "reduce", {"x": "v"}, {"op": "sum"})["value"] == 45
        for p in [pid] + workers:  # nobody holds the caller's pipes
            assert fd_targets(p) == ["/dev/null", "/dev/null", log], (p, fd_targets(p))
        text = read_text(log)
        assert "serving instance '%s'" % instance in text and re.search(r"job \d+ \(reduce\) done", text), text

        os.rename(log, log + ".1")  # as logrotate does, then SIGHUP: a new file, for the workers too
        os.kill(pid, signal.SIGHUP)
        assert h.wait_until(lambda: os.path.exists(log) and "reopened the log file" in read_text(log), 5.0)
        assert h.wait_until(lambda: all(fd_targets(p)[2] == log for p in workers), 5.0), \
            [fd_targets(p) for p in workers]
        with h.Conn(sock) as c:
            assert c.ok("ping")["pid"] == pid  # still serving after SIGHUP
        assert "accepted connection" in read_text(log)
        stop_and_check_gone(instance, sock, [pid] + workers)
        assert "stopped" in read_text(log)
    finally:
        kill_instance(instance, sock)


def test_daemonized_startup_errors_reach_the_caller(daemon, workdir):
    taken = start_daemonized(workdir, daemon.instance, os.path.join(workdir, "other.sock"))
    assert taken.returncode == 1, taken
    assert b"already served by shmpoold pid %d" % daemon.pid in taken.stderr, taken.stderr
    instance = h.unique_instance()
    sock = os.path.join(workdir, "x.sock")
    try:
        bad_log = start_daemonized(workdir, instance, sock, "--log-file", os.path.join(workdir, "no", "such.log"))
        assert bad_log.returncode == 1 and b"opening log file" in bad_log.stderr, bad_log
        assert h.instance_processes(instance) == [] and h.shm_entries(instance) == []
    finally:
        kill_instance(instance, sock)


def cleanup(instance, sock):
    return subprocess.run([h.SHMPOOLD, "--cleanup", "--instance", instance, "--socket", sock],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_cleanup_refuses_a_live_daemon_and_removes_what_a_killed_one_left(daemon_factory, workdir):
    d = daemon_factory.new(workers=2)
    c = d.conn()
    h.put_file(c, workdir, "x", np.arange(4096, dtype=np.float64))
    job = h.run_job(c, "map", {"x": "x"}, {"op": "exp"}, output="y")
    c.ok("dataset.delete", name=job["output"]["name"])  # its segment is kept as a spare
    left = h.shm_entries(d.instance)
    assert any(".spare" in n for n in left) and any(".ds" in n for n in left), left

    live = cleanup(d.instance, d.socket_path)
    assert live.returncode == 1 and "already served by shmpoold pid %d" % d.pid in live.stderr, live
    assert h.shm_entries(d.instance) == left and c.ok("ping")["pid"] == d.pid  # untouched, still serving

    d.killed = True
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait()
    assert h.wait_pids_gone(list(d.seen), 5.0)
    assert h.shm_entries(d.instance) and os.path.lexists(d.socket_path)  # what a SIGKILL leaves
    done = cleanup(d.instance, d.socket_path)
    assert done.returncode == 0, done
    removed = [line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("removed ")]
    assert sorted(removed) == sorted(["/dev/shm/" + n for n in left] + [d.socket_path]), done.stdout
    assert h.shm_entries(d.instance) == [] and not os.path.lexists(d.socket_path)
    again = cleanup(d.instance, d.socket_path)
    assert again.returncode == 0 and "removed 0 leftovers" in again.stdout, again
