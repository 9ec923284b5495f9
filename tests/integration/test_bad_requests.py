"""Bad input gets a clear error with a stable code, and nothing else happens: the connection
stays usable (except after line_too_long), other connections are served, jobs still compute."""

import json
import os

import numpy as np
import pytest

import shmpool_harness as h

MIB = 1 << 20


def raw(obj):
    return (json.dumps(obj) + "\n").encode()


# (id, raw line, expected code(s), id expected in the reply)
RAW_CASES = [
    ("truncated_json", b'{"id": 1, "verb": "ping"\n', "bad_json", None),
    ("not_json", b"hello daemon\n", "bad_json", None),
    ("empty_line", b"\n", "bad_json", None),
    ("array", b'[1, 2, 3]\n', "bad_json", None),
    ("string", b'"ping"\n', "bad_json", None),
    ("number", b"42\n", "bad_json", None),
    ("null", b"null\n", "bad_json", None),
    ("invalid_utf8", b'{"id": 2, "verb": "\xff\xfe"}\n', "bad_json", None),
    ("nul_byte", b'{"id": 3, "verb": "ping"}\x00\n', "bad_json", None),
    ("deep_nesting", b"[" * 300000 + b"]" * 300000 + b"\n", "bad_json", None),
    ("nul_then_garbage", b'{"id": 3, "verb": "ping"}\x00garbage\n', "bad_json", None),
    # the daemon bounds JSON nesting (64 levels): deeper is refused as bad_json
    ("deep_object", b'{"id": 4, "verb": "ping", "x": ' + b'{"a":' * 100000 + b"1" + b"}" * 100000 + b"}\n",
     "bad_json", None),
    ("nested_30_levels", b'{"id": 4, "verb": "ping", "x": ' + b'{"a":' * 30 + b"1" + b"}" * 30 + b"}\n",
     ("OK", "bad_request"), 4),  # valid JSON; an unknown field may be ignored or refused
    ("missing_verb", raw({"id": 5}), "bad_request", 5),
    ("verb_not_string", raw({"id": 6, "verb": 42}), "bad_request", 6),
    ("unknown_verb", raw({"id": 7, "verb": "dataset.explode"}), "unknown_verb", 7),
    ("unknown_verb_unicode", raw({"id": 8, "verb": "p\u00efng \u2603"}), "unknown_verb", 8),
    ("crlf", b'{"id": 9, "verb": "ping"}\r\n', None, 9),  # trailing whitespace is valid JSON
]


