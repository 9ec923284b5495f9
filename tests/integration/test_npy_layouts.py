"""dataset.put of .npy files NumPy writes in Fortran order and/or big-endian, for every dtype,
by path, by passed descriptor and by the CLI's --fd-from: the dataset and a save of it equal
np.load of the original bit for bit; unsupported files are refused with what to do instead."""

import os

import numpy as np

import shmpool_harness as h

SHAPES = [(37, 53), (4099, 5), (5, 7, 11), (3, 5, 7, 9)]
LAYOUTS = [("F", "<"), ("C", ">"), ("F", ">")]  # (order, byte order)


def random_array(rng, dtype, shape):
    """Random bits of `dtype` (NaN payloads, subnormals and all for floats), native order."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return rng.integers(0, 256, n, dtype=np.uint8).view(dtype).reshape(shape)


def write_npy(path, a, order, byteorder):
    """Writes `a` as NumPy does for that layout; checks the header says so."""
    arr = a.astype(a.dtype.newbyteorder(byteorder)) if a.dtype.itemsize > 1 else a
    np.save(path, np.asfortranarray(arr) if order == "F" else np.ascontiguousarray(arr))
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    assert shape == a.shape and fortran == (order == "F"), (path, shape, fortran)
    assert a.dtype.itemsize == 1 or dtype.str[0] == byteorder, (path, dtype.str)
    loaded = np.load(path)
    assert loaded.astype(a.dtype).tobytes() == a.tobytes(), path  # the reference: np.load of the file


def check_dataset(conn, info, name, a):
    assert info["name"] == name and info["dtype"] == str(a.dtype) and list(info["shape"]) == list(a.shape), info
    assert h.read_dataset(info).tobytes() == a.tobytes(), "dataset %s differs from np.load of its file" % name


def check_save(conn, workdir, name, a):
    out = os.path.join(workdir, "saved-%s.npy" % name)
    conn.ok("dataset.save", name=name, file=out)
    saved = np.load(out)
    assert saved.dtype == a.dtype and saved.flags.c_contiguous and saved.tobytes() == a.tobytes(), name
    os.unlink(out)


def test_every_dtype_and_layout_round_trips(daemon, workdir):
    rng = h.rng(19)
    c = daemon.conn()
    for dtype in h.DTYPES:
        for shape in SHAPES:
            for order, byteorder in LAYOUTS:
                a = random_array(rng, dtype, shape)
                tag = "%s_%s_%s%s" % (dtype, "x".join(map(str, shape)), order, "be" if byteorder == ">" else "le")
                path = os.path.join(workdir, tag + ".npy")
                write_npy(path, a, order, byteorder)
                check_dataset(c, c.ok("dataset.put", name=tag, file=path), tag, a)
                check_save(c, workdir, tag, a)
                fd = os.open(path, os.O_RDONLY)
                try:
                    check_dataset(c, h.expect_ok(h.put_fd(c, tag + "_fd", fd)), tag + "_fd", a)
                finally:
                    os.close(fd)
                c.ok("dataset.delete", name=tag)
                c.ok("dataset.delete", name=tag + "_fd")
                os.unlink(path)
    assert c.ok("dataset.list")["datasets"] == []


def test_cli_fd_from_and_a_many_range_file(daemon, workdir):
    rng = h.rng(20)
    c = daemon.conn()
    cases = [("float64", (3001, 701)),  # 22 tiles in 2 ranges
             ("int32", (9, 1000, 13)), ("uint8", (3, 17, 5, 301)), ("float32", (2, 3, 4, 5))]
    for dtype, shape in cases:
        a = random_array(rng, dtype, shape)
        path = os.path.join(workdir, "cli-%s.npy" % dtype)
        write_npy(path, a, "F", ">")
        name = "cli_" + dtype
        res = h.run_cli(["--json", "put", "--fd-from", path, "--name", name], socket_path=daemon.socket_path)
        assert res.returncode == 0, res.stderr
        check_dataset(c, c.ok("dataset.info", name=name), name, a)
        check_save(c, workdir, name, a)


def expect_refused(c, workdir, name, write, *message_parts):
    path = os.path.join(workdir, name + ".npy")
    with open(path, "wb") as f:
        write(f)
    err = h.expect_error(c.call("dataset.put", name=name, file=path), "io_error")
    for part in message_parts:
        assert part in err["message"], err
    fd = os.open(path, os.O_RDONLY)
    try:
        err = h.expect_error(h.put_fd(c, name, fd), "io_error")
    finally:
        os.close(fd)
    assert message_parts[0] in err["message"], err


def test_unsupported_files_say_what_to_do(daemon, workdir):
    c = daemon.conn()
    cases = [
        ("bool", lambda f: np.save(f, np.ones((3, 4), dtype=bool)), "convert with x.astype(np.uint8)"),
        ("float16", lambda f: np.save(f, np.ones((3, 4), dtype=np.float16)), "x.astype(np.float32)"),
        ("complex", lambda f: np.save(f, np.ones(3, dtype=np.complex128)), "x.real and x.imag"),
        ("int16_be", lambda f: np.save(f, np.ones(3, dtype=">i2")), "unsupported descr '>i2'", "x.astype(np.int32)"),
        ("scalar", lambda f: np.save(f, np.float64(2.5)), "0-d array", "save x.reshape(1)"),
        ("empty", lambda f: np.save(f, np.zeros((4, 0))), "shape entry 1 is zero", "at least 1"),
        ("five_dims", lambda f: np.save(f, np.zeros((1, 2, 1, 2, 1))), "reshape to at most 4"),
        ("object", lambda f: np.save(f, np.array([1, "a"], dtype=object), allow_pickle=True), "pickled"),
        ("record", lambda f: np.save(f, np.zeros(3, dtype=[("a", "<f8"), ("b", ">i4")])), "structured"),
    ]
    for name, write, *parts in cases:
        expect_refused(c, workdir, name, write, *parts)
    # A Fortran-order big-endian file cut short is refused before any copy starts.
    path = os.path.join(workdir, "short.npy")
    write_npy(path, random_array(h.rng(3), "float64", (40, 30)), "F", ">")
    os.truncate(path, os.path.getsize(path) - 8)
    err = h.expect_error(c.call("dataset.put", name="short", file=path), "io_error")
    assert "truncated" in err["message"], err
    assert c.ok("dataset.list")["datasets"] == []
