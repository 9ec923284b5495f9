# The shmpool Python client: pure Python + NumPy over shmpoold's Unix socket and /dev/shm.
# This file only gathers the public names; see docs/python.md.
"""Python client of shmpoold, the shared-memory job server.

    import numpy as np, shmpool
    with shmpool.Client(instance="demo", cleanup=True) as c:
        c.put("P", np.random.rand(2000, 3))
        D = c.run("rbf", {"points": "P"}).result()   # read-only view of the output, no copy
"""

from .client import INLINE_MAX_BYTES, Client
from .connection import default_socket_path
from .dataset import DTYPES, Dataset
from .errors import *  # noqa: F401,F403 (the exception classes, one per error code)
from .errors import __all__ as _error_names
from .executor import Executor
from .job import Job, Progress

__version__ = "0.1.0"
__all__ = ["Client", "Executor", "Dataset", "Job", "Progress", "DTYPES", "INLINE_MAX_BYTES", "default_socket_path"] + list(
    _error_names)
