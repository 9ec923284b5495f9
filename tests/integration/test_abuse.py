"""Hostile clients against the real daemon: partial lines, trickled bytes, 10,000 connections
opened and dropped, binary garbage, deep JSON, a client that never reads. Each is answered or
closed with bounded daemon memory while a well-behaved client's pings keep being answered."""

import os
import socket
import threading
import time

import numpy as np
import pytest

import shmpool_harness as h

IDLE_TIMEOUT_S = 1
# ASan keeps freed memory in its quarantine (256 MiB by default), so RSS bounds grow by that much.
ASAN_SLACK_KIB = 256 * 1024 if os.environ.get("SHMPOOL_SANITIZED") else 0


class Pinger:
    """A well-behaved client pinging in a thread; records every round trip's latency."""

    def __init__(self, daemon):
        self.conn = h.Conn(daemon.socket_path, timeout=30.0)
        self.latencies = []
        self.failure = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                assert self.conn.ok("ping")["pong"] is True
                self.latencies.append(time.monotonic() - t0)
                time.sleep(0.01)
        except BaseException as e:  # reported by stop()
            self.failure = e

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)
        self.conn.close()
        assert not self._thread.is_alive(), "the well-behaved client hung"
        assert self.failure is None, "the well-behaved client failed: %r" % self.failure
        assert self.latencies, "the well-behaved client got no reply at all"
        lat = sorted(self.latencies)
        print("ping latency during abuse: n=%d p50=%.2f ms max=%.2f ms"
              % (len(lat), 1000 * lat[len(lat) // 2], 1000 * lat[-1]))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


@pytest.fixture
def abused(daemon_factory):
    return daemon_factory.new(extra_args=["--idle-timeout", str(IDLE_TIMEOUT_S)])


def test_partial_line_times_out(abused):
    with Pinger(abused):
        c = abused.conn()
        c.send_raw(b'{"id":1,"verb":"pi')
        t0 = time.monotonic()
        h.expect_error(c.recv_any(timeout=10), "idle_timeout")
        assert c.wait_closed()
        waited = time.monotonic() - t0
        assert IDLE_TIMEOUT_S * 0.9 <= waited <= 3 * IDLE_TIMEOUT_S + 2, waited
        # an idle connection without a partial line is not closed
        idle = abused.conn()
        time.sleep(3 * IDLE_TIMEOUT_S)
        assert idle.ok("ping")["pong"] is True


def test_trickled_bytes_are_cut_off(abused):
    with Pinger(abused):
        c = abused.conn()
        line = b'{"id":1,"verb":"ping","pad":"' + b"x" * 100 + b'"}\n'
        t0 = time.monotonic()
        closed = False
        for i in range(len(line)):
            try:
                c.send_raw(line[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - t0 > 3 * IDLE_TIMEOUT_S + 2:
                break
        assert c.wait_closed(5), "a trickling client was not closed (send failed: %s)" % closed
        assert time.monotonic() - t0 <= 3 * IDLE_TIMEOUT_S + 2
        assert b"\n" in c.buf, "no idle_timeout reply before the close"
        h.expect_error(c._read_reply(time.monotonic() + 1), "idle_timeout")


def test_ten_thousand_connections_opened_and_dropped(abused):
    before = rss_kib(abused.pid)
    with Pinger(abused):
        for i in range(10000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(abused.socket_path)
            if i % 3 == 0:
                s.sendall(b'{"id":1,"verb":"ping"}\n')  # some leave a reply unread
            s.close()
    assert h.wait_until(lambda: _ping(abused), 10.0)
    after = rss_kib(abused.pid)
    print("daemon RSS before %d KiB, after 10,000 connections %d KiB" % (before, after))
    assert after - before < 64 * 1024 + ASAN_SLACK_KIB, (before, after)


def _ping(d):
    with h.Conn(d.socket_path, timeout=5.0) as c:
        return c.ok("ping")["pong"] is True


def test_binary_garbage(abused):
    r = np.random.default_rng(5)
    with Pinger(abused):
        c = abused.conn()
        garbage = r.integers(0, 256, 256 * 1024, dtype=np.uint8).tobytes()
        c.send_raw(garbage + b"\n")
        n_lines = garbage.count(b"\n") + 1
        for _ in range(n_lines):
            try:
                reply = c.recv_any(timeout=10)
            except h.ConnectionClosed:
                break
            h.expect_error(reply, ("bad_json", "line_too_long"))
        c.close()
    h.still_serves(abused)


@pytest.mark.parametrize("depth", [65, 100000])
def test_deeply_nested_json(abused, depth):
    with Pinger(abused):
        c = abused.conn()
        c.send_raw(b'{"id":1,"verb":"ping","x":' + b"[" * depth + b"]" * depth + b"}\n")
        h.expect_error(c.recv_any(), ("bad_json", "line_too_long"))
    h.still_serves(abused)


def test_client_that_never_reads(abused):
    c = abused.conn()
    h.expect_ok(h.put_inline(c, "big", np.arange(60000, dtype=np.float64)))  # ~1 MB of JSON per get
    before = rss_kib(abused.pid)
    with Pinger(abused):
        hog = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        hog.connect(abused.socket_path)
        hog.setblocking(False)
        request = b'{"id":1,"verb":"dataset.get","name":"big"}\n'
        sent = 0
        deadline = time.monotonic() + 20
        stalled_since = None
        while time.monotonic() < deadline:  # send until the daemon stops reading us for 2 s
            try:
                hog.send(request)
                sent += 1
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 2:
                    break
                time.sleep(0.05)
        assert stalled_since is not None, "the daemon kept reading a client that never reads (%d requests)" % sent
        peak = rss_kib(abused.pid)
        hog.close()
    print("never-reading client: %d requests sent before the daemon stopped reading; RSS %d -> %d KiB"
          % (sent, before, peak))
    assert peak - before < 256 * 1024 + ASAN_SLACK_KIB, (before, peak)
    h.still_serves(abused)
