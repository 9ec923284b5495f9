# One NDJSON connection to shmpoold: the default socket path, framing, replies matched to
# requests by id (they may come out of order), descriptors passed with replies. Thread-safe.
"""The line protocol of shmpoold over its Unix socket (docs/protocol.md)."""

import collections
import json
import os
import re
import socket
import threading
import time

import numpy as np

from .errors import DaemonConnectionError, error_for

MAX_REPLY_LINE = 64 << 20  # bytes; as the C++ client (client/client.h kMaxReplyLine)
MAX_FDS_PER_READ = 4  # the daemon passes at most one descriptor per reply line
_INSTANCE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


def default_socket_path(instance="default"):
    """The daemon's socket for an instance, by the rules of common/names.cpp: /run/shmpool for
    root, else $XDG_RUNTIME_DIR/shmpool, else /tmp/shmpool-<euid>; then <instance>.sock."""
    if not isinstance(instance, str) or not _INSTANCE_NAME.match(instance):
        raise error_for("bad_name", "instance names are 1-64 characters of A-Z a-z 0-9 _ -, not %r" % (instance,))
    euid = os.geteuid()
    if euid == 0:
        directory = "/run/shmpool"
    elif os.environ.get("XDG_RUNTIME_DIR"):
        directory = os.path.join(os.environ["XDG_RUNTIME_DIR"], "shmpool")
    else:
        directory = "/tmp/shmpool-%d" % euid
    return os.path.join(directory, instance + ".sock")


