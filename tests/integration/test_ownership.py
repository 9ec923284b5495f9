"""Users of one daemon are strangers (issue 13, docs/security.md "Who may do what"): every verb of
the protocol run as the owner of a dataset and a job (uid nobody), another allowed uid (12345),
and an administrator (uid 23456 by --admin-users; root for a few), each a real process under
setpriv; and the confused-deputy cases: shm objects and files the client could not open itself."""

import errno
import json
import os
import struct
import subprocess

import numpy as np
import pytest

import shmpool_harness as h

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run clients as other uids")

OWNER, OTHER, ADMIN = h.NOBODY_UID, 12345, 23456  # 12345 and 23456 need no passwd entry
ROLES = {"owner": OWNER, "other": OTHER, "admin": ADMIN}

# Sends the JSON requests read from stdin on one connection; a passed descriptor is closed and
# shown as "fd": "passed". Prints each reply as one JSON line.
_RUN_REQUESTS = r"""
import json, os, sys
from shmpool.connection import PASSED_FD, Connection
conn = Connection(sys.argv[1])
for line in sys.stdin:
    req = json.loads(line)
    reply = conn.call(req.pop("verb"), req, 60.0)
    fd = reply.pop(PASSED_FD, None)
    if fd is not None:
        os.close(fd)
        reply["fd"] = "passed"
    print(json.dumps(reply), flush=True)
"""


def run_as(uid, code, *args, input=None):
    env = dict(os.environ, PYTHONPATH=h.PY_CLIENT_DIR)
    argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", "/usr/bin/python3", "-c", code]
    res = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=120, input=input, env=env, cwd="/")
    assert res.returncode == 0, "client as uid %d failed: %s" % (uid, res.stderr)
    return res.stdout


def requests_as(uid, daemon, requests):
    out = run_as(uid, _RUN_REQUESTS, daemon.socket_path, input="".join(json.dumps(r) + "\n" for r in requests))
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def outcome(reply):
    return "ok" if reply.get("ok") is True else reply["error"]["code"]


def strangers_daemon(daemon_factory, *args, workers=2):
    d = daemon_factory.new(workers=workers, extra_args=["--allow-users", "nobody,%d,%d" % (OTHER, ADMIN), "--admin-users",
                                       str(ADMIN)] + list(args))
    h.share_with_everyone(d)
    return d


def put(name, values, **extra):
    return dict({"verb": "dataset.put", "name": name, "data": values, "dtype": "float64"}, **extra)


def sleep_job():
    """A job that runs until cancelled (one range: it holds one worker, the others serve on)."""
    return {"verb": "job.submit", "kernel": "sleep", "params": {"rows": 1, "ms": 120000}}


# --------------------------------------------------------------------------- the matrix

# verb -> expected outcome for (owner, other, admin) on the owner's private dataset / job.
MATRIX = {
    "ping": ("ok", "ok", "ok"),
    "workers": ("ok", "ok", "ok"),
    "stats": ("ok", "ok", "ok"),  # active_jobs: only the caller's own jobs (all for an admin)
    "kernels": ("ok", "ok", "ok"),
    "dataset.put (into the owner's namespace)": ("ok", "not_owner", "not_owner"),
    "dataset.info": ("ok", "unknown_dataset", "ok"),
    "dataset.list": ("ok", "ok", "ok"),  # lists the dataset for owner and admin only
    "dataset.get": ("ok", "unknown_dataset", "ok"),
    "dataset.open": ("ok", "unknown_dataset", "ok"),
    "dataset.save": ("ok", "unknown_dataset", "ok"),
    "dataset.share": ("ok", "unknown_dataset", "ok"),
    "dataset.unshare": ("ok", "unknown_dataset", "ok"),
    "job.submit (input)": ("ok", "unknown_dataset", "ok"),
    "job.submit (output in the owner's namespace)": ("ok", "not_owner", "not_owner"),
    "job.status": ("ok", "not_owner", "ok"),
    "job.wait": ("ok", "not_owner", "ok"),
    "job.cancel": ("ok", "not_owner", "ok"),
    "dataset.delete": ("ok", "unknown_dataset", "ok"),
    "shutdown": ("not_admin", "not_admin", "ok"),
}

# What the owner shares (read-only): shared readers may read; change nothing of it.
SHARED_MATRIX = {
    "dataset.info": "ok", "dataset.list": "ok", "dataset.get": "ok", "dataset.open": "ok", "dataset.save": "ok",
    "job.submit (input)": "ok", "dataset.share": "not_owner", "dataset.unshare": "not_owner",
    "dataset.delete": "not_owner",
}


