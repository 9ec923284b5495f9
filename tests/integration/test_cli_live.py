"""Live CLI and observability against a real daemon: progress events on the socket (rate
limit, coalescing for a slow reader), `shmpool run`'s progress bar on a terminal only,
`top --once`, `stats` and its Prometheus text (parsed strictly), bash completion generated
from the command table, and an example in every command's --help."""

import json
import math
import os
import re
import signal
import socket
import subprocess
import time

import numpy as np

import shmpool_harness as h

SLOW_JOB = {"rows": 40, "ms": 50}  # 40 ranges of 50 ms: ~1 s on 2 workers


def progress_events(conn, rid):
    return [e for e in conn.events if e["id"] == rid and e["event"] == "progress"]


def test_progress_events_precede_the_reply_and_are_rate_limited(daemon):
    c = daemon.conn()
    rid = c.request("job.submit", kernel="sleep", params=SLOW_JOB, chunk=1, wait=True, progress=True)
    job = h.expect_ok(c.recv_reply(rid, h.JOB_TIMEOUT))
    h.check_job_done(job)
    events = progress_events(c, rid)
    assert len(events) >= 2, events
    for e in events:
        assert "ok" not in e and e["job"] == job["job"] and e["ranges"] == 40, e
    done = [e["ranges_done"] for e in events]
    assert done == sorted(done), done  # never goes back
    assert events[-1]["state"] == "done" and events[-1]["ranges_done"] == 40, events[-1]
    # at most one every 100 ms, plus the first and the last
    assert len(events) <= job["run_s"] / 0.1 + job["queued_s"] / 0.1 + 3, (len(events), job)


def test_progress_on_job_wait_and_a_huge_job_does_not_flood(daemon):
    c = daemon.conn()
    job = h.expect_ok(h.submit(c, "noop", params={"rows": 100000}, chunk=1, wait=False))
    rid = c.request("job.wait", job=job["job"], progress=True)
    done = h.expect_ok(c.recv_reply(rid, h.JOB_TIMEOUT))
    h.check_job_done(done)
    events = progress_events(c, rid)
    assert events and events[-1]["ranges_done"] == 100000, events[-1:]
    assert len(events) <= (done["run_s"] + done["queued_s"]) / 0.1 + 3, (len(events), done)


def test_progress_needs_wait(daemon):
    c = daemon.conn()
    h.expect_error(c.call("job.submit", kernel="noop", params={"rows": 4}, progress=True), "bad_request")
    assert c.ok("stats")["jobs"]["submitted"] == 0  # refused before anything was queued


def test_slow_reader_gets_coalesced_progress(daemon):
    """A reader that stops reading while a job runs is sent the latest progress only: the
    daemon replaces its unsent event instead of queueing one per tick."""
    c = daemon.conn()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    big = h.rng(41).standard_normal(120000)  # ~2.5 MB of JSON: more than the socket buffers hold
    h.put_inline(c, "B", big[:10])
    shm = h.expect_ok(h.put_shm(c, "BIG", big))
    rid = c.request("job.submit", kernel="sleep", params={"rows": 40, "ms": 60}, chunk=1, wait=True, progress=True)
    gid = c.request("dataset.get", name="BIG")  # its reply stalls the connection
    time.sleep(2.0)  # the job runs to its end meanwhile; nothing is read
    got = h.expect_ok(c.recv_reply(gid))
    assert np.array_equal(np.array(got["data"]), big), shm
    job = h.expect_ok(c.recv_reply(rid, h.JOB_TIMEOUT))
    events = progress_events(c, rid)
    assert 2 <= len(events) <= 4, events  # the first, maybe one written early, the coalesced last
    assert events[-1]["state"] == "done" and events[-1]["ranges_done"] == 40, events[-1]
    assert job["run_s"] > 1.0, job  # ~12 ticks happened while the connection was stalled


