"""Test harness for shmpool integration tests: start the real shmpoold, talk NDJSON to it,
make and read datasets, and check that nothing of an instance outlives it.

Every wait here is bounded, so a hung daemon fails a test instead of hanging CI.
Run with Debian's /usr/bin/python3 (NumPy, SciPy, pytest); env SHMPOOLD and SHMPOOL_CLI
name the binaries (defaults: the repo's build/ directory).
"""

import ctypes
import glob
import json
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHMPOOLD = os.environ.get("SHMPOOLD", os.path.join(REPO, "build", "shmpoold"))
SHMPOOL_CLI = os.environ.get("SHMPOOL_CLI", os.path.join(REPO, "build", "shmpool"))

READY_TIMEOUT = 20.0  # s for a daemon to answer its first ping
STOP_TIMEOUT = 30.0  # s for a daemon to exit after SIGTERM
REPLY_TIMEOUT = 60.0  # s for a reply to an ordinary request
JOB_TIMEOUT = 300.0  # s for a job to end (job.wait, submit with wait)
DEATH_GRACE = 2.0  # s for workers to die after their daemon was SIGKILLed

# Set by scripts/test.sh for the ASan+UBSan build: what ASan changes (RSS, RLIMIT_DATA) is judged accordingly.
SANITIZED = os.environ.get("SHMPOOL_SANITIZED") == "1"

DTYPES = ("float64", "float32", "int64", "int32", "uint8")


# --------------------------------------------------------------------------- processes

def make_subreaper():
    """Orphans of this test process (workers of a SIGKILLed daemon, or of a daemon that
    exited without reaping) are re-parented here, so the leak checks see them as our
    children instead of losing them to whatever init the machine runs."""
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def proc_stat(pid):
    """(state, ppid, starttime) of a process, or None when it does not exist."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children_of(ppid):
    """[(pid, state)] of the live or zombie processes whose parent is ppid."""
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] == ppid:
            out.append((pid, st[0]))
    return out


def describe_pid(pid):
    st = proc_stat(pid)
    if st is None:
        return "pid %d (gone)" % pid
    cmd = b" ".join(proc_cmdline(pid)).decode("utf-8", "replace").strip()
    return "pid %d state %s ppid %d cmd %r" % (pid, st[0], st[1], cmd)


def reap_if_our_zombie(pid):
    """Reap pid if it is a dead child of this process (as subreaper we adopt orphans)."""
    try:
        got, _ = os.waitpid(pid, os.WNOHANG)
        return got == pid
    except ChildProcessError:
        return False


def wait_pids_gone(pids, timeout):
    """True when none of pids is alive within timeout (a dead child of ours, e.g. an orphaned
    worker adopted by this subreaper, is reaped on the way)."""

    def gone():
        for pid in pids:
            st = proc_stat(pid)
            if st is None or (st[0] == "Z" and reap_if_our_zombie(pid)):
                continue
            return False
        return True

    return wait_until(gone, timeout, 0.01)


def wait_until(pred, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def unique_instance():
    return "t%d-%s" % (os.getpid(), "".join(random.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(8)))


def shm_entries(instance):
    """Names in /dev/shm that belong to the instance."""
    return sorted(os.path.basename(p) for p in glob.glob("/dev/shm/shmpool.%s.*" % instance))


def dataset_entries(instance):
    """The instance's entries in /dev/shm other than spare segments (kept for reuse while it runs)."""
    return [n for n in shm_entries(instance) if ".spare" not in n]


def segment_inodes(instance):
    """{name: inode} of the instance's entries in /dev/shm: tells a kept segment from a new one."""
    out = {}
    for name in shm_entries(instance):
        try:
            out[name] = os.stat("/dev/shm/" + name).st_ino
        except FileNotFoundError:
            pass
    return out


def spare_inodes(instance):
    """{name: inode} of the instance's spare segments (deleted datasets' segments kept for reuse)."""
    return {n: ino for n, ino in segment_inodes(instance).items() if ".spare" in n}


# --------------------------------------------------------------------------- replies

class ReplyError(AssertionError):
    pass