def requests_for(role, target, done_job, save_dir):
    """The matrix's requests of one role, in MATRIX order (job.cancel and shutdown apart). `target`
    is the owner's dataset this role works on ("65534/X_<role>"), `done_job` an ended job of the owner."""
    ref = target if role != "owner" else target.split("/", 1)[1]
    return {
        "ping": {"verb": "ping"},
        "workers": {"verb": "workers"},
        "stats": {"verb": "stats"},
        "kernels": {"verb": "kernels"},
        "dataset.put (into the owner's namespace)": put("%d/P_%s" % (OWNER, role), [1.0]),
        "dataset.info": {"verb": "dataset.info", "name": ref},
        "dataset.list": {"verb": "dataset.list"},
        "dataset.get": {"verb": "dataset.get", "name": ref},
        "dataset.open": {"verb": "dataset.open", "name": ref},
        "dataset.save": {"verb": "dataset.save", "name": ref, "file": os.path.join(save_dir, "%s.npy" % role)},
        "dataset.share": {"verb": "dataset.share", "name": ref, "with": ["@4242"]},
        "dataset.unshare": {"verb": "dataset.unshare", "name": ref, "with": ["@4242"]},
        "job.submit (input)": {"verb": "job.submit", "kernel": "map", "inputs": {"x": ref},
                               "params": {"op": "square"}, "output": "sq_%s" % role, "wait": True},
        "job.submit (output in the owner's namespace)": {
            "verb": "job.submit", "kernel": "map", "inputs": {"x": "%d/common" % OWNER}, "params": {"op": "exp"},
            "output": "%d/out_%s" % (OWNER, role), "wait": True},
        "job.status": {"verb": "job.status", "job": done_job},
        "job.wait": {"verb": "job.wait", "job": done_job},
        "dataset.delete": {"verb": "dataset.delete", "name": ref},
    }


def owner_setup(d, values):
    """As the owner: a private dataset per role, a dataset shared with all ('common', the input
    of the output-namespace probe), and an ended job. Returns the job's id."""
    reqs = [put("X_%s" % role, values) for role in ROLES] + [put("common", [0.5], share=["*"])]
    reqs += [{"verb": "job.submit", "kernel": "noop", "wait": True}]
    replies = [h.expect_ok(r) for r in requests_as(OWNER, d, reqs)]
    return replies[-1]["job"]


def save_dir_for_everyone(d):
    path = os.path.join(d.workdir, "saves")
    os.mkdir(path)
    os.chmod(path, 0o777)
    return path


