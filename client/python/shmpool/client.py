# The Client: one connection to shmpoold and the verbs a Python program uses (put, get, run,
# datasets, kernels, workers, ping, delete), with optional cleanup of what it created.
"""The shmpool client (docs/python.md)."""

import os
import threading
import warnings

import numpy as np

from .connection import PASSED_FD, Connection, default_socket_path
from .dataset import DTYPES, Dataset
from .errors import DaemonConnectionError, NotFound, ShmpoolError, error_for, error_from_reply
from .job import INDEX_REDUCTIONS, Job
from .shm import TempObject, map_descriptor, sweep_stale_objects

INLINE_MAX_BYTES = 64 << 10  # arrays up to this size go inline as JSON (when exactly representable)


def dataset_dtype(array):
    """The native-order dtype a dataset of this array has; BadRequest for other dtypes."""
    name = array.dtype.name
    if name not in DTYPES or array.dtype.fields is not None:
        raise error_for("bad_request", "unknown dtype '%s' (%s)" % (array.dtype, ", ".join(DTYPES)))
    return np.dtype(name)


def share_targets(users, groups, everyone):
    """The protocol's share list: "user" or "uid", "@group" or "@gid", "*" for everyone."""
    if isinstance(users, (str, int)):
        users = [users]
    if isinstance(groups, (str, int)):
        groups = [groups]
    return [str(u) for u in users] + ["@%s" % g for g in groups] + (["*"] if everyone else [])


def inline_exact(array):
    """True when JSON carries every element exactly (integers; finite floats by their repr)."""
    return array.dtype.kind in "iu" or bool(np.isfinite(array).all())


