# shmpool.Executor: the concurrent.futures interface over the pool's warm Python workers.
# submit() is one job of one item, settled as it ends; map() is one job over all items (Client.map).
"""A concurrent.futures.Executor whose calls run in shmpoold's workers (docs/python.md)."""

import concurrent.futures
import queue
import threading

from .client import Client
from .progress import CallBar

SETTLERS = 8  # threads awaiting submitted jobs: up to this many futures settle in the order their jobs end


def _apply(call):
    """In a worker: one submitted call."""
    fn, args, kwargs = call
    return fn(*args, **kwargs)


class Executor(concurrent.futures.Executor):
    """Runs callables in the workers of a shmpoold (instance or socket as for Client).

    submit(fn, *args, **kwargs) sends the call (cloudpickled) as a job of one item; its future
    settles when that job ends, whatever the order. map(fn, *iterables) sends one job over all
    of them, results in order. Results come back through shared memory. progress: True (or a
    tqdm bar) draws the submitted calls finished out of those submitted. shutdown() waits for
    the pending calls and closes the connection."""

    def __init__(self, instance="default", socket=None, client=None, progress=False):
        self._client = client if client is not None else Client(instance, socket, cleanup=True)
        self._owns_client = client is None
        self._bar = None if progress is False or progress is None else CallBar(progress)
        self._pending = queue.Queue()
        self._shutdown = False
        self._lock = threading.Lock()
        self._settling = threading.Lock()
        self._running = set()  # jobs a settler awaits
        self._settlers = [threading.Thread(target=self._settle, name="shmpool-executor-%d" % i, daemon=True)
                          for i in range(SETTLERS)]
        for t in self._settlers:
            t.start()

    def submit(self, fn, /, *args, **kwargs):
        return self._submit_call((fn, args, kwargs), {})

    def _submit_call(self, call, inputs, runner=_apply):
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            job = self._client.map(runner, [call], inputs=inputs)
            future = concurrent.futures.Future()
            future.shmpool_job = job
            if self._bar is not None:
                self._bar.submitted()
            self._pending.put((future, job))
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=None, progress=False):
        """All calls as one job (chunksize items a range); progress: True (or a tqdm bar) draws
        its ranges done while it runs, as Job.result(progress=...)."""
        items = [((fn, args, {})) for args in zip(*iterables)]
        if not items:
            return iter(())
        job = self._client.map(_apply, items, chunk=chunksize)
        return iter(job.result(timeout, progress=progress))

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            if cancel_futures:
                self._cancel_pending()
            for _ in self._settlers:
                self._pending.put(None)
        if wait:
            for t in self._settlers:
                t.join()
            if self._bar is not None:
                self._bar.close()
            if self._owns_client:
                self._client.close()

    def cancel_all(self):
        """Cancels every call not yet settled, running or not (joblib's abort_everything): their
        futures end cancelled or with JobCancelled. The executor stays usable."""
        with self._lock:
            self._cancel_pending()
            running = list(self._running)
        for job in running:
            job.cancel()

    def _cancel_pending(self):
        """Cancels the futures no settler has taken yet (and their jobs); a shutdown's
        end-of-work marks stay queued."""
        ends = 0
        while True:
            try:
                entry = self._pending.get_nowait()
            except queue.Empty:
                break
            if entry is None:
                ends += 1
                continue
            future, job = entry
            future.cancel()
            future.set_running_or_notify_cancel()  # cancelled: wakes its waiters
            self._drop(job)
        for _ in range(ends):
            self._pending.put(None)

    def _drop(self, job):
        job.cancel()
        if self._bar is not None:
            self._bar.finished()

    def _settle(self):
        """Takes pending futures in submission order and resolves each as its job ends; with
        several settlers, a job that ends early settles before an earlier, slower one."""
        while True:
            entry = self._pending.get()
            if entry is None:
                return
            future, job = entry
            with self._lock:
                if not future.set_running_or_notify_cancel():  # cancelled while it waited in line
                    self._drop(job)
                    continue
                self._running.add(job)
            try:
                outcome = (future.set_result, job.result()[0])
            except BaseException as e:  # noqa: B036 (the future carries any failure)
                outcome = (future.set_exception, e)
            with self._lock:
                self._running.discard(job)
            with self._settling:  # done-callbacks one at a time, as joblib's batch callbacks expect
                outcome[0](outcome[1])
                if self._bar is not None:
                    self._bar.finished()


__all__ = ["Executor"]
