"""shmpoold under systemd: the units pass `systemd-analyze verify` (and a hardening score),
the notify protocol (READY=1 only once every worker exists, STATUS= as counts change,
STOPPING=1 on SIGTERM) against a datagram socket the test binds, and socket activation
through systemd-socket-activate. Nothing may leak."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import shmpool_harness as h

CONFIG_DIR = os.path.join(h.REPO, "config")
NOTIFY_TIMEOUT = 20.0


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip("%s is not installed (Debian package systemd; scripts/setup.sh installs it)" % tool)
    return path


def unit_files(workdir):
    """The service (its template filled with the built shmpoold and the example config) and
    the socket unit, copied into workdir; returns their paths."""
    with open(os.path.join(CONFIG_DIR, "shmpoold.service.in")) as f:
        service = f.read().replace("@SHMPOOLD_BIN@", h.SHMPOOLD).replace(
            "@SHMPOOLD_CONF@", os.path.join(CONFIG_DIR, "shmpoold.conf"))
    assert not re.search(r"@[A-Z_]+@", service), "unfilled placeholder in shmpoold.service.in"
    service_path = os.path.join(workdir, "shmpoold.service")
    with open(service_path, "w") as f:
        f.write(service)
    socket_path = os.path.join(workdir, "shmpoold.socket")
    shutil.copy(os.path.join(CONFIG_DIR, "shmpoold.socket"), socket_path)
    return service_path, socket_path


def unit_settings(path):
    """{key: [values]} of a unit file's settings."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                out.setdefault(key, []).append(value)
    return out