def expect_ok(reply, what=""):
    if not isinstance(reply, dict) or reply.get("ok") is not True or "result" not in reply:
        raise ReplyError("expected ok reply%s, got %s" % (" to " + what if what else "", json.dumps(reply)[:2000]))
    return reply["result"]


def expect_error(reply, codes, what=""):
    """Asserts a failure reply whose code is `codes` (a string or a collection); returns the error."""
    if isinstance(codes, str):
        codes = (codes,)
    err = reply.get("error") if isinstance(reply, dict) else None
    if (not isinstance(reply, dict) or reply.get("ok") is not False or not isinstance(err, dict)
            or err.get("code") not in codes):
        raise ReplyError("expected error %s%s, got %s" % ("/".join(codes), " to " + what if what else "",
                                                          json.dumps(reply)[:2000]))
    assert isinstance(err.get("message"), str) and err["message"], "error without a message: %r" % reply
    return err


def id_key(value):
    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------- connection

class ConnectionClosed(AssertionError):
    pass


class Conn:
    """A raw NDJSON client on the daemon's socket. Every read has a deadline."""

    def __init__(self, path, timeout=REPLY_TIMEOUT, observer=None):
        self.path = path
        self.timeout = timeout
        self.observer = observer  # called with every reply (records worker pids)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10.0)
        self.sock.connect(path)
        self.buf = b""
        self.pending = {}  # id key -> [reply, ...] read while waiting for another id
        self.order = []  # id keys of replies in the order they arrived
        self.events = []  # event lines ({"event": ...}) in the order they arrived
        self.eof = False
        self._next = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def new_id(self):
        self._next += 1
        return self._next

    # ---- sending
    def send_raw(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def send_obj(self, obj):
        self.send_raw(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def request(self, verb, _id=None, **args):
        """Sends one request without reading; returns its id."""
        rid = self.new_id() if _id is None else _id
        obj = {"id": rid, "verb": verb}
        obj.update(args)
        self.send_obj(obj)
        return rid

    # ---- receiving
    def _read_line(self, deadline):
        while b"\n" not in self.buf:
            if self.eof:
                raise ConnectionClosed("connection closed by the daemon (buffered: %r)" % self.buf[:200])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no complete reply line within the deadline")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise socket.timeout("no complete reply line within the deadline") from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                continue
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def _read_reply(self, deadline):
        """The next reply; event lines read on the way are appended to self.events."""
        while True:
            line = self._read_line(deadline)
            try:
                reply = json.loads(line)
            except ValueError as e:
                raise AssertionError("daemon sent a line that is not JSON (%s): %r" % (e, line[:500]))
            if isinstance(reply, dict) and "event" in reply:
                assert "id" in reply and "ok" not in reply, "malformed event: %r" % line[:500]
                self.events.append(reply)
                continue
            break
        assert isinstance(reply, dict) and "id" in reply and "ok" in reply, "malformed reply: %r" % line[:500]
        if self.observer:
            self.observer(reply)
        self.order.append(id_key(reply["id"]))
        return reply

    def recv_any(self, timeout=None):
        """The next reply, whatever its id (buffered ones first)."""
        for key in list(self.pending):
            if self.pending[key]:
                reply = self.pending[key].pop(0)
                if not self.pending[key]:
                    del self.pending[key]
                return reply
        return self._read_reply(time.monotonic() + (timeout or self.timeout))

    def recv_reply(self, rid, timeout=None):
        """The reply whose id is rid; replies to other ids are kept for later."""
        key = id_key(rid)
        if self.pending.get(key):
            reply = self.pending[key].pop(0)
            if not self.pending[key]:
                del self.pending[key]
            return reply
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                reply = self._read_reply(deadline)
            except socket.timeout:
                raise AssertionError("no reply with id %s within %.0f s (other replies buffered: %s)"
                                     % (key, timeout or self.timeout, list(self.pending))) from None
            if id_key(reply["id"]) == key:
                return reply
            self.pending.setdefault(id_key(reply["id"]), []).append(reply)

    def call(self, verb, _timeout=None, _id=None, **args):
        """Sends a request and returns its reply (a dict with ok/result/error)."""
        if _timeout is None and (args.get("wait") is True or verb == "job.wait"):
            _timeout = JOB_TIMEOUT
        rid = self.request(verb, _id=_id, **args)
        return self.recv_reply(rid, _timeout)

    def ok(self, verb, _timeout=None, **args):
        """Sends a request, asserts it succeeded, returns its result."""
        return expect_ok(self.call(verb, _timeout=_timeout, **args), verb)

    def wait_closed(self, timeout=10.0):
        """True when the daemon closes the connection (after unread replies) within timeout."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return False
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            else:
                self.buf += chunk
        return True


# --------------------------------------------------------------------------- daemon

class Daemon:
    """One shmpoold in a private temp dir with a unique instance name."""

    def __init__(self, workdir, workers=2, instance=None, socket_path=None, extra_args=(), label="d", env=None):
        self.workdir = workdir
        self.env = env  # variables added to the daemon's environment (e.g. SHMPOOL_CPU)
        self.workers_n = workers
        self.instance = instance or unique_instance()
        self.socket_path = socket_path or os.path.join(workdir, "%s.sock" % label)
        self.extra_args = list(extra_args)
        self.label = label
        self.stderr_path = os.path.join(workdir, "%s-%s.stderr" % (label, self.instance))
        self.proc = None
        self.pid = None
        self.killed = False  # SIGKILLed by the test: its exit status is not judged
        self.refused = False  # refused to start: the instance's segments and socket are another's
        self.returncode = None
        self.seen = {}  # pid -> starttime of every worker (and the daemon) ever seen
        self.conns = []

    # ---- lifecycle
    def argv(self):
        # the test's private dir is the one directory file paths may name (docs/security.md)
        return [SHMPOOLD, "--instance", self.instance, "--socket", self.socket_path,
                "--workers", str(self.workers_n), "--foreground", "--allow-dir", self.workdir] + self.extra_args

    def spawn(self):
        assert os.access(SHMPOOLD, os.X_OK), "no shmpoold at %s (set SHMPOOLD)" % SHMPOOLD
        self._err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err,
                                     cwd=self.workdir, close_fds=True,
                                     env=dict(os.environ, **self.env) if self.env else None)
        self.pid = self.proc.pid
        self._record(self.pid)
        return self

    def start(self, timeout=READY_TIMEOUT):
        self.spawn()
        self.wait_ready(timeout)
        self.workers()  # record the first workers' pids
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise AssertionError("shmpoold exited with %s before it was ready\n%s" % (rc, self.stderr_tail()))
            try:
                with Conn(self.socket_path, timeout=5.0) as c:
                    pong = c.ok("ping")
                assert pong.get("pong") is True, pong
                assert pong.get("instance") == self.instance, pong
                assert pong.get("pid") == self.pid, "ping pid %r is not the daemon's pid %d" % (pong, self.pid)
                return pong
            except (FileNotFoundError, ConnectionRefusedError, ConnectionClosed, socket.timeout, OSError) as e:
                last = e
                time.sleep(0.02)
        raise AssertionError("shmpoold not ready within %.0f s (last: %r)\n%s" % (timeout, last, self.stderr_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the daemon to exit; returns its status. Kills it and fails after timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
            self._err.close()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._err.close()
            self.killed = True
            raise AssertionError("shmpoold (pid %d) did not exit within %.0f s; SIGKILLed it\n%s"
                                 % (self.pid, timeout, self.stderr_tail()))
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals the daemon (SIGTERM by default) and returns its exit status (bounded wait)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if self.running():
                try:
                    self.workers(timeout=5.0)  # record the pids of the last generation of workers
                except Exception:
                    pass
            self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        self.close_conns()
        return rc

    def kill9(self):
        """SIGKILL the daemon and reap it; its workers are left to PR_SET_PDEATHSIG."""
        try:
            self.workers(timeout=5.0)
        except Exception:
            pass
        self.killed = True
        self.proc.kill()
        self.returncode = self.proc.wait(10)
        self._err.close()
        self.close_conns()

    def close_conns(self):
        for c in self.conns:
            c.close()
        self.conns = []

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=6000):
        text = self.stderr_text()
        return "---- shmpoold %s stderr (%s) ----\n%s" % (self.instance, self.stderr_path, text[-n:])

    # ---- talking
    def _record(self, pid):
        if pid and pid not in self.seen:
            st = proc_stat(pid)
            self.seen[pid] = st[2] if st else None

    def _observe(self, reply):
        res = reply.get("result")
        if isinstance(res, dict) and isinstance(res.get("workers"), list):
            for w in res["workers"]:
                if isinstance(w, dict) and isinstance(w.get("pid"), int) and w["pid"] > 0:
                    self._record(w["pid"])

    def conn(self, timeout=REPLY_TIMEOUT):
        c = Conn(self.socket_path, timeout=timeout, observer=self._observe)
        self.conns.append(c)
        return c

    def workers(self, timeout=REPLY_TIMEOUT):
        with Conn(self.socket_path, timeout=timeout, observer=self._observe) as c:
            return c.ok("workers")["workers"]

    def segments(self):
        return shm_entries(self.instance)


# --------------------------------------------------------------------------- leak checks

def instance_processes(instance):
    """Live processes whose command line names the instance (the daemon and forked workers)."""
    needle = ["--instance", instance]
    out = []
    for pid in all_pids():
        if pid == os.getpid():
            continue
        args = [a.decode("utf-8", "replace") for a in proc_cmdline(pid)]
        for i in range(len(args) - 1):
            if args[i:i + 2] == needle:
                out.append(pid)
                break
    return out


def find_leaks(daemon, grace=0.0):
    """A list of problems: what of the (stopped or killed) daemon's instance still exists.

    grace: seconds to let processes finish dying (only for a SIGKILLed daemon, whose workers die
    by PR_SET_PDEATHSIG; a daemon that exited by itself must have reaped them already)."""
    problems = []
    assert daemon.proc is None or daemon.proc.poll() is not None, "find_leaks on a running daemon"
    me = os.getpid()

    def lingering():
        left = []
        for pid, start in daemon.seen.items():
            st = proc_stat(pid)
            if st is None or (start is not None and st[2] != start):
                continue  # gone (or the pid was reused by someone else)
            if st[0] == "Z" and st[1] == me and daemon.killed:
                reap_if_our_zombie(pid)  # an orphan of the killed daemon, adopted by us
                continue
            left.append(pid)
        return left

    if grace:
        wait_until(lambda: not lingering(), grace)
    for pid in lingering():
        problems.append("process of the instance still exists: %s" % describe_pid(pid))
    for pid in instance_processes(daemon.instance):
        if pid not in daemon.seen:
            problems.append("unseen process of the instance still exists: %s" % describe_pid(pid))
    for pid, state in children_of(me):
        if state == "Z":
            if daemon.killed and proc_cmdline(pid) in ([], [b""]) and reap_if_our_zombie(pid):
                continue  # a worker of the killed daemon whose pid we never saw
            problems.append("zombie child of the test process: %s" % describe_pid(pid))
    segs = shm_entries(daemon.instance)
    if segs and not (daemon.killed or daemon.refused):
        problems.append("segments left in /dev/shm: %s" % segs)
    if os.path.lexists(daemon.socket_path) and not (daemon.killed or daemon.refused):
        problems.append("socket file left: %s" % daemon.socket_path)
    return problems


def assert_no_leaks(daemon, grace=0.0):
    problems = find_leaks(daemon, grace)
    if problems:
        raise AssertionError("leaks of instance %s:\n  %s\n%s" % (daemon.instance, "\n  ".join(problems),
                                                                   daemon.stderr_tail()))


def cleanup_instance(daemon):
    """After the checks: remove whatever a broken daemon left, so one failure does not leak into
    the next test. Only processes of this instance are killed, each by its pid."""
    for pid, start in list(daemon.seen.items()) + [(p, None) for p in instance_processes(daemon.instance)]:
        st = proc_stat(pid)
        if st is None or (start is not None and st[2] != start):
            continue
        if pid in instance_processes(daemon.instance) or st[1] == os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    wait_until(lambda: not instance_processes(daemon.instance), 3.0)
    for pid, state in children_of(os.getpid()):
        if state == "Z":
            reap_if_our_zombie(pid)
    for name in shm_entries(daemon.instance):
        try:
            os.unlink("/dev/shm/" + name)
        except FileNotFoundError:
            pass
    if os.path.lexists(daemon.socket_path):
        os.unlink(daemon.socket_path)


# --------------------------------------------------------------------------- datasets

def rng(seed):
    return np.random.default_rng(seed)


def put_file(conn, workdir, name, arr):
    """dataset.put from a .npy file written in workdir; returns the info."""
    path = os.path.join(workdir, "in-%s-%d.npy" % (name.replace(":", "_"), random.getrandbits(32)))
    np.save(path, np.ascontiguousarray(arr))
    return conn.ok("dataset.put", name=name, file=path)


def client_shm_name():
    return "shmpool-client.%d.%08x" % (os.getpid(), random.getrandbits(32))


def put_shm(conn, name, arr, dtype=None, shape=None):
    """dataset.put from a POSIX shm object the client creates (a file in /dev/shm), unlinked after
    the reply. Returns the reply (not asserted)."""
    shm = client_shm_name()
    path = "/dev/shm/" + shm
    arr = np.ascontiguousarray(arr)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(arr.tobytes())
        return conn.call("dataset.put", name=name, shm="/" + shm, dtype=dtype or str(arr.dtype),
                         shape=list(shape if shape is not None else arr.shape))
    finally:
        os.unlink(path)


def put_fd(conn, name, fd):
    """dataset.put of the .npy file open as fd, passed (SCM_RIGHTS) with the request; returns the reply."""
    rid = conn.new_id()
    line = json.dumps({"id": rid, "verb": "dataset.put", "name": name, "fd": True}).encode() + b"\n"
    conn.sock.settimeout(conn.timeout)
    assert socket.send_fds(conn.sock, [line], [fd]) == len(line)
    return conn.recv_reply(rid)


def npy_memfd(arr):
    """A memfd holding arr as an .npy file (the caller closes it)."""
    fd = os.memfd_create("shmpool-test-npy", os.MFD_CLOEXEC)
    with os.fdopen(os.dup(fd), "wb") as f:
        np.save(f, np.ascontiguousarray(arr))
    return fd


def put_inline(conn, name, arr):
    """dataset.put with inline JSON data; returns the reply (not asserted)."""
    return conn.call("dataset.put", name=name, data=arr.tolist(), dtype=str(arr.dtype))


def put_any(conn, workdir, name, arr, how):
    if how == "file":
        return put_file(conn, workdir, name, arr)
    if how == "shm":
        return expect_ok(put_shm(conn, name, arr), "dataset.put shm")
    if how == "inline":
        return expect_ok(put_inline(conn, name, arr), "dataset.put data")
    raise ValueError(how)


def read_dataset(info):
    """A copy of a dataset read by mapping /dev/shm/<segment> read-only as info's dtype/shape."""
    path = "/dev/shm/" + info["segment"]
    shape = tuple(info["shape"])
    dtype = np.dtype(info["dtype"])
    size = os.stat(path).st_size
    need = dtype.itemsize * int(np.prod(shape))
    assert size >= need, "segment %s has %d bytes, info says %d" % (path, size, need)
    m = np.memmap(path, dtype=dtype, mode="r", shape=shape)
    try:
        return np.array(m)
    finally:
        m._mmap.close()
        del m


def check_info(info, daemon, name, dtype, shape):
    assert info["name"] == name, info
    assert info["dtype"] == dtype, info
    assert list(info["shape"]) == list(shape), info
    assert info["bytes"] == np.dtype(dtype).itemsize * int(np.prod(shape)), info
    assert info["segment"].startswith("shmpool.%s.ds" % daemon.instance), info
    assert os.path.exists("/dev/shm/" + info["segment"]), info
    assert info["sealed"] is True, info


# --------------------------------------------------------------------------- kernels & jobs

def ref_euclidean(X, Y):
    from scipy.spatial.distance import cdist
    return cdist(X, Y, "euclidean")


def ref_rbf(P):
    """The seed's NumPy formula: L = sqrt(sum of squared coordinate differences); L**3/12 + L**2/6."""
    n = P.shape[0]
    out = np.empty((n, n))
    step = max(1, (1 << 22) // max(1, n * P.shape[1]))
    for b in range(0, n, step):
        p = P[b:b + step]
        L = np.sqrt(((p[:, None, :] - P[None, :, :]) ** 2).sum(axis=2))
        out[b:b + step] = L ** 3 / 12 + L ** 2 / 6
    return out


EUCLID_RTOL = 1e-9
RBF_RTOL = 1e-12
ATOL = 1e-12


def assert_close(got, ref, rtol, what):
    assert got.shape == ref.shape, "%s: shape %s, reference %s" % (what, got.shape, ref.shape)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=ATOL, err_msg=what)


def check_job_done(job, rows=None, chunk=None):
    assert job["state"] == "done", job
    assert job["error"] is None, job
    assert job["ranges_done"] == job["ranges"], job
    if rows is not None:
        assert job["rows"] == rows, job
    if chunk:
        assert job["chunk"] == chunk, job
    if job["rows"] and job["chunk"]:
        assert job["ranges"] == -(-job["rows"] // job["chunk"]), "ranges != ceil(rows/chunk): %s" % job


def submit(conn, kernel, inputs=None, params=None, chunk=None, output=None, wait=True, timeout=None, **extra):
    args = {"kernel": kernel, "inputs": inputs or {}, "params": params or {}, "wait": wait}
    args.update(extra)
    if chunk is not None:
        args["chunk"] = chunk
    if output is not None:
        args["output"] = output
    return conn.call("job.submit", _timeout=timeout, **args)


def run_job(conn, kernel, inputs=None, params=None, chunk=None, output=None, timeout=None, **extra):
    """Submits with wait and asserts the job is done; returns the job."""
    job = expect_ok(submit(conn, kernel, inputs, params, chunk, output, True, timeout, **extra), "job.submit " + kernel)
    check_job_done(job, chunk=chunk)
    return job


def output_array(conn, job):
    """The job's output dataset, read by mapping its segment."""
    info = conn.ok("dataset.info", name=job["output"]["name"])
    assert info["sealed"] is True, info
    return read_dataset(info)


def submit_and_fail(conn, kernel, codes, params=None, **kw):
    """Submits without wait, then job.wait must fail with one of codes; returns the ended job."""
    job = expect_ok(submit(conn, kernel, params=params, wait=False, **kw), "job.submit " + kernel)
    expect_error(conn.call("job.wait", job=job["job"]), codes, "job.wait of job %d" % job["job"])
    return conn.ok("job.status", job=job["job"])


def small_job_ok(daemon, seed=7):
    """The daemon still computes correctly: a small euclidean job on a fresh connection."""
    r = rng(seed)
    X, Y = r.standard_normal((9, 3)), r.standard_normal((5, 3))
    tag = "%08x" % random.getrandbits(32)
    with daemon.conn() as c:
        expect_ok(put_inline(c, "sx" + tag, X))
        expect_ok(put_inline(c, "sy" + tag, Y))
        job = run_job(c, "euclidean", {"X": "sx" + tag, "Y": "sy" + tag}, chunk=2, output="sd" + tag)
        assert_close(output_array(c, job), ref_euclidean(X, Y), EUCLID_RTOL, "small euclidean")
        for n in ("sx", "sy", "sd"):
            c.ok("dataset.delete", name=n + tag)


def still_serves(daemon):
    """A ping on a new connection and a small correct job."""
    with daemon.conn() as c:
        assert c.ok("ping")["pong"] is True
    small_job_ok(daemon)


# --------------------------------------------------------------------------- another uid

PY_CLIENT_DIR = os.path.join(REPO, "client", "python")
NOBODY_UID = 65534  # uid of `nobody` on Debian

# Sends the JSON requests read from stdin (one a line, each with its "verb") on one connection
# with the Python client's Connection, and prints each reply as one JSON line.
_REQUESTS_SCRIPT = r"""
import json, sys
from shmpool.connection import Connection
conn = Connection(sys.argv[1])
for line in sys.stdin:
    req = json.loads(line)
    print(json.dumps(conn.call(req.pop("verb"), req, 60.0)), flush=True)
"""


def share_with_everyone(daemon):
    """Lets file permissions pass any uid to the daemon's socket (its directory 0755, the socket
    0666), so the daemon's own checks decide who is served."""
    os.chmod(daemon.workdir, 0o755)
    os.chmod(daemon.socket_path, 0o666)


def run_python_as_nobody(code, *args, input=None, timeout=60):
    """Runs Python code as uid nobody, gid nogroup, no supplementary groups (the tests run as
    root), with the Python client importable; returns the CompletedProcess (text)."""
    env = dict(os.environ, PYTHONPATH=PY_CLIENT_DIR)
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c", code]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout, input=input, env=env,
                          cwd="/")


def requests_as_nobody(daemon, requests):
    """Sends each request (a dict with its "verb") in order on one connection as uid nobody;
    returns the replies."""
    res = run_python_as_nobody(_REQUESTS_SCRIPT, daemon.socket_path,
                               input="".join(json.dumps(r) + "\n" for r in requests))
    assert res.returncode == 0, "client as nobody failed: %s" % res.stderr
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


# --------------------------------------------------------------------------- CLI

def run_cli(args, socket_path=None, timeout=120, input=None, env=None, cwd=None):
    """Runs the shmpool CLI; returns CompletedProcess (text)."""
    assert os.access(SHMPOOL_CLI, os.X_OK), "no shmpool CLI at %s (set SHMPOOL_CLI)" % SHMPOOL_CLI
    argv = [SHMPOOL_CLI]
    if socket_path is not None:
        argv += ["--socket", socket_path]
    argv += list(args)
    e = dict(os.environ)
    if env:
        e.update(env)
    kw = {} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, env=e, cwd=cwd, **kw)


def run_cli_tty_stderr(args, socket_path=None, timeout=120):
    """Runs the shmpool CLI with stderr on a pseudo-terminal and stdout on a pipe, as a user
    at a terminal piping the output; returns (returncode, stdout text, stderr bytes)."""
    import pty
    argv = [SHMPOOL_CLI] + (["--socket", socket_path] if socket_path is not None else []) + list(args)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        err = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal's last descriptor
                break
            if not chunk:
                break
            err += chunk
        out = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
        return proc.returncode, out.decode("utf-8", "replace"), err
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)


