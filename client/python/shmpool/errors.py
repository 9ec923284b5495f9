# The exceptions of the Python client: ShmpoolError carries the daemon's stable error code
# (docs/protocol.md, common/error.cpp); DaemonConnectionError is a broken or refused socket.
"""Exceptions raised by the shmpool client.

Every error the daemon reports is a :class:`ShmpoolError` whose ``code`` is one of the
protocol's stable codes; each code has its own subclass (e.g. ``UnknownDataset``), grouped
under ``RequestError``, ``NotFound``, ``JobFailed``, ``ResourceError`` and ``DaemonError``.
Trouble with the socket itself is a :class:`DaemonConnectionError`, which is not a
ShmpoolError (it derives from the built-in ``ConnectionError``).
"""

import concurrent.futures


class ShmpoolError(Exception):
    """The daemon (or the client, checking a request before sending it) refused or failed.

    ``code``: the protocol's error code, e.g. ``"unknown_dataset"``; ``message``: its text;
    ``job``: for a job that ended other than done, the job's last description (a dict)."""

    code = "internal"

    def __init__(self, code, message, job=None):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.job = job


class DaemonConnectionError(ConnectionError):
    """The daemon's socket could not be reached, or the connection broke or sent garbage."""


class RequestError(ShmpoolError):
    """The request itself is wrong (bad field, name, shape, parameter, ...)."""


class NotFound(ShmpoolError):
    """A named thing (kernel, dataset, job) does not exist."""


class JobFailed(ShmpoolError):
    """A job ended other than done."""


class ResourceError(ShmpoolError):
    """Files, shared memory or limits of the daemon."""


class AccessDenied(ShmpoolError):
    """Another uid's dataset or job, an administrators' verb, or a file or shm object the
    client itself could not open (docs/security.md)."""


class DaemonError(ShmpoolError):
    """The daemon is stopping, or hit a bug of its own."""


class JobCancelled(JobFailed, concurrent.futures.CancelledError):
    """The job was cancelled (also a concurrent.futures.CancelledError)."""


# code -> (class name, base): one subclass per stable code of common/error.cpp.
_CODES = {
    "bad_json": ("BadJson", RequestError),
    "bad_request": ("BadRequest", RequestError),
    "line_too_long": ("LineTooLong", RequestError),
    "unknown_verb": ("UnknownVerb", RequestError),
    "unknown_kernel": ("UnknownKernel", NotFound),
    "unknown_dataset": ("UnknownDataset", NotFound),
    "dataset_exists": ("DatasetExists", RequestError),
    "dataset_busy": ("DatasetBusy", RequestError),
    "bad_name": ("BadName", RequestError),
    "missing_role": ("MissingRole", RequestError),
    "unknown_role": ("UnknownRole", RequestError),
    "dtype_mismatch": ("DtypeMismatch", RequestError),
    "shape_mismatch": ("ShapeMismatch", RequestError),
    "bad_shape": ("BadShape", RequestError),
    "too_large": ("TooLarge", RequestError),
    "bad_param": ("BadParam", RequestError),
    "unknown_job": ("UnknownJob", NotFound),
    "io_error": ("ShmIOError", ResourceError),
    "no_space": ("NoSpace", ResourceError),
    "range_failed": ("RangeFailed", JobFailed),
    "timed_out": ("JobTimedOut", JobFailed),
    "out_of_memory": ("OutOfMemory", JobFailed),
    "cancelled": ("JobCancelled", JobCancelled),
    "shutting_down": ("ShuttingDown", DaemonError),
    "internal": ("Internal", DaemonError),
    "uid_dataset_limit": ("UidDatasetLimit", ResourceError),
    "uid_bytes_limit": ("UidBytesLimit", ResourceError),
    "too_many_descriptors": ("TooManyDescriptors", RequestError),
    "not_owner": ("NotOwner", AccessDenied),
    "not_admin": ("NotAdmin", AccessDenied),
    "permission_denied": ("PermissionDenied", AccessDenied),
    "python_error": ("PythonError", JobFailed),
    "python_version_mismatch": ("PythonVersionMismatch", RequestError),
    "code_not_allowed": ("CodeNotAllowed", RequestError),
}

ERROR_CLASSES = {}
for _code, (_name, _base) in _CODES.items():
    ERROR_CLASSES[_code] = _base if _base.__name__ == _name else type(_name, (_base,), {"code": _code})
    globals()[_name] = ERROR_CLASSES[_code]
JobCancelled.code = "cancelled"


def error_for(code, message, job=None):
    """The ShmpoolError subclass instance for a code (plain ShmpoolError for an unknown one)."""
    return ERROR_CLASSES.get(code, ShmpoolError)(code, message, job)


def error_from_reply(reply):
    """The exception for an ok:false reply (its `error` object, and `job` when it has one)."""
    err = reply.get("error")
    if not isinstance(err, dict):
        return error_for("internal", "the daemon replied ok:false without an error object: %r" % (reply,))
    code = err.get("code") if isinstance(err.get("code"), str) else "internal"
    message = err.get("message") if isinstance(err.get("message"), str) else "the daemon reported an error"
    return error_for(code, message, err.get("job"))


__all__ = ["ShmpoolError", "DaemonConnectionError", "RequestError", "NotFound", "JobFailed", "ResourceError",
           "AccessDenied", "DaemonError", "ERROR_CLASSES", "error_for", "error_from_reply"] + [n for n, _ in _CODES.values()]