def _json_default(value):
    """NumPy scalars and arrays in requests (params) become plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError("%r (%s) cannot be sent as JSON" % (value, type(value).__name__))


def encode_request(obj):
    """One request line. NaN and infinities are refused: JSON has no such numbers."""
    try:
        text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_json_default)
    except ValueError as e:
        raise error_for("bad_request", "a request holds a value JSON cannot carry (%s)" % e) from None
    return text.encode() + b"\n"


# The key under which a reply marked "fd": true holds the received descriptor (an int the
# receiver owns and must close); the daemon never sends this key.
PASSED_FD = "passed_fd"


def _close_passed_fd(reply):
    if reply is not None and PASSED_FD in reply:
        os.close(reply.pop(PASSED_FD))


class Connection:
    """A connected socket. send() returns an id; receive(id, deadline) returns that reply,
    keeping replies to other requests in flight for their own receive()."""

    def __init__(self, path):
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(path)
        except OSError as e:
            self._sock.close()
            raise DaemonConnectionError("cannot connect to shmpoold at %s: %s" % (path, e.strerror or e)) from e
        self._buf = bytearray()
        self._next_id = 1
        self._in_flight = set()
        self._replies = {}  # id -> reply read ahead
        self._fds = collections.deque()  # descriptors passed by the daemon, not yet given to a reply
        self._state = threading.Condition()  # ids, replies, who reads; notified on each reply
        self._reading = False  # a thread is reading the socket (outside the lock)
        self._send_lock = threading.Lock()
        self._broken = None  # the DaemonConnectionError that ended the connection
        self._closed = False

    # ---- lifecycle
    def close(self):
        with self._state:
            if self._closed:
                return
            self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._state:
            for reply in self._replies.values():
                _close_passed_fd(reply)
            self._replies.clear()
            while self._fds:
                os.close(self._fds.popleft())

    @property
    def closed(self):
        return self._closed

    def _check_usable(self):
        if self._closed:
            raise DaemonConnectionError("the connection to %s is closed" % self.path)
        if self._broken is not None:
            raise DaemonConnectionError(str(self._broken))

    # ---- requests
    def send(self, verb, args, fds=()):
        """Sends {"id", "verb", **args}, with `fds` passed (SCM_RIGHTS) on its first bytes;
        returns the id to receive() the reply with."""
        self._check_usable()
        with self._state:
            rid = self._next_id
            self._next_id += 1
        line = encode_request(dict(args, id=rid, verb=verb))
        with self._send_lock:
            with self._state:
                self._in_flight.add(rid)
            try:
                sent = socket.send_fds(self._sock, [line], list(fds)) if fds else 0
                self._sock.sendall(line[sent:])
            except OSError as e:
                raise self._fail("sending a %s request" % verb, e) from e
        return rid

    def receive(self, rid, deadline=None):
        """The reply (a dict) to request rid. deadline: time.monotonic() value or None; past it,
        TimeoutError, and the request stays in flight (receive it again later). One thread
        reads at a time and hands other threads their replies. An event line of rid (it has an
        "event" key, docs/protocol.md) is returned too and rid stays in flight for its reply."""
        while True:
            with self._state:
                while True:
                    if rid in self._replies:
                        reply = self._replies.pop(rid)
                        if "event" not in reply:  # an event: the reply is still to come
                            self._in_flight.discard(rid)
                        return reply
                    if rid not in self._in_flight:
                        raise KeyError("no request %r in flight" % (rid,))
                    self._check_usable()
                    if not self._reading:
                        self._reading = True
                        break
                    remaining = self._remaining(deadline)
                    if remaining == 0.0:
                        raise TimeoutError("no reply to request %d within the timeout" % rid)
                    self._state.wait(remaining)
            reply = None
            try:
                reply = self._read_reply(deadline, rid)
            finally:
                with self._state:
                    self._reading = False
                    if reply is not None:
                        self._store(reply)
                    self._state.notify_all()

    def forget(self, rid):
        """Gives up on request rid: its reply, when it comes, is dropped."""
        with self._state:
            self._in_flight.discard(rid)
            _close_passed_fd(self._replies.pop(rid, None))

    def call(self, verb, args, timeout=None, fds=()):
        """send + receive: the whole reply."""
        rid = self.send(verb, args, fds)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return self.receive(rid, deadline)
        except TimeoutError:
            self.forget(rid)
            raise

    # ---- reading
    @staticmethod
    def _remaining(deadline):
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _store(self, reply):
        """Keeps a reply for its receive() (called with self._state held)."""
        rid = reply.get("id")
        # A reply with a null id and ok:false answers a request the daemon could not read
        # (e.g. line_too_long); it goes to the oldest request in flight.
        if rid is None and reply.get("ok") is False and self._in_flight:
            rid = min(self._in_flight)
        if rid in self._in_flight:
            # a newer event replaces an unread one; an event never replaces the reply
            if "event" in reply and "event" not in self._replies.get(rid, reply):
                return
            self._replies[rid] = reply
        else:
            _close_passed_fd(reply)

    def _read_reply(self, deadline, rid):
        line = self._read_line(deadline, rid)
        try:
            reply = json.loads(line)
        except ValueError:
            raise self._fail("reading a reply", None, "the daemon sent a line that is not JSON: %r" % line[:200])
        if not isinstance(reply, dict):
            raise self._fail("reading a reply", None, "the daemon sent a JSON line that is not an object")
        if reply.get("fd") is True:
            # it came with the line's first bytes, so it has been received by now
            if not self._fds:
                raise self._fail("reading a reply", None, "the daemon announced a descriptor it did not pass")
            reply[PASSED_FD] = self._fds.popleft()
        return reply

    def _read_line(self, deadline, rid):
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[:end + 1]
                return line
            if len(self._buf) > MAX_REPLY_LINE:
                raise self._fail("reading a reply", None, "a reply line is longer than %d bytes" % MAX_REPLY_LINE)
            timeout = self._remaining(deadline)
            if timeout == 0.0:
                raise TimeoutError("no reply to request %d within the timeout" % rid)
            self._sock.settimeout(timeout)
            try:
                chunk, fds, _, _ = socket.recv_fds(self._sock, 1 << 20, MAX_FDS_PER_READ, socket.MSG_CMSG_CLOEXEC)
                self._fds.extend(fds)
            except socket.timeout:
                raise TimeoutError("no reply to request %d within the timeout" % rid) from None
            except OSError as e:
                raise self._fail("reading a reply", e) from e
            if not chunk:
                raise self._fail("reading a reply", None, "the daemon closed the connection")
            self._buf += chunk

    def _fail(self, doing, os_error, text=None):
        """Marks the connection broken; returns the DaemonConnectionError to raise."""
        reason = text or (os_error.strerror if os_error is not None and os_error.strerror else str(os_error))
        self._broken = DaemonConnectionError("connection to shmpoold at %s broke while %s: %s"
                                             % (self.path, doing, reason))
        return self._broken