@pytest.mark.parametrize("case", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_raw_lines(daemon, case):
    _, line, code, rid = case
    c = daemon.conn()
    c.send_raw(line + b'{"id": "after", "verb": "ping"}\n')
    rep = c.recv_any()
    assert rep["id"] != "after", "no reply to the line %r (the next request was answered first)" % line[:60]
    assert rep["id"] == rid, "id %r echoed as %r: %s" % (rid, rep["id"], rep)
    if code is None or (not isinstance(code, str) and "OK" in code and rep.get("ok")):
        h.expect_ok(rep)
    else:
        h.expect_error(rep, code)
    assert h.expect_ok(c.recv_reply("after"))["pong"] is True, "connection unusable after an error"
    h.still_serves(daemon)


def setup_inputs(c):
    r = h.rng(0)
    h.expect_ok(h.put_inline(c, "X", r.standard_normal((5, 3))))
    h.expect_ok(h.put_inline(c, "Y", r.standard_normal((4, 3))))
    h.expect_ok(h.put_inline(c, "Y2", r.standard_normal((4, 2))))
    h.expect_ok(h.put_inline(c, "F32", r.standard_normal((5, 3)).astype(np.float32)))
    h.expect_ok(h.put_inline(c, "V", r.standard_normal((5,))))


def sub(kernel, inputs=None, params=None, **kw):
    d = {"verb": "job.submit", "kernel": kernel, "inputs": inputs or {}, "params": params or {}, "wait": True}
    d.update(kw)
    return d


def put_shm_req(shape, dtype="float64", shm="/shmpool-client-does-not-exist"):
    return {"verb": "dataset.put", "name": "S", "shm": shm, "dtype": dtype, "shape": shape}


# (id, request without id, expected code(s)); each runs after setup_inputs()
REQUEST_CASES = [
    ("unknown_kernel", sub("nope", {"X": "X"}), "unknown_kernel"),
    ("internal_kernel_name", sub("_copy", {"X": "X"}), "unknown_kernel"),
    ("kernel_not_string", sub(7), "bad_request"),
    ("unknown_dataset_input", sub("euclidean", {"X": "X", "Y": "nosuch"}), "unknown_dataset"),
    ("unknown_dataset_info", {"verb": "dataset.info", "name": "nosuch"}, "unknown_dataset"),
    ("unknown_dataset_get", {"verb": "dataset.get", "name": "nosuch"}, "unknown_dataset"),
    ("unknown_dataset_save", {"verb": "dataset.save", "name": "nosuch", "file": "/tmp/x.npy"}, "unknown_dataset"),
    ("unknown_dataset_delete", {"verb": "dataset.delete", "name": "nosuch"}, "unknown_dataset"),
    ("missing_role", sub("euclidean", {"X": "X"}), "missing_role"),
    ("missing_role_rbf", sub("rbf", {}), "missing_role"),
    ("unknown_role", sub("euclidean", {"X": "X", "Y": "Y", "Z": "X"}), "unknown_role"),
    ("inputs_not_object", sub("euclidean", ["X", "Y"]), "bad_request"),
    ("input_name_not_string", sub("euclidean", {"X": "X", "Y": 3}), "bad_request"),
    ("shape_mismatch_d", sub("euclidean", {"X": "X", "Y": "Y2"}), "shape_mismatch"),
    ("shape_mismatch_1d", sub("rbf", {"points": "V"}), "shape_mismatch"),
    ("dtype_mismatch", sub("euclidean", {"X": "F32", "Y": "Y"}), "dtype_mismatch"),
    ("dtype_mismatch_rbf", sub("rbf", {"points": "F32"}), "dtype_mismatch"),
    ("bad_param_negative_rows", sub("noop", params={"rows": -1}), "bad_param"),
    ("bad_param_rows_string", sub("noop", params={"rows": "many"}), "bad_param"),
    ("bad_param_fraction", sub("noop", params={"rows": 2.5}), "bad_param"),
    ("bad_param_unknown", sub("noop", params={"speed": 3}), "bad_param"),
    ("bad_param_ms", sub("sleep", params={"ms": -5}), "bad_param"),
    ("params_not_object", dict(sub("noop"), params=[1]), "bad_request"),
    ("too_many_ranges", sub("noop", params={"rows": 2**40}, chunk=1), "too_many_ranges"),
    ("chunk_negative", sub("noop", chunk=-1), "bad_request"),
    ("chunk_string", sub("noop", chunk="big"), "bad_request"),
    ("wait_not_bool", sub("noop", wait="yes"), "bad_request"),
    ("output_exists", sub("rbf", {"points": "X"}, output="Y"), "dataset_exists"),
    ("output_bad_name", sub("rbf", {"points": "X"}, output="../evil"), "bad_name"),
    ("job_id_string", {"verb": "job.status", "job": "seven"}, "bad_request"),
    ("job_id_missing", {"verb": "job.wait"}, "bad_request"),
    ("put_no_source", {"verb": "dataset.put", "name": "S"}, "bad_request"),
    ("put_two_sources", {"verb": "dataset.put", "name": "S", "data": [1.0], "file": "/tmp/x.npy"}, "bad_request"),
    ("put_no_name", {"verb": "dataset.put", "data": [1.0]}, "bad_request"),
    ("put_name_not_string", {"verb": "dataset.put", "name": 12, "data": [1.0]}, "bad_request"),
    # shapes of a put from shm: checked before the object is opened
    ("shm_shape_negative", put_shm_req([-1, 3]), "bad_shape"),
    ("shm_shape_zero", put_shm_req([0, 3]), "bad_shape"),
    ("shm_shape_empty", put_shm_req([]), "bad_shape"),
    ("shm_shape_5d", put_shm_req([1, 1, 1, 1, 1]), "bad_shape"),
    ("shm_shape_overflow", put_shm_req([2**40, 2**40]), "too_large"),
    ("shm_shape_overflow_4d", put_shm_req([2**16, 2**16, 2**16, 2**16]), "too_large"),
    ("shm_shape_huge_1d", put_shm_req([2**61], "uint8"), "too_large"),
    ("shm_shape_not_array", put_shm_req("5x3"), "bad_request"),
    ("shm_shape_fraction", put_shm_req([2.5, 3]), "bad_shape"),
    ("shm_dtype_unknown", put_shm_req([2, 3], "float16"), "bad_request"),
    ("shm_missing_object", put_shm_req([2, 3]), "io_error"),
    ("shm_path_traversal", put_shm_req([1], "uint8", "/../../etc/hostname"), ("bad_name", "bad_request", "io_error")),
    # inline data
    ("inline_empty", {"verb": "dataset.put", "name": "S", "data": []}, "bad_shape"),
    ("inline_empty_row", {"verb": "dataset.put", "name": "S", "data": [[]]}, "bad_shape"),
    ("inline_5d", {"verb": "dataset.put", "name": "S", "data": [[[[[1.0]]]]]}, "bad_shape"),
    ("inline_ragged", {"verb": "dataset.put", "name": "S", "data": [[1.0, 2.0], [3.0]]}, ("bad_shape",)),
    ("inline_scalar", {"verb": "dataset.put", "name": "S", "data": 3.0}, ("bad_shape", "bad_request")),
    ("inline_not_number", {"verb": "dataset.put", "name": "S", "data": [1.0, "two"]}, "bad_request"),
    ("inline_dtype_unknown", {"verb": "dataset.put", "name": "S", "data": [1.0], "dtype": "complex128"},
     "bad_request"),
    ("file_missing", {"verb": "dataset.put", "name": "S", "file": "/nonexistent/x.npy"}, "path_not_allowed"),
]


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[c[0] for c in REQUEST_CASES])
def test_bad_requests(daemon, case):
    name, req, codes = case
    c = daemon.conn()
    setup_inputs(c)
    before = c.ok("dataset.list")["datasets"]
    rid = "req-" + name
    c.send_obj(dict(req, id=rid))
    rep = c.recv_reply(rid)
    h.expect_error(rep, codes, name)
    # nothing else happened: no dataset added, changed or removed
    assert c.ok("dataset.list")["datasets"] == before
    assert c.ok("ping")["pong"] is True
    h.still_serves(daemon)


