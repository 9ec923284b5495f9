# Users' Python functions on the pool (the `python` kernel): the function is shipped once per
# job (cloudpickled into a uint8 dataset, or named "module:function"), never once per range.
"""Client.map_ranges: run your own Python function over index ranges (docs/python.md)."""

import sys
import uuid

import numpy as np

from .errors import error_for

PYTHON_VERSION = "%d.%d" % sys.version_info[:2]  # the workers refuse another minor version
REDUCTIONS = ("sum", "min", "max")


def _pickled(fn):
    try:
        import cloudpickle
    except ImportError as e:  # Debian: python3-cloudpickle
        raise error_for("bad_request", "shipping a Python function needs cloudpickle (%s)" % e) from None
    return np.frombuffer(cloudpickle.dumps(fn), dtype=np.uint8)


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


def map_ranges(client, fn, rows, inputs=None, out=None, reduce=None, params=None, chunk=None, output=None,
               timeout=None):
    """Submits fn over [0, rows) split into ranges; returns the Job at once (see Client.map_ranges)."""
    args, code = python_params(fn, rows, out, reduce, params)
    inputs = {role: getattr(ds, "name", ds) for role, ds in (inputs or {}).items()}
    code_name = None
    if code is not None:
        code_name = "_py.%s.code" % uuid.uuid4().hex
        client.put(code_name, code)
        inputs["_code"] = code_name
    try:
        return client.run("python", inputs=inputs, params=args, chunk=chunk, output=output, timeout=timeout)
    finally:
        if code_name is not None:
            client.delete(code_name, missing_ok=True)  # the job holds its segment until it ends