class Client:
    """A connection to shmpoold.

    instance: the daemon's instance name (default "default"); socket: its socket path (default:
    derived from the instance as the C++ client and the CLI do). cleanup: when the client
    closes (close() or the end of a ``with`` block), cancel the jobs it ran that have not ended
    and delete the datasets it put and its jobs' outputs. timeout: seconds to wait for the
    reply to an ordinary request (None: no limit; job waits have their own timeout)."""

    def __init__(self, instance="default", socket=None, cleanup=False, timeout=None):
        self.socket_path = socket if socket is not None else default_socket_path(instance)
        self.cleanup = cleanup
        self.timeout = timeout
        self.stale_objects_removed = sweep_stale_objects()
        self._conn = Connection(self.socket_path)
        self._lock = threading.Lock()
        self._datasets = {}  # names of the datasets this client created (ordered)
        self._jobs = []

    # ---- lifecycle
    def close(self):
        """Closes the connection (after the cleanup, when asked for). Views from get() stay valid."""
        if self._conn.closed:
            return
        try:
            if self.cleanup:
                self._clean_up()
        finally:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- daemon
    def ping(self):
        """{"pong": true, "version", "instance", "pid"}."""
        return self._call("ping")

    def workers(self):
        """The worker slots: [{"slot", "pid", "state", "job", "range", "ranges_done", "restarts"}]."""
        return self._call("workers")["workers"]

    def kernels(self):
        """The kernels: [{"name", "roles", "params", "description"}, plus "simd" (the SIMD path) on dispatched ones]."""
        return self._call("kernels")["kernels"]

    # ---- datasets
    def put(self, name, array, inline=None):
        """Creates dataset `name` from an array (copied once into shared memory; small arrays go
        inline as JSON). inline: None (automatic), True or False. Returns its Dataset handle."""
        array = np.asarray(array)
        dtype = dataset_dtype(array)
        if inline is None:
            inline = array.size == 0 or array.ndim == 0 or (array.nbytes <= INLINE_MAX_BYTES and inline_exact(array))
        if inline:
            info = self._call("dataset.put", name=name, data=array.tolist(), dtype=dtype.name)
        else:
            info = self._put_shm(name, array, dtype)
        self._remember_dataset(info["name"])
        return Dataset(self, info)

    def _put_shm(self, name, array, dtype):
        temp = TempObject(array, dtype)
        try:
            return self._call_with_fd("dataset.put", temp.fd, {"name": name, "fd": True, "dtype": dtype.name,
                                                               "shape": list(array.shape)})
        finally:
            temp.close()

    def get(self, name):
        """A read-only NumPy array over the dataset's shared-memory segment, with no copy. It
        stays valid while it (or a view of it) lives, even after the dataset is deleted. The
        segment comes as a read-only descriptor the daemon passes (dataset.open), so this works
        for a client that may not open /dev/shm/<segment> itself, and maps the very dataset
        named. Its values never change: a segment the daemon passed is never reused, whoever
        deletes the dataset later (docs/python.md)."""
        info, fd = self._open(name)
        try:
            return map_descriptor(fd, info["dtype"], info["shape"], "the segment of dataset '%s'" % name)
        finally:
            os.close(fd)

    def _open(self, name):
        """dataset.open: (info, read-only descriptor of the segment, which the caller closes)."""
        reply = self._conn.call("dataset.open", {"name": name}, self.timeout)
        fd = reply.pop(PASSED_FD, None)
        if reply.get("ok") is not True:
            if fd is not None:
                os.close(fd)
            raise error_from_reply(reply)
        if fd is None:
            raise error_for("internal", "the daemon answered dataset.open of '%s' without a descriptor" % name)
        return reply.get("result", {}), fd

    def info(self, name):
        """The Dataset handle of an existing dataset."""
        return Dataset(self, self._call("dataset.info", name=name))

    def datasets(self):
        """Every dataset of the daemon, as Dataset handles."""
        return [Dataset(self, info) for info in self._call("dataset.list")["datasets"]]

    def delete(self, name, missing_ok=False):
        """Deletes a dataset. missing_ok: a dataset that does not exist is not an error."""
        name = name.name if isinstance(name, Dataset) else name
        try:
            self._call("dataset.delete", name=name)
        except NotFound as e:
            if not (missing_ok and e.code == "unknown_dataset"):
                raise
        with self._lock:
            self._datasets.pop(name, None)

    def share(self, name, users=(), groups=(), everyone=False):
        """Lets other users read dataset `name` (read-only): users by name or uid, groups by
        name or gid, or everyone allowed to connect. They name it "<your uid>/<name>"
        (Dataset.ref). Returns its Dataset handle."""
        return Dataset(self, self._call("dataset.share", name=getattr(name, "name", name),
                                        **{"with": share_targets(users, groups, everyone)}))

    def unshare(self, name, users=(), groups=(), everyone=False):
        """Takes shares of dataset `name` back; with no arguments, every share."""
        targets = share_targets(users, groups, everyone)
        args = {"with": targets} if targets else {}
        return Dataset(self, self._call("dataset.unshare", name=getattr(name, "name", name), **args))

    # ---- jobs
    def run(self, kernel, inputs=None, params=None, chunk=None, output=None, timeout=None):
        """Submits a job and returns its Job at once. inputs: {role: dataset name or Dataset};
        chunk: rows per range (None: automatic); output: the output dataset's name (None: the
        daemon's job<id>.out); timeout: seconds after which the daemon ends it timed_out."""
        args = {"kernel": kernel, "params": params or {},
                "inputs": {role: getattr(ds, "ref", ds) for role, ds in (inputs or {}).items()}}
        for key, value in (("chunk", chunk), ("output", output), ("timeout_s", timeout)):
            if value is not None:
                args[key] = value
        job = Job(self, self._call("job.submit", **args), output)
        with self._lock:
            self._jobs.append(job)
        return job

    def map_ranges(self, fn, rows, inputs=None, out=None, reduce=None, params=None, chunk=None, output=None,
                   timeout=None):
        """Runs your Python function over [0, rows) in ranges on the workers; returns the Job.

        fn: a callable (lambdas and closures too: shipped once per job with cloudpickle) or
        "module:function" importable in the workers. It is called as
        fn(begin, end, **inputs, out=out, params=params): each input dataset as a read-only NumPy
        array under its role name, `out` (when out=(dtype, shape)) the writable output array in
        which it writes its rows, `params` (if fn takes it) the JSON-able `params`. With
        reduce="sum"/"min"/"max", the numbers fn returns are combined once per range, in range
        order (ints exactly in int64, as NumPy's; a mix with floats as a float; docs/python.md);
        Job.result() is then that value, else the output array (or None)."""
        from .functions import map_ranges
        return map_ranges(self, fn, rows, inputs, out, reduce, params, chunk, output, timeout)

    def map(self, fn, iterable, inputs=None, params=None, chunk=None, timeout=None):
        """Calls fn(item, **inputs) (and params=params if fn takes it) for every item, in the
        workers; returns the Job, whose result() is the list of what fn returned, in order.
        Results are any picklable objects and come back through shared memory (one object per
        range, accounted once even when a worker dies and its range reruns)."""
        from .functions import map_items
        return map_items(self, fn, iterable, inputs, params, chunk, timeout)

    def _job_result(self, job, final):
        if getattr(job, "_python", None):
            from .functions import job_result
            return job_result(self, job, final)
        return self._plain_result(job, final)

    def _plain_result(self, job, final):
        if isinstance(final.get("output"), dict):
            return self.get(final["output"]["name"])
        if final.get("reduce") in INDEX_REDUCTIONS:
            return final.get("index")
        return job.value if "reduce" in final else None

    def _drop_job(self, job):
        """The end of a Job's `with` block: cancel it if it runs, delete its output."""
        if job._final is None:
            try:
                job.cancel()
            except NotFound:
                pass  # the daemon no longer remembers the job; its output may still exist
        if job.output is not None:
            self.delete(job.output, missing_ok=True)
        if job._python and job.status().get("results"):
            self._call("job.drop_results", job=job.id)  # results never read

    # ---- requests
    def _connection(self):
        return self._conn

    def _call(self, verb, **args):
        """One request; its result, or the ShmpoolError of its error."""
        return self._call_with_fd(verb, None, args)

    def _call_with_fd(self, verb, fd, args):
        """_call of a dict of args, with descriptor fd (None: none) passed on the request."""
        reply = self._conn.call(verb, args, self.timeout, fds=() if fd is None else (fd,))
        if reply.get("ok") is True:
            return reply.get("result", {})
        raise error_from_reply(reply)

    def _remember_dataset(self, name):
        with self._lock:
            self._datasets[name] = True

    def _clean_up(self):
        """Cancels this client's unfinished jobs, then deletes its datasets and job outputs.
        A thing already gone is fine; any other failure is warned about, never hidden."""
        with self._lock:
            jobs, names = list(self._jobs), list(self._datasets)
        try:
            for job in jobs:
                self._quietly(lambda: self._drop_job(job), "cleaning up job %d" % job.id)
            for name in names:
                self._quietly(lambda: self.delete(name, missing_ok=True), "deleting dataset %r" % name)
        except DaemonConnectionError as e:
            warnings.warn("shmpool: cleanup stopped, the connection broke: %s" % e, RuntimeWarning, stacklevel=3)

    @staticmethod
    def _quietly(step, what):
        try:
            step()
        except NotFound:
            pass  # already gone (e.g. a job the daemon no longer remembers)
        except ShmpoolError as e:
            warnings.warn("shmpool: %s failed: %s" % (what, e), RuntimeWarning, stacklevel=4)
