# Users' Python functions on the pool (the `python` kernel): the function is shipped once per
# job (cloudpickled into a uint8 dataset, or named "module:function"), never once per range.
"""Client.map_ranges: run your own Python function over index ranges (docs/python.md)."""

import functools
import mmap
import os
import pickle
import sys
import uuid

import numpy as np

from .connection import PASSED_FD
from .errors import error_for, error_from_reply
from .worker_side import SPARSE_PARTS

PYTHON_VERSION = "%d.%d" % sys.version_info[:2]  # the workers refuse another minor version
REDUCTIONS = ("sum", "min", "max")


COMBINE = {"sum": np.add, "min": np.minimum, "max": np.maximum}


def _pickled(obj):
    try:
        import cloudpickle
    except ImportError as e:  # Debian: python3-cloudpickle
        raise error_for("bad_request", "shipping a Python function needs cloudpickle (%s)" % e) from None
    return np.frombuffer(cloudpickle.dumps(obj), dtype=np.uint8)


def _output_param(out):
    dtype, shape = out
    shape = (shape,) if isinstance(shape, int) else tuple(int(d) for d in shape)
    return {"dtype": np.dtype(dtype).name, "shape": list(shape)}


def python_params(fn, rows, out=None, reduce=None, params=None):
    """The `python` kernel's params and, when fn is a callable, the code array to put."""
    if reduce is not None and reduce not in REDUCTIONS:
        raise error_for("bad_param", "reduce must be one of %s, not %r" % (", ".join(REDUCTIONS), reduce))
    args = {"rows": int(rows), "python": PYTHON_VERSION}
    code = None
    if isinstance(fn, str):
        args["function"] = fn
    elif callable(fn):
        code = _pickled(fn)
    else:
        raise error_for("bad_request", "fn must be a callable or \"module:function\", not %r" % (fn,))
    if out is not None:
        args["output"] = _output_param(out)
    if reduce is not None:
        args["reduce"] = reduce
    if params is not None:
        args["args"] = params
    return args, code


def _put_sparse(client, role, matrix, inputs, args, names):
    """A SciPy sparse matrix: its CSR data, indices and indptr as three datasets (the worker
    joins them back into a csr_matrix with no copy)."""
    csr = matrix.tocsr()
    for part in SPARSE_PARTS:
        name = "_py.%s.%s.%s" % (uuid.uuid4().hex, role, part)
        client.put(name, np.ascontiguousarray(getattr(csr, part)))
        names.append(name)
        inputs[role + "__" + part] = name
    args.setdefault("sparse", {})[role] = list(csr.shape)


def _submit(client, code, inputs, args, chunk, output, timeout, mode):
    """Puts the code (and sparse inputs) once, submits the python job, then drops those names:
    the job holds their segments until it ends."""
    given, inputs, temporary = inputs or {}, {}, []
    try:
        for role, value in given.items():
            if hasattr(value, "tocsr") and hasattr(value, "nnz"):
                _put_sparse(client, role, value, inputs, args, temporary)
            else:
                inputs[role] = getattr(value, "name", value)
        if code is not None:
            temporary.append("_py.%s.code" % uuid.uuid4().hex)
            client.put(temporary[-1], code)
            inputs["_code"] = temporary[-1]
        job = client.run("python", inputs=inputs, params=args, chunk=chunk, output=output, timeout=timeout)
    finally:
        for name in temporary:
            client.delete(name, missing_ok=True)
    job._python = mode
    return job


def map_ranges(client, fn, rows, inputs=None, out=None, reduce=None, params=None, chunk=None, output=None,
               timeout=None):
    """Submits fn over [0, rows) split into ranges; returns the Job at once (see Client.map_ranges)."""
    args, code = python_params(fn, rows, out, reduce, params)
    return _submit(client, code, inputs, args, chunk, output, timeout, ("reduce", reduce) if reduce else None)


def map_items(client, fn, items, inputs=None, params=None, chunk=None, timeout=None):
    """Submits fn(item, **inputs) for every item; Job.result() is the list of results, in order."""
    items = list(items)
    if not items:
        raise error_for("bad_param", "map needs at least one item")
    if not (callable(fn) or isinstance(fn, str)):
        raise error_for("bad_request", "fn must be a callable or \"module:function\", not %r" % (fn,))
    args = {"rows": len(items), "python": PYTHON_VERSION, "map": True}
    if params is not None:
        args["args"] = params
    return _submit(client, _pickled((fn, items)), inputs, args, chunk, None, timeout, ("map", None))


def _read_result(client, job_id, index):
    """The object range `index` of the job returned, through the descriptor job.result passes."""
    reply = client._connection().call("job.result", {"job": job_id, "range": index}, client.timeout)
    fd = reply.pop(PASSED_FD, None)
    try:
        if reply.get("ok") is not True:
            raise error_from_reply(reply)
        with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as m:
            return pickle.loads(m)
    finally:
        if fd is not None:
            os.close(fd)


def job_result(client, job, final):
    """The value of a python job that returned objects: the list of a map, or the reduction."""
    if hasattr(job, "_python_value"):
        return job._python_value
    kind, op = job._python
    kept = final.get("results", 0)
    parts = [_read_result(client, job.id, i) for i in range(final["ranges"])] if kept else []
    if kept:
        client._call("job.drop_results", job=job.id)
    if kind == "map":
        value = [item for part in parts for item in part]
    elif kept == 0:
        value = client._plain_result(job, final)
    else:
        value = functools.reduce(COMBINE[op], parts)
        if kept < final["ranges"]:  # some ranges returned numbers: the daemon combined those
            value = COMBINE[op](value, client._plain_result(job, final))
    job._python_value = value
    return value
