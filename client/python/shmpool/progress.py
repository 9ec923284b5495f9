# A tqdm bar over a job's ranges, fed by the daemon's progress events (docs/protocol.md
# "Progress events"): Job.result(progress=...) and Job.exception(progress=...).
"""Progress bars of jobs (docs/python.md)."""


def _new_tqdm(job_id):
    try:
        from tqdm import tqdm
    except ImportError as e:
        raise ImportError("progress=True draws a tqdm bar, and tqdm is not installed "
                          "(Debian: apt-get install python3-tqdm; else: pip install tqdm)") from e
    return tqdm(desc="job %d" % job_id, unit="range")


class RangeBar:
    """Ranges done out of the job's ranges on a tqdm bar. progress: True (a new bar, closed at
    the end) or a tqdm bar of the caller's (fed and refreshed, left open for its owner)."""

    def __init__(self, progress, job_id):
        self._owned = not hasattr(progress, "update")
        self.bar = _new_tqdm(job_id) if self._owned else progress

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


__all__ = ["RangeBar"]