@pytest.mark.time_limit(120)
def test_every_verb_as_owner_other_uid_and_admin(daemon_factory):
    d = strangers_daemon(daemon_factory)
    values = [1.0, 2.0, 3.0]
    done_job = owner_setup(d, values)
    save_dir = save_dir_for_everyone(d)
    seen = {}
    order = (("other", OTHER), ("owner", OWNER), ("admin", ADMIN))  # the other uid first: it must change nothing
    for role, uid in order:
        reqs = requests_for(role, "%d/X_%s" % (OWNER, role), done_job, save_dir)
        seen[role] = dict(zip(reqs, requests_as(uid, d, list(reqs.values()))))
    # then jobs that run until cancelled (after the rest: ranges are handed out oldest job first)
    running = {role: h.expect_ok(r)["job"] for role, r in zip(ROLES, requests_as(OWNER, d, [sleep_job()] * 3))}
    for role, uid in order:
        replies = requests_as(uid, d, [{"verb": "stats"}, {"verb": "job.cancel", "job": running[role]}])
        seen[role]["stats"], seen[role]["job.cancel"] = replies
    for verb, want in MATRIX.items():
        if verb == "shutdown":
            continue
        got = tuple(outcome(seen[role][verb]) for role in ("owner", "other", "admin"))
        assert got == want, "%s: (owner, other, admin) got %s, want %s: %s" % (
            verb, got, want, [seen[r][verb] for r in ("owner", "other", "admin")])

    # what each role was shown
    listed = {role: {ds["ref"] for ds in seen[role]["dataset.list"]["result"]["datasets"]} for role in ROLES}
    assert listed["other"] == {"%d/common" % OWNER}, listed["other"]  # only what is shared with it
    assert "%d/X_other" % OWNER in listed["owner"] and "%d/X_other" % OWNER in listed["admin"]
    active = {role: {j["job"] for j in seen[role]["stats"]["result"]["active_jobs"]} for role in ROLES}
    assert not active["other"] & set(running.values()), "stats showed another uid's jobs"
    assert running["other"] in active["owner"] and running["other"] in active["admin"]
    assert seen["owner"]["dataset.get"]["result"]["data"] == values
    assert seen["admin"]["dataset.get"]["result"]["data"] == values
    assert seen["owner"]["dataset.open"]["fd"] == "passed" and seen["admin"]["dataset.open"]["fd"] == "passed"
    for role in ("owner", "admin"):
        assert np.array_equal(np.load(os.path.join(save_dir, "%s.npy" % role)), values)
        # the daemon (root) hands a saved file to the client that asked for it
        assert os.stat(os.path.join(save_dir, "%s.npy" % role)).st_uid == ROLES[role]
        out = seen[role]["job.submit (input)"]["result"]["output"]
        assert out["owner_uid"] == ROLES[role], "a job's output belongs to its submitter"
        assert seen[role]["job.cancel"]["result"]["state"] == "cancelled"
    assert not os.path.exists(os.path.join(save_dir, "other.npy"))

    # nothing the other uid tried changed anything: its target and its job are intact
    root = d.conn()
    assert root.ok("dataset.get", name="%d/X_other" % OWNER)["data"] == values
    assert root.ok("job.status", job=running["other"])["state"] in ("queued", "running")
    assert root.ok("dataset.info", name="%d/X_other" % OWNER)["shares"] == {"users": [], "groups": [], "all": False}
    root.ok("job.cancel", job=running["other"])

    # shutdown last: refused to owner and other uid, done for the admin
    assert [outcome(requests_as(uid, d, [{"verb": "shutdown"}])[0]) for uid in (OWNER, OTHER)] == \
        list(MATRIX["shutdown"][:2])
    assert root.ok("ping")["pong"] is True
    assert outcome(requests_as(ADMIN, d, [{"verb": "shutdown"}])[0]) == MATRIX["shutdown"][2]
    assert d.wait_exit(h.STOP_TIMEOUT) == 0


@pytest.mark.time_limit(90)
def test_a_share_lets_others_read_only_and_unshare_takes_it_back(daemon_factory):
    d = strangers_daemon(daemon_factory)
    values = [4.0, 5.0]
    h.expect_ok(requests_as(OWNER, d, [put("S", values), put("T", [1.0], share=[str(OTHER)])])[0])
    save_dir = save_dir_for_everyone(d)
    share = requests_as(OWNER, d, [{"verb": "dataset.share", "name": "S", "with": [str(OTHER)]}])[0]
    assert h.expect_ok(share)["shares"] == {"users": [OTHER], "groups": [], "all": False}
    reqs = requests_for("other", "%d/S" % OWNER, 0, save_dir)
    reqs = {verb: reqs[verb] for verb in SHARED_MATRIX}
    replies = dict(zip(reqs, requests_as(OTHER, d, list(reqs.values()))))
    got = {verb: outcome(r) for verb, r in replies.items()}
    assert got == SHARED_MATRIX, {v: replies[v] for v in got if got[v] != SHARED_MATRIX[v]}
    assert replies["dataset.get"]["result"]["data"] == values
    assert {ds["ref"] for ds in replies["dataset.list"]["result"]["datasets"]} >= {"%d/S" % OWNER, "%d/T" % OWNER}
    out = replies["job.submit (input)"]["result"]["output"]
    assert out["owner_uid"] == OTHER and out["ref"] == "%d/sq_other" % OTHER  # the reader's, in its namespace
    assert np.array_equal(np.load(os.path.join(save_dir, "other.npy")), values)

    # the other uid's own dataset of the same name does not collide with the owner's
    mine = requests_as(OTHER, d, [put("S", [9.0]), {"verb": "dataset.get", "name": "S"},
                                  {"verb": "dataset.get", "name": "nobody/S"}])
    assert [r["result"]["data"] for r in mine[1:]] == [[9.0], values]

    # a group share, then unshare: the reader loses it
    requests_as(OWNER, d, [{"verb": "dataset.unshare", "name": "S"}])
    assert outcome(requests_as(OTHER, d, [{"verb": "dataset.get", "name": "%d/S" % OWNER}])[0]) == "unknown_dataset"
    h.expect_ok(requests_as(OWNER, d, [{"verb": "dataset.share", "name": "S", "with": ["*"]}])[0])
    assert outcome(requests_as(OTHER, d, [{"verb": "dataset.info", "name": "%d/S" % OWNER}])[0]) == "ok"
    bad = requests_as(OWNER, d, [{"verb": "dataset.share", "name": "S", "with": ["no-such-user-xyz"]},
                                 {"verb": "dataset.share", "name": "S", "with": "nobody"},
                                 {"verb": "dataset.put", "name": "U", "data": [1.0], "share": ["@no-such-group-xyz"]},
                                 {"verb": "dataset.info", "name": "U"}])
    assert [outcome(r) for r in bad] == ["bad_name", "bad_request", "bad_name", "unknown_dataset"]