def mkworkdir():
    return tempfile.mkdtemp(prefix="shmpool-it.")


def rmworkdir(path):
    shutil.rmtree(path, ignore_errors=True)


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# --------------------------------------------------------------------------- threads

def run_threads(funcs, timeout=JOB_TIMEOUT):
    """Runs each callable in its own thread; re-raises the first failure; fails if one hangs."""
    import threading
    import traceback
    errors = []

    def wrap(fn):
        try:
            fn()
        except BaseException:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=wrap, args=(fn,), daemon=True) for fn in funcs]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    assert not hung, "%d of %d client threads still running after %.0f s" % (hung, len(threads), timeout)
    assert not errors, "client thread failed:\n" + "\n".join(errors)


def wait_pool_idle(daemon, n, timeout=30.0):
    """Polls `workers` until there are n workers, all idle with live pids; returns them."""
    last = []

    def live(pid):  # read once: the process may exit between two reads
        stat = proc_stat(pid)
        return stat is not None and stat[0] != "Z"

    def idle():
        nonlocal last
        last = daemon.workers()
        return len(last) == n and all(w["state"] == "idle" and live(w["pid"]) for w in last)

    assert wait_until(idle, timeout, 0.05), "pool not back to %d idle workers within %.0f s: %s" % (n, timeout, last)
    return last
