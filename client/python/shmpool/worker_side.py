# What a shmpool worker's embedded Python runs (worker/python/runtime.cpp imports it once per
# worker): loads a job's function, wraps the mapped datasets as NumPy arrays, calls it per range.
"""The worker side of Python jobs (docs/python.md): not for clients to import."""

import importlib
import inspect
import json
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


class Job:
    """One job's function and arguments in this worker; dropped when the job ends."""

    def __init__(self, function, code, inputs, output, reduce, args_json, rows):
        self.fn = _load_function(function, code)
        if not callable(self.fn):
            raise TypeError("%s is not callable" % (function or type(self.fn).__name__))
        self.kwargs = {role: _array(spec) for role, spec in inputs.items()}
        if output is not None:
            self.kwargs["out"] = _array(output)
        if _accepts(self.fn, "params"):
            self.kwargs["params"] = json.loads(args_json)
        self.reduce = reduce
        self.rows = rows

    def run(self, begin, end):
        try:
            return True, self.fn(begin, end, **self.kwargs)
        except BaseException as e:  # noqa: B036 (SystemExit and KeyboardInterrupt fail the range, not the worker)
            return False, _traceback_text(e)


def start(**job):
    """(True, Job) or (False, traceback text)."""
    try:
        return True, Job(**job)
    except BaseException as e:  # noqa: B036
        return False, _traceback_text(e)