def test_file_not_npy_and_short_shm(daemon, workdir):
    c = daemon.conn()
    junk = os.path.join(workdir, "junk.npy")
    with open(junk, "wb") as f:
        f.write(b"\x93NUMPY this is not really an npy file" * 10)
    h.expect_error(c.call("dataset.put", name="J", file=junk), "io_error")
    cplx = os.path.join(workdir, "complex.npy")
    np.save(cplx, np.ones(4, dtype=np.complex128))
    h.expect_error(c.call("dataset.put", name="C", file=cplx), ("dtype_mismatch", "io_error", "bad_request"))
    # a shm object smaller than the shape it is declared with
    rep = h.put_shm(c, "S", np.zeros(10), shape=[100, 100])
    h.expect_error(rep, ("io_error", "shape_mismatch", "bad_request"), "shm object smaller than its shape")
    assert c.ok("dataset.list")["datasets"] == []
    h.still_serves(daemon)


BAD_NAMES = ["a/b", "/abs", "..", "a..b", ".hidden", "a\x01b", "tab\there", "new\nline", "", "x" * 129,
             "sp ace", "semi;colon", "\u00e9t\u00e9", "nul\x00byte"]


@pytest.mark.parametrize("src", ["inline", "file", "shm"])
def test_bad_names(daemon, workdir, src):
    c = daemon.conn()
    arr = np.arange(6.0).reshape(2, 3)
    for bad in BAD_NAMES:
        if src == "inline":
            rep = h.put_inline(c, bad, arr)
        elif src == "shm":
            rep = h.put_shm(c, bad, arr)
        else:
            path = os.path.join(workdir, "ok.npy")
            np.save(path, arr)
            rep = c.call("dataset.put", name=bad, file=path)
        h.expect_error(rep, "bad_name", "dataset.put name %r" % bad)
        h.expect_error(c.call("dataset.info", name=bad), ("bad_name", "unknown_dataset"), "info %r" % bad)
    assert c.ok("dataset.list")["datasets"] == []
    # the longest and oddest good names work
    for good in ["x" * 128, "a:b-c_d.e", "A.b.c", "0", "job1.out.copy"]:
        info = h.expect_ok(h.put_inline(c, good, arr), "good name %r" % good)
        assert info["name"] == good
    h.still_serves(daemon)


