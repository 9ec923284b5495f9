# The client's side of shared memory: a temporary POSIX shm object filled from an array (for
# dataset.put), read-only zero-copy views of dataset segments, and removal of stale objects.
"""Shared-memory objects in /dev/shm as the client creates and maps them."""

import errno
import mmap
import os
import re

import numpy as np

from .errors import error_for

SHM_DIR = "/dev/shm"
TEMP_PREFIX = "shmpool-py."  # temporary objects are shmpool-py.<pid>.<random>
_TEMP_NAME = re.compile(r"shmpool-py\.(\d+)\.[0-9a-f]+\Z")


class TempObject:
    """A fresh anonymous shared-memory file (memfd, fully allocated) holding one copy of an
    array, passed to the daemon as a descriptor (dataset.put "fd": true): it has no name in
    /dev/shm, so nothing of it outlives the client, and the daemon reads exactly what the client
    could. close() releases it."""

    def __init__(self, array, dtype):
        self.fd = os.memfd_create("shmpool-py-put", os.MFD_CLOEXEC)
        try:
            self._fill(self.fd, array, dtype)
        except BaseException:
            self.close()
            raise

    def _fill(self, fd, array, dtype):
        nbytes = array.size * dtype.itemsize
        try:
            # allocate every page now: a full /dev/shm is ENOSPC here, never SIGBUS at the copy
            os.posix_fallocate(fd, 0, nbytes)
        except OSError as e:
            code = "no_space" if e.errno == errno.ENOSPC else "io_error"
            raise error_for(code, "posix_fallocate() failed while allocating %d bytes of shared memory: %s"
                            % (nbytes, e.strerror)) from e
        with mmap.mmap(fd, nbytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
            target = np.ndarray(array.shape, dtype=dtype, buffer=m)
            np.copyto(target, array, casting="equiv")  # the one copy (also makes it C order, native)
            del target  # release the buffer before the mapping closes

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def map_descriptor(fd, dtype, shape, what):
    """A read-only ndarray over the object open as fd (the caller still closes fd), with no copy:
    its base is the mmap (PROT_READ, MAP_SHARED), which stays mapped as long as the array (or a
    view of it) lives. `what` names the object in errors."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    size = os.fstat(fd).st_size
    if size < nbytes:
        raise error_for("io_error", "%s holds %d bytes; a %s %s array needs %d"
                        % (what, size, dtype.name, list(shape), nbytes))
    m = mmap.mmap(fd, nbytes, mmap.MAP_SHARED, mmap.PROT_READ)
    return np.ndarray(tuple(shape), dtype=dtype, buffer=m)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_objects():
    """Unlinks temporary objects of this user whose creating process is gone (a client killed
    during a put). Returns the names removed."""
    removed = []
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return removed
    for name in names:
        found = _TEMP_NAME.match(name)
        if not found or _pid_alive(int(found.group(1))):
            continue
        path = os.path.join(SHM_DIR, name)
        try:
            if os.stat(path).st_uid == os.geteuid():
                os.unlink(path)
                removed.append(name)
        except FileNotFoundError:
            pass
    return removed