def test_run_draws_a_progress_bar_on_a_terminal_only(daemon):
    args = ["run", "sleep", "--param", "rows=24", "--param", "ms=40", "--chunk", "1"]
    rc, out, err = h.run_cli_tty_stderr(args, socket_path=daemon.socket_path)
    assert rc == 0, (out, err)
    assert re.fullmatch(r"job \d+ sleep done: 24 ranges in [0-9.]+ s\n", out), out
    text = err.decode("utf-8", "replace")
    frames = [f for f in re.split(r"[\r\n]+", text) if "ranges/s" in f]
    assert frames, text
    assert re.search(r"\[#{30}\] 24/24 100\.0% \d+ ranges/s ETA", text), text
    for f in frames:
        assert re.search(r"job \d+ \[[#-]{30}\] \d+/24 +\d+\.\d% (\d+|-) ranges/s ETA", f), f
    assert text.endswith("\r\x1b[K"), repr(text[-40:])  # the bar is erased before the result

    res = h.run_cli(args, socket_path=daemon.socket_path)  # stderr a pipe: nothing extra
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert re.fullmatch(r"job \d+ sleep done: 24 ranges in [0-9.]+ s\n", res.stdout), res.stdout

    rc, out, err = h.run_cli_tty_stderr(["--json"] + args, socket_path=daemon.socket_path)
    assert rc == 0
    reply = json.loads(out)
    assert reply["ok"] is True and reply["result"]["state"] == "done" and reply["result"]["ranges_done"] == 24


def test_top_once_shows_workers_jobs_and_throughput(daemon):
    c = daemon.conn()
    job = h.expect_ok(h.submit(c, "sleep", params={"rows": 60, "ms": 50}, chunk=2, wait=False))
    assert h.wait_until(lambda: c.ok("job.status", job=job["job"])["state"] == "running", 10)
    res = h.run_cli(["--json", "top", "--once", "--interval", "300"], socket_path=daemon.socket_path)
    assert res.returncode == 0, res.stderr
    frame = json.loads(res.stdout)
    pids = sorted(w["pid"] for w in daemon.workers())
    assert sorted(w["pid"] for w in frame["workers"]) == pids
    assert frame["ranges_per_s"] is not None and frame["ranges_per_s"] > 0, frame
    busy = [w for w in frame["workers"] if w["job"] == job["job"]]
    assert busy, frame["workers"]
    for w in busy:  # the range the scheduler handed out: one of the job's chunks
        begin, end = w["range"]
        assert begin % 2 == 0 and end == begin + 2 and end <= 60, w
    assert [j["job"] for j in frame["stats"]["active_jobs"]] == [job["job"]]

    res = h.run_cli(["top", "--once", "--interval", "100"], socket_path=daemon.socket_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert re.match(r"shmpoold up [0-9.]+ s \| workers 2/2, 0 restarts \| jobs \d+ running.* \| [0-9.]+ ranges/s",
                    lines[0]), lines[0]
    assert any(l.split()[:3] == ["SLOT", "PID", "STATE"] for l in lines), res.stdout
    for pid in pids:
        assert str(pid) in res.stdout
    assert any(l.split()[:3] == [str(job["job"]), "sleep", "running"] for l in lines), res.stdout
    c.ok("job.cancel", job=job["job"])


# --------------------------------------------------------------------------- stats

LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>%s(?:,%s)*)?\})? "
                    r"(?P<value>[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf)|NaN)$" % (LABEL, LABEL))


def parse_prometheus(text):
    """{family: {"type", "help", "samples": [(name, labels dict, value)]}}; asserts the grammar."""
    families, current = {}, None
    assert text.endswith("\n"), "the exposition ends with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in families, "family %s described twice" % name
            families[name] = {"help": line.split(" ", 3)[3], "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == current and families[name]["type"] is None, line
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            families[name]["type"] = kind
        else:
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            name = m.group("name")
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group("labels") or ""))
            base = re.sub(r"_(bucket|sum|count)$", "", name) if families[current]["type"] == "histogram" else name
            assert base == current, "sample %s outside its family %s" % (name, current)
            families[current]["samples"].append((name, labels, float(m.group("value"))))
    for name, fam in families.items():
        assert fam["type"] and fam["samples"], name
        if fam["type"] == "counter":
            assert name.endswith("_total"), name
            assert all(v >= 0 for _, _, v in fam["samples"]), fam
    return families