def test_duplicate_name(daemon, workdir):
    c = daemon.conn()
    a = np.arange(4.0)
    info = h.expect_ok(h.put_inline(c, "dup", a))
    h.expect_error(h.put_inline(c, "dup", a * 2), "dataset_exists")
    h.expect_error(h.put_shm(c, "dup", a * 3), "dataset_exists")
    path = os.path.join(workdir, "dup.npy")
    np.save(path, a * 4)
    h.expect_error(c.call("dataset.put", name="dup", file=path), "dataset_exists")
    assert c.ok("dataset.info", name="dup") == info
    assert np.array_equal(h.read_dataset(info), a), "the existing dataset was changed"
    assert [d["name"] for d in c.ok("dataset.list")["datasets"]] == ["dup"]
    h.still_serves(daemon)


@pytest.mark.parametrize("newline", [True, False], ids=["with_newline", "no_newline"])
def test_line_too_long(daemon, newline):
    other = daemon.conn()
    c = daemon.conn()
    line = b'{"id": 1, "verb": "ping", "pad": "' + b"x" * (MIB + 100) + b'"}'
    if newline:
        line += b"\n"
    try:
        c.send_raw(line)
        # more data after the long line: the daemon must not read it as requests
        c.send_raw(b'{"id": 2, "verb": "ping"}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon may close before it read everything; the reply may still be there
    rep = c.recv_any()
    h.expect_error(rep, "line_too_long")
    assert rep["id"] is None, rep
    assert c.wait_closed(10.0), "connection not closed after line_too_long"
    assert not c.buf.strip(), "daemon answered after line_too_long: %r" % c.buf[:300]
    assert other.ok("ping")["pong"] is True
    h.still_serves(daemon)


def test_line_just_under_limit(daemon):
    """A put with about 0.9 MiB of inline data is a legal line."""
    c = daemon.conn()
    arr = h.rng(2).standard_normal((4000, 10))
    line = raw({"id": "big", "verb": "dataset.put", "name": "B", "data": arr.tolist()})
    assert 0.5 * MIB < len(line) < MIB, len(line)
    c.send_raw(line)
    info = h.expect_ok(c.recv_reply("big"))
    assert np.array_equal(h.read_dataset(info), arr)


def test_client_vanishes_mid_request(daemon):
    """A client that disconnects mid-line, or right after a waiting request, harms nobody."""
    c = daemon.conn()
    c.send_raw(b'{"id": 1, "verb": "pi')
    c.close()
    c2 = daemon.conn()
    c2.request("job.submit", kernel="sleep", params={"rows": 20, "ms": 10}, chunk=1, wait=True)
    c2.close()
    c3 = daemon.conn()
    c3.send_raw(b'{"id": 1, "verb": "ping"}\n' * 2000)
    c3.close()  # replies the daemon cannot deliver
    h.still_serves(daemon)
    h.wait_pool_idle(daemon, 2)


def test_output_larger_than_shared_memory(daemon, workdir):
    """A job whose output cannot fit in /dev/shm fails at submit with no_space (or too_large past
    the daemon's size limit), allocates nothing, and leaves the daemon serving. The output is
    over twice /dev/shm's size, so the kernel refuses the allocation up front."""
    vfs = os.statvfs("/dev/shm")
    total = vfs.f_frsize * vfs.f_blocks
    n = int((2 * total / 8) ** 0.5) + 1
    c = daemon.conn()
    h.put_file(c, workdir, "X", np.arange(float(n)).reshape(n, 1))
    before = daemon.segments()
    h.expect_error(h.submit(c, "rbf", {"points": "X"}, output="R"), ("no_space", "too_large"))
    h.expect_error(h.submit(c, "euclidean", {"X": "X", "Y": "X"}), ("no_space", "too_large"))
    assert daemon.segments() == before, "a failed allocation left a segment"
    assert [d["name"] for d in c.ok("dataset.list")["datasets"]] == ["X"]
    h.still_serves(daemon)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_client_that_never_reads(daemon):
    """A client that sends requests and never reads its replies is throttled (the daemon stops
    reading it) instead of growing the daemon's memory; everyone else is served meanwhile."""
    import time
    c = daemon.conn()
    c.sock.setblocking(False)
    chunk = b'{"id": 1, "verb": "workers"}\n' * 1000
    sent = 0
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        try:
            sent += c.sock.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    assert daemon.running()
    assert sent < 64 << 20, "the daemon kept reading a client that never reads: %d bytes" % sent
    # ASan keeps freed memory in a 256 MiB quarantine and adds its shadow: allow for both
    rss_limit = (512 + (512 if h.SANITIZED else 0)) * 1024
    assert rss_kib(daemon.pid) < rss_limit, "daemon RSS %d KiB after %d bytes of unread requests" % (
        rss_kib(daemon.pid), sent)
    h.still_serves(daemon)
    c.close()
    h.still_serves(daemon)


@pytest.mark.parametrize("extra,ok", [(0, True), (1, False)], ids=["exactly_1MiB", "1MiB_plus_1"])
def test_line_limit_boundary(daemon, extra, ok):
    """The limit counts the request's bytes without its newline: 1 MiB passes, one more byte does not."""
    head, tail = b'{"id": "b", "verb": "ping", "pad": "', b'"}'
    line = head + b"x" * (MIB + extra - len(head) - len(tail)) + tail
    assert len(line) == MIB + extra
    c = daemon.conn()
    c.send_raw(line + b"\n")
    rep = c.recv_any()
    if ok:
        assert h.expect_ok(rep)["pong"] is True and rep["id"] == "b"
        assert c.ok("ping")["pong"] is True
    else:
        h.expect_error(rep, "line_too_long")
        assert c.wait_closed(10.0)
    h.still_serves(daemon)


def test_dataset_size_limit_same_for_puts_and_job_outputs(daemon, workdir):
    """The per-dataset size limit (too_large) applies to a job's output as it does to a put: an
    output of 1.28 TB is refused as too_large before any allocation is tried."""
    n = 400000
    c = daemon.conn()
    h.expect_error(c.call("dataset.put", name="S", shm="/shmpool-client-none", dtype="float64", shape=[n * n]),
                   "too_large", "put of 1.28 TB")
    h.put_file(c, workdir, "P", np.zeros((n, 1)))
    h.expect_error(h.submit(c, "rbf", {"points": "P"}), "too_large", "rbf output of 1.28 TB")
    h.still_serves(daemon)
