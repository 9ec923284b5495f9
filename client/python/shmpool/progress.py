# tqdm bars: a job's ranges, fed by the daemon's progress events (docs/protocol.md "Progress
# events") for Job.result(progress=...); an Executor's calls, moved as their futures settle.
"""Progress bars of jobs (docs/python.md)."""


import threading


def _new_tqdm(desc, unit):
    try:
        from tqdm import tqdm
    except ImportError as e:
        raise ImportError("progress=True draws a tqdm bar, and tqdm is not installed "
                          "(Debian: apt-get install python3-tqdm; else: pip install tqdm)") from e
    return tqdm(desc=desc, unit=unit)


class RangeBar:
    """Ranges done out of the job's ranges on a tqdm bar. progress: True (a new bar, closed at
    the end) or a tqdm bar of the caller's (fed and refreshed, left open for its owner)."""

    def __init__(self, progress, job_id):
        self._owned = not hasattr(progress, "update")
        self.bar = _new_tqdm("job %d" % job_id, "range") if self._owned else progress

    def show(self, description):
        """Moves the bar to a progress event's (or a job description's) counts."""
        total, done = description.get("ranges"), description.get("ranges_done")
        if isinstance(total, int) and self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()
        if isinstance(done, int) and done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self):
        if self._owned:
            self.bar.close()
        else:
            self.bar.refresh()


class CallBar:
    """An Executor's calls on a tqdm bar: the total grows with each call submitted, the count
    with each call finished (in whatever order). progress: True (a new bar, closed by close())
    or a tqdm bar of the caller's (left open for its owner). Safe from any thread."""

    def __init__(self, progress):
        self._owned = not hasattr(progress, "update")
        self.bar = _new_tqdm("calls", "call") if self._owned else progress
        self._lock = threading.Lock()
        self._submitted = 0

    def submitted(self, calls=1):
        with self._lock:
            self._submitted += calls
            self.bar.total = self._submitted
            self.bar.refresh()

    def finished(self, calls=1):
        with self._lock:
            self.bar.update(calls)

    def close(self):
        with self._lock:
            if self._owned:
                self.bar.close()
            else:
                self.bar.refresh()


__all__ = ["RangeBar", "CallBar"]