def check_histogram(fam, name):
    buckets = [(l["le"], v) for n, l, v in fam["samples"] if n == name + "_bucket"]
    bounds = [math.inf if le == "+Inf" else float(le) for le, _ in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == math.inf, buckets
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are cumulative: %r" % buckets
    count = [v for n, _, v in fam["samples"] if n == name + "_count"]
    total = [v for n, _, v in fam["samples"] if n == name + "_sum"]
    assert len(count) == 1 and len(total) == 1 and counts[-1] == count[0], fam
    return buckets, count[0], total[0]


def test_stats_counts_and_prometheus_text(daemon):
    d = daemon
    c = d.conn()
    h.put_inline(c, "X", np.arange(12.0).reshape(4, 3))
    for _ in range(3):
        h.run_job(c, "noop", params={"rows": 10}, chunk=1)
    slow = h.expect_ok(h.submit(c, "sleep", params={"rows": 50, "ms": 100}, chunk=1, wait=False))
    c.ok("job.cancel", job=slow["job"])
    st = c.ok("stats")
    assert st["jobs"]["submitted"] == 4 and st["jobs"]["done"] == 3 and st["jobs"]["cancelled"] == 1, st
    assert st["ranges"]["run"] >= 30 and st["datasets"] == {"count": 1, "bytes": 96, "spares": 0, "spare_bytes": 0,
                                                       "spares_reused": 0}, st
    assert st["workers"]["alive"] == 2 and st["job_latency_s"]["count"] == 4, st
    pids = [w["pid"] for w in d.workers()]
    os.kill(pids[0], signal.SIGKILL)  # the pool replaces it: one restart
    assert h.wait_until(lambda: c.ok("stats")["workers"]["restarts"] == 1 and
                        c.ok("stats")["workers"]["alive"] == 2, 20)

    res = h.run_cli(["stats", "--prometheus"], socket_path=d.socket_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    fams = parse_prometheus(res.stdout)
    value = {(n, tuple(sorted(l.items()))): v for f in fams.values() for n, l, v in f["samples"]}
    assert value[("shmpool_jobs_submitted_total", ())] == 4
    assert value[("shmpool_jobs_ended_total", (("state", "done"),))] == 3
    assert value[("shmpool_jobs_ended_total", (("state", "cancelled"),))] == 1
    assert value[("shmpool_worker_restarts_total", ())] == 1
    assert value[("shmpool_dataset_bytes", ())] == 96 and value[("shmpool_datasets", ())] == 1
    assert value[("shmpool_spare_bytes", ())] == 0 and value[("shmpool_spares_reused_total", ())] == 0
    assert fams["shmpool_job_latency_seconds"]["type"] == "histogram"
    buckets, count, total = check_histogram(fams["shmpool_job_latency_seconds"], "shmpool_job_latency_seconds")
    assert count == 4 and total > 0 and len(buckets) == 13, buckets

    res = h.run_cli(["stats"], socket_path=d.socket_path)
    assert res.returncode == 0
    assert "4 submitted, 3 done, 0 failed, 1 cancelled" in res.stdout and "1 restarts" in res.stdout, res.stdout


# --------------------------------------------------------------------------- completion and help

def commands_from_help():
    res = h.run_cli(["--help"])
    assert res.returncode == 0
    section = res.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


def complete(script, words):
    """COMPREPLY of the generated completion for the command line `words` (last = being typed)."""
    program = script + "\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_shmpool\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" % (
        " ".join("'%s'" % w for w in words), len(words) - 1)
    res = subprocess.run(["bash", "--norc", "--noprofile"], input=program, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    return set(res.stdout.split())


def test_bash_completion_knows_every_command_and_option():
    res = h.run_cli(["completion", "bash"])
    assert res.returncode == 0 and res.stderr == "", res.stderr
    script = res.stdout
    commands = commands_from_help()
    assert {"run", "top", "stats", "completion", "put"} <= set(commands), commands
    assert complete(script, ["shmpool", ""]) >= set(commands) | {"--instance", "--socket", "--json"}
    assert complete(script, ["shmpool", "--json", "st"]) == {"stats", "status"}
    for command in commands:
        help_text = h.run_cli([command, "--help"]).stdout
        options = set(re.findall(r"^  (?:-\w \[ )?(--[a-z][a-z-]*)", help_text, re.M))
        assert options, help_text
        offered = complete(script, ["shmpool", command, "--"])
        assert options <= offered, (command, options - offered)
        assert {"--json", "--instance", "--socket"} <= offered, command
    res = h.run_cli(["completion", "zsh"])
    assert res.returncode == 2 and "bash" in res.stderr


def test_every_command_help_shows_an_example():
    for command in commands_from_help():
        res = h.run_cli([command, "--help"])
        assert res.returncode == 0, (command, res.stderr)
        example = re.search(r"^examples?:\n((?:  shmpool .*\n|  source .*\n)+)", res.stdout, re.M)
        assert example, (command, res.stdout)
        assert command in example.group(1), (command, example.group(1))
