"""Fixtures for shmpool integration tests.

`daemon`: a running shmpoold (2 workers unless parametrised indirectly with an int or a dict of
Daemon arguments) in a private temp dir and instance. At teardown it is stopped with SIGTERM,
must exit 0, and nothing of its instance may remain (segments, socket, workers, zombies).
`daemon_factory`: makes more daemons (same teardown for each), e.g. on the same instance.
Every test also runs under a wall-clock alarm (marker `time_limit(seconds)`, default 300 s).
"""

import signal

import pytest

import shmpool_harness as h

DEFAULT_TIME_LIMIT = 300


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): fail the test if its body runs longer")
    h.make_subreaper()


class TimeLimitExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_limit(request):
    marker = request.node.get_closest_marker("time_limit")
    seconds = marker.args[0] if marker else DEFAULT_TIME_LIMIT

    def on_alarm(signum, frame):
        raise TimeLimitExceeded("test still running after %d s" % seconds)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def workdir():
    path = h.mkworkdir()
    yield path
    h.rmworkdir(path)


class DaemonFactory:
    def __init__(self, workdir):
        self.workdir = workdir
        self.daemons = []

    def new(self, workers=2, start=True, **kw):
        kw.setdefault("label", "d%d" % len(self.daemons))
        d = h.Daemon(self.workdir, workers=workers, **kw)
        d.expected_rc = 0
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def teardown(self):
        # stop every daemon first, then judge: a check or cleanup of one instance must not run
        # while another daemon of the same instance is still up
        problems = []
        for d in reversed(self.daemons):
            if d.proc is None:
                continue
            try:
                rc = d.stop()
            except AssertionError as e:
                problems.append(str(e))
                rc = d.returncode
            if not d.killed and d.expected_rc is not None and rc != d.expected_rc:
                problems.append("shmpoold %s exited with %r after SIGTERM, expected %r\n%s"
                                % (d.instance, rc, d.expected_rc, d.stderr_tail()))
        for d in reversed(self.daemons):
            if d.proc is None:
                continue
            leaks = h.find_leaks(d, grace=h.DEATH_GRACE if d.killed else 0.0)
            if leaks:
                problems.append("leaks of instance %s:\n  %s\n%s" % (d.instance, "\n  ".join(leaks), d.stderr_tail()))
        for d in reversed(self.daemons):
            if d.proc is not None:
                h.cleanup_instance(d)
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def daemon_factory(request, workdir):
    f = DaemonFactory(workdir)
    request.node._shmpool_daemons = f.daemons
    yield f
    f.teardown()


@pytest.fixture
def daemon(request, daemon_factory):
    param = getattr(request, "param", 2)
    kw = dict(param) if isinstance(param, dict) else {"workers": param}
    return daemon_factory.new(**kw)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for d in getattr(item, "_shmpool_daemons", []):
            report.sections.append(("shmpoold %s stderr (%s)" % (d.instance, report.when), d.stderr_text()[-20000:]))
