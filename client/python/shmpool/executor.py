# shmpool.Executor: the concurrent.futures interface over the pool's warm Python workers.
# submit() is one job of one item; map() is one job over all items (Client.map).
"""A concurrent.futures.Executor whose calls run in shmpoold's workers (docs/python.md)."""

import concurrent.futures
import queue
import threading

from .client import Client


def _apply(call):
    """In a worker: one submitted call."""
    fn, args, kwargs = call
    return fn(*args, **kwargs)


class Executor(concurrent.futures.Executor):
    """Runs callables in the workers of a shmpoold (instance or socket as for Client).

    submit(fn, *args, **kwargs) sends the call (cloudpickled) as a job of one item; map(fn,
    *iterables) as one job over all of them, results in order. Results come back through
    shared memory. shutdown() waits for the pending calls and closes the connection."""

    def __init__(self, instance="default", socket=None, client=None):
        self._client = client if client is not None else Client(instance, socket, cleanup=True)
        self._owns_client = client is None
        self._pending = queue.Queue()
        self._shutdown = False
        self._lock = threading.Lock()
        self._waiter = threading.Thread(target=self._settle, name="shmpool-executor", daemon=True)
        self._waiter.start()

    def submit(self, fn, /, *args, **kwargs):
        return self._submit_call((fn, args, kwargs), {})

    def _submit_call(self, call, inputs, runner=_apply):
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            job = self._client.map(runner, [call], inputs=inputs)
            future = concurrent.futures.Future()
            future.shmpool_job = job
            self._pending.put((future, job))
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=None):
        items = [((fn, args, {})) for args in zip(*iterables)]
        if not items:
            return iter(())
        job = self._client.map(_apply, items, chunk=chunksize)
        return iter(job.result(timeout))

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            self._pending.put(None)
        if cancel_futures:
            pass  # futures not yet settled are cancelled by _settle as it reaches them
        if wait:
            self._waiter.join()
            if self._owns_client:
                self._client.close()

    def _settle(self):
        """Resolves the futures in submission order (a later job that ended first waits in line)."""
        while True:
            entry = self._pending.get()
            if entry is None:
                return
            future, job = entry
            if not future.set_running_or_notify_cancel():
                job.cancel()
                continue
            try:
                future.set_result(job.result()[0])
            except BaseException as e:  # noqa: B036 (the future carries any failure)
                future.set_exception(e)


__all__ = ["Executor"]