def test_units_verify_and_are_hardened(workdir):
    analyze = need("systemd-analyze")
    service, sock = unit_files(workdir)
    r = subprocess.run([analyze, "verify", service, sock], capture_output=True, text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values: only an empty stderr means a clean unit
    assert r.returncode == 0 and r.stderr == "", "systemd-analyze verify:\n" + r.stdout + r.stderr
    r = subprocess.run([analyze, "security", "--offline=yes", "--threshold=25", service],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "exposure above 2.5:\n" + r.stdout[-3000:] + r.stderr
    s = unit_settings(service)
    assert s["Type"] == ["notify"] and s["KillMode"] == ["mixed"], s
    assert "--foreground" in s["ExecStart"][0] and "--config" in s["ExecStart"][0], s["ExecStart"]
    assert s["ExecStopPost"] == [s["ExecStart"][0].replace("--foreground", "--cleanup --keep-socket")], s
    assert s["RuntimeDirectory"] == ["shmpool"] and s["RuntimeDirectoryPreserve"] == ["yes"], s
    assert s["RestrictAddressFamilies"] == ["AF_UNIX"], s
    assert s["User"] == ["shmpool"] and s["Group"] == ["shmpool"], "the service must not run as root"
    sock_settings = unit_settings(sock)
    assert sock_settings["ListenStream"][0].startswith("/run/shmpool/"), "socket path"
    assert sock_settings["SocketGroup"] == ["shmpool"] and sock_settings["SocketMode"] == ["0660"], sock_settings


def test_sysusers_file_declares_the_service_user(workdir):
    """systemd-sysusers, run into an empty root, creates the user and group the service names."""
    sysusers = need("systemd-sysusers")
    root = os.path.join(workdir, "root")
    os.makedirs(os.path.join(root, "etc"))
    r = subprocess.run([sysusers, "--root", root, os.path.join(CONFIG_DIR, "shmpool.sysusers")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    passwd = open(os.path.join(root, "etc", "passwd")).read().splitlines()
    group = open(os.path.join(root, "etc", "group")).read().splitlines()
    user = [line.split(":") for line in passwd if line.startswith("shmpool:")]
    assert len(user) == 1 and user[0][5] == "/var/lib/shmpool" and int(user[0][2]) < 1000, passwd
    assert [line for line in group if line.startswith("shmpool:")], group


class NotifySocket:
    """The datagram socket systemd would listen on (NOTIFY_SOCKET): records every message."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def wait_for(self, predicate, what, timeout=NOTIFY_TIMEOUT):
        """The first new message for which predicate({key: value}) holds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no %s from shmpoold within %.0f s; got %r" % (what, timeout, self.messages))
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            self.messages.append(fields)
            if predicate(fields):
                return fields

    def close(self):
        self.sock.close()


def test_notify_ready_status_stopping(daemon_factory, workdir, monkeypatch):
    notify = NotifySocket(workdir)
    workers = 4
    d = daemon_factory.new(workers=workers, start=False)
    monkeypatch.setenv("NOTIFY_SOCKET", notify.path)
    d.spawn()
    monkeypatch.delenv("NOTIFY_SOCKET")
    try:
        ready = notify.wait_for(lambda m: "READY" in m, "READY=1")
        live = [pid for pid, state in h.children_of(d.pid) if state != "Z"]
        assert len(live) == workers, "READY=1 sent with %d of %d workers forked" % (len(live), workers)
        assert notify.messages == [ready], "messages before READY=1: %r" % notify.messages
        assert ready["READY"] == "1" and ready["MAINPID"] == str(d.pid), ready
        assert ready["STATUS"].startswith("%d/%d workers" % (workers, workers)), ready
        d.wait_ready()
        assert sorted(w["pid"] for w in d.workers()) == sorted(live)

        with d.conn() as c:
            job = h.expect_ok(h.submit(c, "sleep", params={"rows": 4, "ms": 1500}, chunk=1, wait=False))
            notify.wait_for(lambda m: " 1 running" in m.get("STATUS", ""), "STATUS= with the running job")
            c.ok("job.wait", job=job["job"])
            notify.wait_for(lambda m: "0 running, 0 queued, 1 submitted" in m.get("STATUS", ""),
                            "STATUS= after the job ended")
        assert all("READY" not in m for m in notify.messages[1:]), "READY=1 sent twice: %r" % notify.messages

        assert d.stop(signal.SIGTERM) == 0
        stopping = notify.wait_for(lambda m: "STOPPING" in m, "STOPPING=1", timeout=5.0)
        assert stopping["STOPPING"] == "1", stopping
    finally:
        notify.close()


class ActivatedDaemon(h.Daemon):
    """shmpoold started by systemd-socket-activate, which listens on socket_path, execs the
    daemon (same pid) on the first connection and passes the socket as LISTEN_FDS=1. The
    daemon's own --socket names a path that must never be used."""

    def __init__(self, workdir, activate, **kw):
        super().__init__(workdir, **kw)
        self.activate = activate
        self.unused_socket = os.path.join(workdir, "not-used.sock")

    def argv(self):
        return [self.activate, "-l", self.socket_path, h.SHMPOOLD, "--instance", self.instance,
                "--socket", self.unused_socket, "--workers", str(self.workers_n), "--foreground"]

    def wait_socket(self, timeout=h.READY_TIMEOUT):
        assert h.wait_until(lambda: os.path.exists(self.socket_path), timeout), self.stderr_tail()


def test_socket_activation(daemon_factory, workdir):
    activate = need("systemd-socket-activate")
    d = ActivatedDaemon(workdir, activate, workers=2, label="act")
    d.expected_rc = 0
    daemon_factory.daemons.append(d)
    d.spawn()
    d.wait_socket()
    d.wait_ready()  # the first connection makes systemd-socket-activate exec shmpoold
    assert "listening on the socket systemd passed: %s" % d.socket_path in d.stderr_text()
    d.workers()
    h.still_serves(d)
    r = h.run_cli(["ping"], socket_path=d.socket_path)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(d.unused_socket)

    assert d.stop(signal.SIGTERM) == 0
    # the socket is systemd's: the daemon must not unlink it (RemoveOnStop= does, in systemd)
    assert os.path.exists(d.socket_path), "shmpoold removed the socket systemd passed it"
    os.unlink(d.socket_path)