@pytest.mark.time_limit(60)
def test_quota_charges_the_owner_not_the_readers(daemon_factory):
    d = strangers_daemon(daemon_factory, "--max-shm-bytes-per-uid", "100")
    r = requests_as(OWNER, d, [put("Q", [0.0] * 10, share=["*"])])[0]  # 80 bytes of nobody's 100
    h.expect_ok(r)
    assert outcome(requests_as(OWNER, d, [put("Q2", [0.0] * 4)])[0]) == "uid_bytes_limit"
    # the reader holds its 100 bytes whatever it reads
    got = requests_as(OTHER, d, [{"verb": "dataset.get", "name": "%d/Q" % OWNER}, put("R", [0.0] * 12)])
    assert [outcome(x) for x in got] == ["ok", "ok"]


# --------------------------------------------------------------------------- confused deputy

# As the client (uid from argv): open things and pass descriptors. Prints one JSON line per attempt.
_PASS_FDS = r"""
import json, os, socket, sys
sock_path, secret = sys.argv[1:3]
def put_fd(fd, extra):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    line = json.dumps(dict({"id": 1, "verb": "dataset.put", "fd": True}, **extra)).encode() + b"\n"
    socket.send_fds(s, [line], [fd])
    buf = b""
    while not buf.endswith(b"\n"):
        buf += s.recv(65536)
    s.close()
    return json.loads(buf)
out = {}
fd = os.open(secret, os.O_PATH)  # allowed: the directory is searchable; reading is not
out["o_path"] = put_fd(fd, {"name": "p1", "dtype": "uint8", "shape": [16]})
os.close(fd)
out["own_object"] = put_fd(os.open(sys.argv[3], os.O_RDONLY), {"name": "p2", "dtype": "uint8", "shape": [8]})
print(json.dumps(out))
"""


def secret_shm(tag, owner=0, mode=0o600, data=b"TOPSECRET-bytes!"):
    path = "/dev/shm/shmpool-test-%d-%s" % (os.getpid(), tag)
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, owner, owner)
    os.chmod(path, mode)
    return path


@pytest.mark.time_limit(60)
def test_shm_objects_the_client_does_not_own_are_refused(daemon_factory):
    d = strangers_daemon(daemon_factory)
    paths = [secret_shm("root600"), secret_shm("root644", mode=0o644), secret_shm("other", owner=OTHER),
             secret_shm("mine", owner=OWNER, data=bytes(range(16)))]
    link = "/dev/shm/shmpool-test-%d-link" % os.getpid()
    os.symlink(paths[3], link)
    try:
        os.chown(link, OWNER, OWNER, follow_symlinks=False)
        reqs = [{"verb": "dataset.put", "name": "s%d" % i, "shm": "/" + os.path.basename(p), "dtype": "uint8",
                 "shape": [16]} for i, p in enumerate(paths[:3] + [link, paths[3]])]
        replies = requests_as(OWNER, d, reqs)
        # root's private object (the case), root's world-readable one, another uid's, a symlink
        assert [outcome(r) for r in replies] == ["permission_denied"] * 4 + ["ok"], replies
        assert np.array_equal(h.read_dataset(replies[4]["result"]), np.arange(16, dtype=np.uint8))
        listed = requests_as(OWNER, d, [{"verb": "dataset.list"}])[0]["result"]["datasets"]
        assert [ds["name"] for ds in listed] == ["s4"], "a refused put left a dataset"
        # descriptors: an O_PATH one of root's object (no read right in it), and a readable one of its own
        fd_res = json.loads(run_as(OWNER, _PASS_FDS, d.socket_path, paths[0], paths[3]))
        assert outcome(fd_res["o_path"]) == "permission_denied", fd_res
        assert outcome(fd_res["own_object"]) == "ok"
        assert h.expect_ok(d.conn().call("dataset.get", name="%d/p2" % OWNER))["data"] == list(range(8))
    finally:
        for p in paths + [link]:
            os.unlink(p)


