# What a shmpool worker's embedded Python runs (worker/python/runtime.cpp imports it once per
# worker): loads a job's function, wraps the mapped datasets as NumPy arrays, calls it per range.
"""The worker side of Python jobs (docs/python.md): not for clients to import."""

import importlib
import inspect
import json
import os
import pickle
import traceback

import numpy as np

TRACEBACK_CHARS = 900  # the message of a failed range holds about 1000 bytes: keep the traceback's end


def _array(spec):
    memory, dtype, shape = spec
    return np.frombuffer(memory, dtype=dtype).reshape(shape)  # no copy; read-only unless memory is writable


def _load_function(function, code):
    if function:
        module, _, attribute = function.partition(":")
        target = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
        return target
    return pickle.loads(code)  # cloudpickle's output: by-value functions get fresh globals per job


def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _traceback_text(error):
    """The traceback without this module's frame, shortened from the front to fit a message."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__.tb_next))
    if len(text) > TRACEBACK_CHARS:
        text = "Traceback (most recent call last):\n  ...\n" + text[-TRACEBACK_CHARS:]
    return text


_NOTHING = object()


def _is_number(value):
    return isinstance(value, (int, float, np.number)) or (isinstance(value, np.ndarray) and value.ndim == 0)


INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _partial(value, begin, end):
    """(kind, number) of a number the function returned, as NumPy's dtype kind says: "int64" for
    Python ints, bools and signed NumPy integers, "uint64" for unsigned ones, "real" for floats.
    The daemon sums integers exactly (wrapping modulo 2**64 as NumPy's accumulator does)."""
    if isinstance(value, (bool, int)):
        kind = "i"
    elif isinstance(value, float):
        kind = "f"
    else:
        kind = np.asarray(value).dtype.kind
    if kind == "c":
        raise TypeError("a reducing function must return a real number, not the complex %r" % (value,))
    if kind not in "iub":
        return "real", float(value)
    number = int(value)
    if kind == "u":
        return "uint64", number
    if not INT64_MIN <= number <= INT64_MAX:
        raise OverflowError("range [%d, %d) returned the int %d, outside int64: Python ints reduce exactly "
                            "in int64 only; return float(x) to reduce as doubles" % (begin, end, number))
    return "int64", number


def _write_object(name, data):
    """Creates the shm object `name` holding `data`; never leaves it half-written."""
    path = "/dev/shm/" + name
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)
    return len(data)


def _dumps(value):
    """Pickled by reference where it can be (fast), else by value (classes of the job's own code)."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        import cloudpickle
        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


SPARSE_PARTS = ("data", "indices", "indptr")  # what a CSR/CSC matrix travels as, in this order


def compressed_matrix(fmt, parts, shape):
    """A SciPy "csr" or "csc" matrix over (data, indices, indptr) as mapped, with no copy."""
    import scipy.sparse
    matrix = scipy.sparse.csr_matrix if fmt == "csr" else scipy.sparse.csc_matrix
    return matrix(tuple(parts), shape=tuple(shape), copy=False)


def _join_sparse(kwargs, sparse):
    """name__data, name__indices, name__indptr -> name: a CSR matrix over the mapped arrays (no copy)."""
    for name, shape in (sparse or {}).items():
        kwargs[name] = compressed_matrix("csr", [kwargs.pop(name + "__" + part) for part in SPARSE_PARTS], shape)


class Job:
    """One job's function and arguments in this worker; dropped when the job ends."""

    def __init__(self, function, code, inputs, output, reduce, args_json, sparse_json, rows, map):
        self.items = None
        if map:
            function, self.items = pickle.loads(code)
            if len(self.items) != rows:
                raise ValueError("the job has %d rows for %d items" % (rows, len(self.items)))
            self.fn = _load_function(function, None) if isinstance(function, str) else function
        else:
            self.fn = _load_function(function, code)
        if not callable(self.fn):
            raise TypeError("%s is not callable" % (function or type(self.fn).__name__))
        self.kwargs = {role: _array(spec) for role, spec in inputs.items()}
        _join_sparse(self.kwargs, json.loads(sparse_json) or {})
        if output is not None:
            self.kwargs["out"] = _array(output)
        if _accepts(self.fn, "params"):
            self.kwargs["params"] = json.loads(args_json)
        self.reduce = reduce
        self.stash = _NOTHING  # the last range's result, for store()

    def run(self, begin, end):
        """(True, (kind, number) for the daemon to reduce, or None) or (False, traceback)."""
        try:
            if self.items is not None:
                self.stash = [self.fn(item, **self.kwargs) for item in self.items[begin:end]]
                return True, None
            value = self.fn(begin, end, **self.kwargs)
            if self.reduce and _is_number(value):
                return True, _partial(value, begin, end)
            if self.reduce and value is not None:
                self.stash = value  # an array: combined by the client, in range order
            return True, None
        except BaseException as e:  # noqa: B036 (SystemExit and KeyboardInterrupt fail the range, not the worker)
            self.stash = _NOTHING
            return False, _traceback_text(e)

    def store(self, name):
        """(True, bytes written to the result object `name`, 0 for none) or (False, traceback)."""
        stash, self.stash = self.stash, _NOTHING
        if stash is _NOTHING:
            return True, 0
        try:
            return True, _write_object(name, _dumps(stash))
        except BaseException as e:  # noqa: B036
            return False, _traceback_text(e)


def start(**job):
    """(True, Job) or (False, traceback text)."""
    try:
        return True, Job(**job)
    except BaseException as e:  # noqa: B036
        return False, _traceback_text(e)
