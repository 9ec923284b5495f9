"""The installed shmpool: `cmake --install` into a temp prefix gives the binaries, units,
config, headers and the CMake package; examples/client builds against it with
find_package(shmpool) and, run against the installed shmpoold, prints distances that match
SciPy. CPack's .deb holds the same files, declares its dependencies, and its shmpoold runs."""

import grp
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import shmpool_harness as h

BUILD_DIR = os.environ.get("SHMPOOL_BUILD_DIR", os.path.dirname(h.SHMPOOLD))
TOOL_TIMEOUT = 600


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL, **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(argv), r.returncode, r.stdout[-4000:],
                                                           r.stderr[-4000:])
    return r


class InstalledDaemon(h.Daemon):
    """A daemon started from an installed tree, with its installed config file."""

    def __init__(self, workdir, binary, config, **kw):
        super().__init__(workdir, **kw)
        self.binary, self.config = binary, config

    def argv(self):
        return [self.binary, "--config", self.config] + super().argv()[1:]


@pytest.fixture
def shmpool_group():
    """The group the installed config allows (allow-groups = shmpool), as the package's postinst
    creates it; made here when missing (as root) and removed afterwards."""
    try:
        grp.getgrnam("shmpool")
        yield
        return
    except KeyError:
        pass
    if os.geteuid() != 0:
        pytest.skip("the installed config allows group shmpool, which is missing (needs root to add it)")
    run(["groupadd", "--system", "shmpool"])
    try:
        yield
    finally:
        run(["groupdel", "shmpool"])


PACKAGED_CONF_LINE = "\nallow-groups = shmpool\n"


def start_installed(daemon_factory, workdir, binary, config, label):
    d = InstalledDaemon(workdir, binary, config, workers=2, label=label)
    d.expected_rc = 0
    daemon_factory.daemons.append(d)
    return d.start()


def example_inputs(n, m, dims):
    """The example's documented inputs: X[i][k] = sin(i*d + k), Y[j][k] = cos(j*d + k)."""
    return (np.sin(np.arange(n * dims, dtype=np.float64)).reshape(n, dims),
            np.cos(np.arange(m * dims, dtype=np.float64)).reshape(m, dims))


INSTALLED = [
    "bin/shmpoold", "bin/shmpool", "lib/systemd/system/shmpoold.service", "lib/systemd/system/shmpoold.socket",
    "etc/shmpool/shmpoold.conf", "include/shmpool/kernel.h", "include/shmpool/client/client.h",
    "include/shmpool/client/requests.h", "lib/cmake/shmpool/shmpoolConfig.cmake",
    "lib/cmake/shmpool/shmpoolConfigVersion.cmake", "lib/sysusers.d/shmpool.conf",
]


@pytest.mark.time_limit(900)
def test_install_then_build_and_run_the_example(daemon_factory, workdir, shmpool_group):
    prefix = os.path.join(workdir, "prefix")
    run(["cmake", "--install", BUILD_DIR, "--prefix", prefix])
    for rel in INSTALLED:
        assert os.path.exists(os.path.join(prefix, rel)), "cmake --install did not install %s" % rel
    service = open(os.path.join(prefix, "lib/systemd/system/shmpoold.service")).read()
    assert "ExecStart=%s/bin/shmpoold --foreground --config %s/etc/shmpool/shmpoold.conf\n" % (prefix, prefix) \
        in service, service
    assert "\nUser=shmpool\n" in service, service
    assert PACKAGED_CONF_LINE in open(os.path.join(prefix, "etc/shmpool/shmpoold.conf")).read()

    example_build = os.path.join(workdir, "example-build")
    run(["cmake", "-S", os.path.join(h.REPO, "examples", "client"), "-B", example_build,
         "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_BUILD_TYPE=Release"])
    run(["cmake", "--build", example_build, "-j2"])
    example = os.path.join(example_build, "shmpool_example_client")

    d = start_installed(daemon_factory, workdir, os.path.join(prefix, "bin", "shmpoold"),
                        os.path.join(prefix, "etc", "shmpool", "shmpoold.conf"), "installed")
    n, m, dims = 7, 5, 3
    out = json.loads(run([example, "--socket", d.socket_path, str(n), str(m), str(dims)]).stdout)
    assert out["shape"] == [n, m], out
    X, Y = example_inputs(n, m, dims)
    h.assert_close(np.array(out["distances"]), h.ref_euclidean(X, Y), h.EUCLID_RTOL, "example's distances")
    with d.conn() as c:
        assert c.ok("dataset.list")["datasets"] == [], "the example left datasets behind"


@pytest.mark.time_limit(900)
def test_deb_package_contents_and_its_daemon_runs(daemon_factory, workdir, shmpool_group):
    if shutil.which("cpack") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("cpack or dpkg-deb missing (Debian packages cmake, dpkg)")
    out_dir = os.path.join(workdir, "pkg")
    run(["cpack", "-G", "DEB", "-B", out_dir], cwd=BUILD_DIR)
    debs = [f for f in os.listdir(out_dir) if f.endswith(".deb")]
    assert len(debs) == 1, os.listdir(out_dir)
    deb = os.path.join(out_dir, debs[0])

    files = {line.split()[-1].lstrip(".") for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines()}
    for rel in INSTALLED:
        path = "/etc/shmpool/shmpoold.conf" if rel.startswith("etc/") else "/usr/" + rel
        assert path in files, "%s not in the package:\n%s" % (path, "\n".join(sorted(files)))
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    for dep in ("libsystemd0", "libboost-program-options", "libc6"):
        assert dep in depends, "Depends lacks %s: %s" % (dep, depends)
    control = os.path.join(workdir, "control")
    run(["dpkg-deb", "-e", deb, control])
    assert open(os.path.join(control, "conffiles")).read().split() == ["/etc/shmpool/shmpoold.conf"]
    postinst = open(os.path.join(control, "postinst")).read()
    assert "systemd-sysusers shmpool.conf" in postinst and os.access(os.path.join(control, "postinst"), os.X_OK)

    root = os.path.join(workdir, "root")
    run(["dpkg-deb", "-x", deb, root])
    unit = open(os.path.join(root, "usr/lib/systemd/system/shmpoold.service")).read()
    assert "ExecStart=/usr/bin/shmpoold --foreground --config /etc/shmpool/shmpoold.conf\n" in unit, unit
    binary, config = os.path.join(root, "usr/bin/shmpoold"), os.path.join(root, "etc/shmpool/shmpoold.conf")
    run([binary, "--check-config", config])
    d = start_installed(daemon_factory, workdir, binary, config, "deb")
    h.still_serves(d)