@pytest.mark.time_limit(60)
def test_files_in_allow_dir_the_client_could_not_open_are_refused(daemon_factory):
    d = strangers_daemon(daemon_factory)
    data = h.rng(3).standard_normal(8)
    secret, public = os.path.join(d.workdir, "secret.npy"), os.path.join(d.workdir, "public.npy")
    np.save(secret, data)
    np.save(public, data)
    os.chmod(secret, 0o600)  # root's, in the allowed directory
    os.chmod(public, 0o644)
    closed = os.path.join(d.workdir, "closed")
    os.mkdir(closed, 0o700)
    np.save(os.path.join(closed, "inside.npy"), data)
    os.chmod(os.path.join(closed, "inside.npy"), 0o644)  # readable, behind a directory nobody cannot enter
    link = os.path.join(d.workdir, "link.npy")
    os.symlink(secret, link)
    sticky = os.path.join(d.workdir, "sticky")  # as /tmp: anyone creates, only owners replace
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    keep = os.path.join(sticky, "keep.npy")  # root's 0644: nobody may not write over it
    np.save(keep, np.zeros(3))
    before = open(keep, "rb").read()
    writable = os.path.join(d.workdir, "out")
    os.mkdir(writable)
    os.chown(writable, OWNER, OWNER)
    reqs = [{"verb": "dataset.put", "name": "a", "file": secret},
            {"verb": "dataset.put", "name": "b", "file": link},
            {"verb": "dataset.put", "name": "c", "file": os.path.join(closed, "inside.npy")},
            {"verb": "dataset.put", "name": "d", "file": public},
            {"verb": "dataset.save", "name": "d", "file": keep},
            {"verb": "dataset.save", "name": "d", "file": os.path.join(d.workdir, "new.npy")},
            {"verb": "dataset.save", "name": "d", "file": os.path.join(writable, "new.npy")}]
    replies = requests_as(OWNER, d, reqs)
    assert [outcome(r) for r in replies] == ["permission_denied"] * 3 + ["ok"] + ["permission_denied"] * 2 + ["ok"], \
        replies
    assert open(keep, "rb").read() == before, "a refused save changed the file"
    assert not os.path.exists(os.path.join(d.workdir, "new.npy"))
    saved = os.path.join(writable, "new.npy")
    assert np.array_equal(np.load(saved), data) and os.stat(saved).st_uid == OWNER
    assert [ds["name"] for ds in requests_as(OWNER, d, [{"verb": "dataset.list"}])[0]["result"]["datasets"]] == ["d"]
    assert not [n for n in os.listdir(d.workdir) if ".tmp-" in n], "a refused save left a temporary file"


# --------------------------------------------------------------------------- clients

_PY_SHARE = r"""
import json, sys
import numpy as np, shmpool
with shmpool.Client(socket=sys.argv[1]) as c:
    ds = c.put("PY", np.arange(5000.0))  # large enough for the memfd path, not inline
    shared = c.share(ds, users=[int(sys.argv[2])])
    print(json.dumps({"ref": ds.ref, "shares": shared.shares}))
"""

_PY_READ = r"""
import json, sys
import shmpool
with shmpool.Client(socket=sys.argv[1]) as c:
    out = {"sum": float(c.get(sys.argv[2]).sum())}
    try:
        c.delete(sys.argv[2])
    except shmpool.NotOwner as e:
        out["delete"] = e.code
    print(json.dumps(out))
"""


def cli_as(uid, daemon, *args):
    argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups", h.SHMPOOL_CLI,
            "--socket", daemon.socket_path] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")


@pytest.mark.time_limit(60)
def test_python_client_and_cli_share_and_unshare(daemon_factory):
    d = strangers_daemon(daemon_factory)
    got = json.loads(run_as(OWNER, _PY_SHARE, d.socket_path, str(OTHER)))
    assert got == {"ref": "%d/PY" % OWNER, "shares": {"users": [OTHER], "groups": [], "all": False}}
    read = json.loads(run_as(OTHER, _PY_READ, d.socket_path, got["ref"]))
    assert read == {"sum": float(np.arange(5000.0).sum()), "delete": "not_owner"}
    res = cli_as(OWNER, d, "unshare", "PY")
    assert res.returncode == 0 and "PY: private" in res.stdout, res
    assert cli_as(OTHER, d, "info", got["ref"]).returncode != 0
    res = cli_as(OWNER, d, "share", "PY", "--all")
    assert res.returncode == 0 and "every allowed user" in res.stdout, res
    listed = cli_as(OTHER, d, "ls")
    assert listed.returncode == 0 and got["ref"] in listed.stdout, listed
    res = cli_as(OTHER, d, "share", got["ref"], "--with", "nobody")
    assert res.returncode != 0 and "not_owner" in res.stderr, res
    res = cli_as(OTHER, d, "shutdown")
    assert res.returncode != 0 and "not_admin" in res.stderr, res


