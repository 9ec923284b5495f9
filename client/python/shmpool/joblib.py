# The joblib backend "shmpool": joblib.Parallel (and sklearn's n_jobs) run their batches in
# shmpoold's warm workers; large arrays and CSR/CSC matrices are put once as datasets, not pickled per task.
"""joblib backend: ``from shmpool.joblib import register; register()`` then
``with joblib.parallel_backend("shmpool"): ...`` (docs/python.md)."""

import itertools

import numpy as np
from joblib._parallel_backends import AutoBatchingMixin
from joblib.parallel import ParallelBackendBase, register_parallel_backend

from .executor import Executor
from .worker_side import SPARSE_PARTS, compressed_matrix

LARGE_BYTES = 1 << 20  # arrays at least this big become datasets (joblib's own memmapping threshold is 1 MB)
MAX_INPUTS = 7         # roles a job may take besides its code


class ShmpoolBackend(AutoBatchingMixin, ParallelBackendBase):
    """Each batch is a job of one item; its future settles as the job ends, and joblib's
    callback (progress for verbose=, the next dispatch, batch timing for auto-batching as loky
    has it) runs then, one callback at a time."""

    supports_timeout = True
    supports_sharedmem = False

    def __init__(self, instance="default", socket=None, nesting_level=None, inner_max_num_threads=None, **kw):
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads, **kw)
        self.instance, self.socket = instance, socket
        self._executor = None
        self._datasets = {}  # id(array or matrix) -> (it, its dataset names): put once, deleted at terminate
        self._names = itertools.count()

    def effective_n_jobs(self, n_jobs):
        if n_jobs is None or n_jobs < 0:
            return max(1, len(self._ensure_executor()._client.workers()))
        return max(1, n_jobs)

    def configure(self, n_jobs=1, parallel=None, **backend_args):
        self.parallel = parallel
        self._ensure_executor()
        return self.effective_n_jobs(n_jobs)

    def _ensure_executor(self):
        if self._executor is None:
            self._executor = Executor(self.instance, self.socket)
        return self._executor

    def apply_async(self, func, callback=None):
        inputs = {}
        self._swap_large_arrays(func, inputs)
        future = self._executor._submit_call(func, inputs, runner=_run_batch)
        future.get = future.result
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def _swap_large_arrays(self, batch, inputs):
        """Replaces the large arrays among a batch's call arguments by dataset references."""
        items = getattr(batch, "items", None)
        if items is None:
            return
        new_items = []
        for fn, args, kwargs in items:
            args = tuple(self._dataset_arg(a, inputs) for a in args)
            kwargs = {k: self._dataset_arg(v, inputs) for k, v in kwargs.items()}
            new_items.append((_Swapped(fn), args, kwargs))
        batch.items = new_items

    def _dataset_arg(self, value, inputs):
        """A large array as a DatasetArg, a large CSR/CSC matrix as a SparseArg; else value."""
        if _sparse_format(value) is not None:
            parts = [getattr(value, p) for p in SPARSE_PARTS]
            if sum(p.nbytes for p in parts) < LARGE_BYTES or not all(_puttable(p) for p in parts):
                return value
            roles = self._roles(value, parts, inputs)
            return value if roles is None else SparseArg(_sparse_format(value), value.shape, roles)
        if not isinstance(value, np.ndarray) or value.nbytes < LARGE_BYTES or not _puttable(value):
            return value
        roles = self._roles(value, [value], inputs)
        return value if roles is None else DatasetArg(roles[0])

    def _roles(self, owner, arrays, inputs):
        """The job's roles for `arrays` (put as datasets once per owner object, kept alive with
        it); None when the job has no room left for them."""
        known = self._datasets.get(id(owner))
        if known is None:
            names = []
            for array in arrays:
                names.append("_joblib.%x.%d" % (id(self), next(self._names)))
                self._executor._client.put(names[-1], np.ascontiguousarray(array))
            known = self._datasets[id(owner)] = (owner, names)
        missing = [n for n in known[1] if n not in inputs.values()]
        if len(inputs) + len(missing) > MAX_INPUTS:
            return None
        for name in missing:
            inputs["a%d" % len(inputs)] = name
        by_name = {n: r for r, n in inputs.items()}
        return [by_name[n] for n in known[1]]

    def terminate(self):
        if self._executor is not None:
            self._executor.shutdown(wait=True)  # also deletes the datasets it put (cleanup)
            self._executor = None
        self._datasets = {}
        self.reset_batch_stats()

    def abort_everything(self, ensure_ready=True):
        """A batch failed: cancel the others (queued or running) rather than wait for them."""
        if self._executor is not None:
            self._executor.cancel_all()
        self.terminate()
        if ensure_ready:
            self.configure(n_jobs=self.parallel.n_jobs, parallel=self.parallel)


_DTYPES = ("float64", "float32", "int64", "int32", "uint8")


def _puttable(array):
    return array.dtype.name in _DTYPES and array.ndim >= 1


def _sparse_format(value):
    """"csr" or "csc" for a SciPy matrix of those formats (rebuilt in the worker with no copy)."""
    fmt = getattr(value, "format", None)
    return fmt if fmt in ("csr", "csc") and all(hasattr(value, p) for p in SPARSE_PARTS) else None


class DatasetArg:
    """Stands in a call for a large array put once as a dataset; the worker maps it read-only."""

    def __init__(self, role):
        self.role = role

    def resolve(self, mapped):
        return mapped[self.role]


class SparseArg:
    """Stands in a call for a large CSR/CSC matrix whose data, indices and indptr were put once
    as datasets; the worker rebuilds the matrix over their read-only mappings (no copy)."""

    def __init__(self, fmt, shape, roles):
        self.fmt, self.shape, self.roles = fmt, tuple(shape), roles

    def resolve(self, mapped):
        return compressed_matrix(self.fmt, [mapped[r] for r in self.roles], self.shape)


class _Swapped:
    """A call whose DatasetArg arguments are resolved in the worker, by the role the job maps."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*[_resolve(a) for a in args], **{k: _resolve(v) for k, v in kwargs.items()})


_CURRENT_INPUTS = {}  # in a worker, while a batch runs: role -> the mapped dataset


def _run_batch(batch, **inputs):
    """In a worker: runs a joblib batch with its swapped-out arrays mapped from their datasets."""
    _CURRENT_INPUTS.update(inputs)
    try:
        return batch()
    finally:
        _CURRENT_INPUTS.clear()


def _resolve(value):
    return value.resolve(_CURRENT_INPUTS) if isinstance(value, (DatasetArg, SparseArg)) else value


def register():
    """Registers the backend under the name "shmpool"."""
    register_parallel_backend("shmpool", ShmpoolBackend)


__all__ = ["ShmpoolBackend", "register"]
