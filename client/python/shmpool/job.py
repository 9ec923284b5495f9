# The Job handle, in the style of concurrent.futures.Future: result() (with a tqdm bar if asked),
# done(), cancel(), exception(), progress() from job.status; a `with` block cancels it, drops its output.
"""Handles of jobs submitted to shmpoold."""

import collections
import threading
import time

from .errors import JobCancelled, error_for, error_from_reply
from .progress import RangeBar

ENDED_STATES = frozenset(("done", "failed", "cancelled", "timed_out"))
INDEX_REDUCTIONS = frozenset(("argmin", "argmax"))
_NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}

Progress = collections.namedtuple("Progress", "done total")
Progress.__doc__ = "Ranges of a job accounted (done) out of its ranges (total)."


def reduced_number(value):
    """A job's `value` as a Python number: "nan"/"inf"/"-inf" (JSON has no such numbers) become
    floats, numbers stay as sent, null stays None."""
    if isinstance(value, str):
        if value not in _NON_FINITE:
            raise error_for("internal", "the daemon sent the reduced value %r" % value)
        return _NON_FINITE[value]
    return value


class Job:
    """A job of the daemon. ``id``, ``kernel``; ``output`` (the output dataset's name, or None).

    result(timeout) waits for the end and returns the output as a read-only view (Client.get),
    or, for a kernel that only reduces, its value (the index for argmin/argmax), or None for a
    kernel with neither. A job that ended other than done raises its ShmpoolError (JobCancelled
    for a cancelled job, which is also a concurrent.futures.CancelledError). A timeout that
    expires raises the built-in TimeoutError and the job runs on. result(progress=True) draws
    a tqdm bar of the ranges done meanwhile (from the daemon's progress events; ImportError
    without tqdm); progress=<a tqdm bar> feeds that bar instead and leaves it open."""

    def __init__(self, client, description, output=None):
        self._client = client
        self.id = description["job"]
        self.kernel = description.get("kernel")
        self._last = description
        self._final = description if description.get("state") in ENDED_STATES else None
        self._output = output
        self._wait_id = None  # a job.wait in flight, reused by the next wait after a timeout
        self._wait_streams = False  # that job.wait asked for progress events
        self._waiting = threading.Lock()
        self._python = None  # a python job whose ranges return objects: ("map" | "reduce", op)

    # ---- state
    def status(self):
        """The job's description (docs/protocol.md), fresh from the daemon until the job ended."""
        if self._final is None:
            self._note(self._client._call("job.status", job=self.id))
        return self._last

    def done(self):
        return self.status()["state"] in ENDED_STATES

    def running(self):
        return self.status()["state"] == "running"

    def cancelled(self):
        return self.status()["state"] == "cancelled"

    def progress(self):
        """Progress(done, total): ranges accounted so far, of the job's ranges."""
        s = self.status()
        return Progress(s["ranges_done"], s["ranges"])

    @property
    def output(self):
        out = self._last.get("output")
        return out["name"] if isinstance(out, dict) else self._output

    @property
    def value(self):
        """The reduced value of the last description (None before the end or without reduction)."""
        return reduced_number(self._last.get("value"))

    @property
    def index(self):
        """The flat index of min/max/argmin/argmax reductions (None otherwise)."""
        return self._last.get("index")

    # ---- ending
    def cancel(self):
        """Cancels the job. True if it is cancelled now, False if it had already ended otherwise."""
        if self._final is None:
            self._note(self._client._call("job.cancel", job=self.id))
        return self._last["state"] == "cancelled"

    def result(self, timeout=None, progress=False):
        final = self._wait(timeout, progress)
        if final["state"] != "done":
            raise self._error(final)
        return self._client._job_result(self, final)

    def exception(self, timeout=None, progress=False):
        """None if the job ended done, else its ShmpoolError; raises JobCancelled if cancelled.
        Maps nothing: an output only fed to later jobs stays unseen, and its segment is reused
        for a later output once deleted (docs/python.md). progress: as for result()."""
        final = self._wait(timeout, progress)
        if final["state"] == "done":
            return None
        error = self._error(final)
        if isinstance(error, JobCancelled):
            raise error
        return error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._client._drop_job(self)

    def __repr__(self):
        return "Job(id=%r, kernel=%r, state=%r)" % (self.id, self.kernel, self._last.get("state"))

    # ---- internals
    def _note(self, description):
        self._last = description
        if description.get("state") in ENDED_STATES:
            self._final = description

    @staticmethod
    def _error(final):
        err = final.get("error") or {}
        return error_for(err.get("code", "internal"), err.get("message", "job ended %s" % final["state"]), final)

    def _wait(self, timeout, progress=False):
        """The final description, waiting with job.wait at most timeout seconds (None: forever);
        with progress (True or a tqdm bar), drawing the ranges done on a bar meanwhile."""
        bar = None if progress is False or progress is None else RangeBar(progress, self.id)
        try:
            final = self._wait_final(timeout, bar)
            if bar is not None:
                bar.show(final)
            return final
        finally:
            if bar is not None:
                bar.close()

    def _wait_final(self, timeout, bar):
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._final is not None:
            return self._final
        if not self._waiting.acquire(timeout=-1 if deadline is None else max(0.0, deadline - time.monotonic())):
            raise TimeoutError("job %d has not ended within %s s" % (self.id, timeout))
        try:
            if self._final is not None:
                return self._final
            conn = self._client._connection()
            if self._wait_id is not None and bar is not None and not self._wait_streams:
                conn.forget(self._wait_id)  # a wait sent without progress: ask again, with it
                self._wait_id = None
            if self._wait_id is None:
                args = {"job": self.id, "progress": True} if bar is not None else {"job": self.id}
                self._wait_id = conn.send("job.wait", args)
                self._wait_streams = bar is not None
            try:
                reply = self._receive_reply(conn, deadline, bar)
            except TimeoutError:
                raise TimeoutError("job %d has not ended within %s s" % (self.id, timeout)) from None
            self._wait_id = None
            return self._final_from(reply)
        finally:
            self._waiting.release()

    def _receive_reply(self, conn, deadline, bar):
        """The reply to the job.wait in flight; its progress events go to the bar (if any)."""
        reply = conn.receive(self._wait_id, deadline)
        while "event" in reply:
            if bar is not None and reply.get("event") == "progress":
                bar.show(reply)
            reply = conn.receive(self._wait_id, deadline)
        return reply

    def _final_from(self, reply):
        if reply.get("ok") is True:
            self._note(reply["result"])
            return self._final
        error = error_from_reply(reply)
        if isinstance(error.job, dict) and error.job.get("state") in ENDED_STATES:
            self._note(error.job)
            return self._final
        raise error  # e.g. unknown_job: the daemon no longer knows the job


__all__ = ["Job", "Progress", "ENDED_STATES", "reduced_number"]