def set_acl(path, entries):
    """Sets `path`'s POSIX access ACL (Linux's system.posix_acl_access bytes) from (tag, perm, id)
    entries, tags as in linux/posix_acl.h; skips the test where the file system keeps none."""
    data = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, ident) for tag, perm, ident in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", data)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            pytest.skip("the file system of %s keeps no POSIX ACLs" % path)
        raise


USER_OBJ, USER, GROUP_OBJ, MASK, OTHER_ENTRY, NO_ID = 0x01, 0x02, 0x04, 0x10, 0x20, 0xffffffff


@pytest.mark.time_limit(60)
def test_a_posix_acl_decides_what_the_client_may_read_and_write(daemon_factory):
    """The mode bits alone would grant OWNER the first file and the directory, and deny it the
    second file: the ACLs say the opposite, and the kernel would follow them, so must the daemon."""
    d = strangers_daemon(daemon_factory)
    data = h.rng(4).standard_normal(5)
    denied, granted = os.path.join(d.workdir, "denied.npy"), os.path.join(d.workdir, "granted.npy")
    for path in (denied, granted):
        np.save(path, data)
    os.chmod(denied, 0o644)  # others r--, but OWNER is named with ---
    set_acl(denied, [(USER_OBJ, 6, NO_ID), (USER, 0, OWNER), (GROUP_OBJ, 4, NO_ID), (MASK, 4, NO_ID),
                     (OTHER_ENTRY, 4, NO_ID)])
    os.chmod(granted, 0o600)  # root's alone by its mode, but OWNER is named with r--
    set_acl(granted, [(USER_OBJ, 6, NO_ID), (USER, 4, OWNER), (GROUP_OBJ, 0, NO_ID), (MASK, 4, NO_ID),
                      (OTHER_ENTRY, 0, NO_ID)])
    assert os.stat(denied).st_mode & 0o777 == 0o644 and os.stat(granted).st_mode & 0o777 == 0o640
    closed = os.path.join(d.workdir, "closed")  # 0755, but OWNER may not search it
    os.mkdir(closed, 0o755)
    np.save(os.path.join(closed, "inside.npy"), data)
    set_acl(closed, [(USER_OBJ, 7, NO_ID), (USER, 0, OWNER), (GROUP_OBJ, 5, NO_ID), (MASK, 5, NO_ID),
                     (OTHER_ENTRY, 5, NO_ID)])
    shared = os.path.join(d.workdir, "shared")  # root's 0755, but OWNER may create files in it
    os.mkdir(shared, 0o755)
    set_acl(shared, [(USER_OBJ, 7, NO_ID), (USER, 7, OWNER), (GROUP_OBJ, 5, NO_ID), (MASK, 7, NO_ID),
                     (OTHER_ENTRY, 5, NO_ID)])
    reqs = [{"verb": "dataset.put", "name": "a", "file": denied},
            {"verb": "dataset.put", "name": "b", "file": os.path.join(closed, "inside.npy")},
            {"verb": "dataset.put", "name": "c", "file": granted},
            {"verb": "dataset.save", "name": "c", "file": os.path.join(closed, "new.npy")},
            {"verb": "dataset.save", "name": "c", "file": os.path.join(shared, "new.npy")}]
    replies = requests_as(OWNER, d, reqs)
    assert [outcome(r) for r in replies] == ["permission_denied"] * 2 + ["ok", "permission_denied", "ok"], replies
    assert np.array_equal(np.load(os.path.join(shared, "new.npy")), data)
    assert not os.path.exists(os.path.join(closed, "new.npy"))
    # the kernel agrees: OWNER itself can open exactly what the daemon let it use
    opened = run_as(OWNER, "import sys\nfor p in sys.argv[1:]:\n    try:\n        open(p, 'rb').close(); print('ok')\n"
                           "    except PermissionError:\n        print('denied')\n",
                    denied, os.path.join(closed, "inside.npy"), granted)
    assert opened.split() == ["denied", "denied", "ok"], opened
