"""shmpoold's config file against the real binary: the file's values apply, flags override
them, --check-config prints the effective settings, and bad files stop it (exit 2) naming
the line, leaving nothing behind."""

import os
import subprocess

import pytest

import shmpool_harness as h

EXAMPLE_CONFIG = os.path.join(h.REPO, "config", "shmpoold.conf")


def write_config(workdir, text, name="shmpoold.conf"):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def shmpoold(*args, timeout=30):
    return subprocess.run([h.SHMPOOLD] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def settings_of(stdout):
    """{key: value} of --check-config's "key = value" lines (comments skipped)."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, sep, value = line.partition(" = ")
        assert sep, "not a 'key = value' line: %r" % line
        assert key not in out, "key printed twice: %r" % key
        out[key] = value
    return out


def test_file_values_apply_and_flags_override_them(daemon_factory, workdir):
    conf = write_config(workdir, "# from the file\nworkers = 3\nmax-line = 4096\n")
    d = daemon_factory.new(workers=2, extra_args=["--config", conf])  # the harness passes --workers 2
    assert len(d.workers()) == 2, "the --workers flag must override the file's workers = 3"
    with d.conn() as c:
        c.send_raw(b'{"id": 1, "verb": "ping", "pad": "' + b"x" * 5000 + b'"}\n')
        h.expect_error(c.recv_any(), "line_too_long", "a 5000-byte line with the file's max-line = 4096")
    with d.conn() as c:
        assert c.ok("ping", pad="x" * 3000)["pong"] is True


def test_check_config_prints_the_effective_settings(workdir):
    conf = write_config(workdir, "workers = 3\nmax-line = 4096\nshutdown-timeout = 2.5\nlog-level = warn\n")
    r = shmpoold("--check-config", conf, "--workers", "5", "--cancel-grace", "0.25")
    assert r.returncode == 0, r.stderr
    got = settings_of(r.stdout)
    assert got["workers"] == "5"  # flag over file
    assert got["max-line"] == "4096"
    assert got["shutdown-timeout"] == "2.5"
    assert got["log-level"] == "warn"
    assert got["cancel-grace"] == "0.25"
    assert got["instance"] == "default"  # untouched defaults are printed too
    again = write_config(workdir, r.stdout, "again.conf")  # the output is itself a valid file
    r2 = shmpoold("--check-config", again)
    assert r2.returncode == 0, r2.stderr
    assert settings_of(r2.stdout) == got


def test_the_shipped_example_documents_every_key_with_its_default():
    r = shmpoold("--check-config", EXAMPLE_CONFIG)
    assert r.returncode == 0, r.stderr
    with open(EXAMPLE_CONFIG) as f:
        example = f.read().splitlines()
    for key, value in settings_of(r.stdout).items():
        expected = ("# %s = %s" % (key, value)).rstrip()
        assert expected in example, "config/shmpoold.conf lacks the line %r" % expected


@pytest.mark.parametrize("text,line,words", [
    ("workers = 2\n\n# comment\nwrkers = 3\n", 4, ["wrkers"]),
    ("workers = 2\nworkers = 3\n", 2, ["workers"]),
    ("max-attempts = 2\nworkers = lots\n", 2, ["workers", "lots"]),
    ("max-attempts = 2\nworkers = -4\n", 2, ["workers", "-4"]),
    ("log-level = loud\n", 1, ["log-level", "loud"]),
    ("cancel-grace = soon\n", 1, ["cancel-grace", "soon"]),
    ("instance = ../etc\n", 1, ["instance"]),
    ("workers = 2\njust words\n", 2, ["just words"]),
], ids=["unknown_key", "repeated_key", "not_a_number", "negative", "bad_level", "bad_seconds",
        "bad_instance", "not_key_value"])
def test_a_bad_file_is_refused_naming_the_line(workdir, text, line, words):
    conf = write_config(workdir, text)
    for args in (["--check-config", conf], ["--config", conf, "--foreground", "--socket",
                                             os.path.join(workdir, "never.sock")]):
        r = shmpoold(*args)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert r.stdout == "", r.stdout
        assert "%s:%d: " % (conf, line) in r.stderr, r.stderr
        for w in words:
            assert w in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(workdir, "never.sock"))


def test_a_bad_flag_is_blamed_on_the_command_line(workdir):
    conf = write_config(workdir, "workers = 2\n")
    r = shmpoold("--check-config", conf, "--workers", "9999")
    assert r.returncode == 2 and "command line: " in r.stderr and "workers" in r.stderr, r.stderr
    r = shmpoold("--check-config", os.path.join(workdir, "missing.conf"))
    assert r.returncode == 2 and "missing.conf" in r.stderr, r.stderr
