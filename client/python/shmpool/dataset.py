# The Dataset handle: a dataset's description (name, dtype, shape, segment) as the daemon
# gave it, with a zero-copy view and delete; a `with` block deletes the dataset on exit.
"""Handles of datasets held by shmpoold."""

import numpy as np

DTYPES = ("float64", "float32", "int64", "int32", "uint8")


class Dataset:
    """A dataset of the daemon, described by its `info` (docs/protocol.md).

    ``name``, ``dtype`` (numpy.dtype), ``shape`` (tuple), ``nbytes``, ``segment`` (the object in
    /dev/shm), ``sealed``, ``owner_uid`` (the uid it belongs to, whose per-uid limits it counts
    against), ``ref`` ("<owner uid>/<name>": the name that reaches it from any uid, e.g. a dataset
    another user shared), ``shares``. ``array()`` maps it read-only with no copy. Used in a
    ``with`` block, the dataset is deleted when the block ends."""

    def __init__(self, client, info):
        self._client = client
        self.info = dict(info)
        self.name = info["name"]
        self.dtype = np.dtype(info["dtype"])
        self.shape = tuple(info["shape"])
        self.nbytes = info.get("bytes", self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64)))
        self.segment = info.get("segment")
        self.sealed = info.get("sealed", True)
        self.owner_uid = info.get("owner_uid")
        self.ref = info.get("ref", self.name)
        self.shares = info.get("shares")

    def array(self):
        """A read-only NumPy view of the dataset's segment (no copy); see Client.get."""
        return self._client.get(self.ref)

    def delete(self):
        """Deletes the dataset; a dataset already gone is not an error."""
        self._client.delete(self.name, missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()

    def __repr__(self):
        return "Dataset(name=%r, dtype=%s, shape=%r, segment=%r)" % (self.name, self.dtype.name, self.shape,
                                                                    self.segment)
