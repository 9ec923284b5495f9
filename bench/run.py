#!/usr/bin/python3
"""Benchmarks side by side (issue #5): dispatch, input-size independence, the seed workloads,
memory and rbf scaling, .npy loads by layout (issue #19), each through a real shmpoold on a private instance and through the
baselines (NumPy/SciPy in one process, the seeds' multiprocessing code, joblib, sklearn,
dask.distributed) in the same run. Writes a JSON of every figure, then the report.

Usage: bench/run.py --build DIR [--tiny] [--repeat N] [--out docs/benchmarks.md] [--img docs/img]
"""
import argparse
import datetime
import json
import os
import sys
import tempfile
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # every baseline process: OpenBLAS with one thread
import numpy as np  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import history as hist  # noqa: E402
import pool_probes as pp  # noqa: E402
import npy_load  # noqa: E402
import report  # noqa: E402
import shmpool_side as sp  # noqa: E402
import spare_pipeline  # noqa: E402
import workloads as wl  # noqa: E402
from measure import fresh_pages, parallel_ceiling, summary, timed, wakeup_floor_us  # noqa: E402

KB, MB, GB = 1 << 10, 1 << 20, 1 << 30
FULL = {"rounds": 5000, "ranges": 500000, "chunks": [1, 10, 100, 1000, 10000], "pool_items": 2000000,
        "dask_rounds": 300, "dask_tasks": 2000, "input_sizes": [KB, 100 * MB, GB], "input_ranges": 200000,
        "pool_tasks": 2000, "pickle_bytes": GB, "pss_bytes": GB, "workloads": wl.FULL,
        "ceiling_rounds": {"compute": 20000, "memory": 10}, "pipeline_elems": 4 << 20, "npy_bytes": GB, "history": hist.FULL}
TINY = {"rounds": 200, "ranges": 2000, "chunks": [1, 100, 10000], "pool_items": 20000,
        "dask_rounds": 20, "dask_tasks": 100, "input_sizes": [KB, MB, 8 * MB], "input_ranges": 2000,
        "pool_tasks": 100, "pickle_bytes": 64 * MB, "pss_bytes": 8 * MB, "workloads": wl.TINY,
        "ceiling_rounds": {"compute": 200, "memory": 1}, "pipeline_elems": 1 << 14, "npy_bytes": 4 * MB, "history": hist.TINY}


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown")
    return {"cpu": model, "cores": os.cpu_count(), "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"), "load_before": os.getloadavg()}


def bench_dispatch(cfg, workdir, nproc, repeat):
    out = {"chunks": {}}
    with sp.daemon(workdir, nproc) as d:
        log("dispatch: shmpool")
        out["tiny_round_trip"] = sp.tiny_round_trip(d, cfg["rounds"], cfg["rounds"] // 10)
        out["ping_round_trip"] = sp.ping_round_trip(d, cfg["rounds"], cfg["rounds"] // 10)
        for chunk in cfg["chunks"]:
            out["chunks"][chunk] = {"shmpool": sp.per_range_us(d, "noop", chunk * cfg["ranges"], chunk, repeat)}
    log("dispatch: the machine's wake-up floor")
    out["wakeup_floor"] = wakeup_floor_us(cfg["rounds"], cfg["rounds"] // 10)
    log("dispatch: Pool")
    out["pool_round_trip"] = pp.pool_round_trip(nproc, cfg["rounds"], cfg["rounds"] // 10)
    for chunk in cfg["chunks"]:
        chunks = max(200, min(20000, cfg["pool_items"] // chunk))
        out["chunks"][chunk]["Pool.map"] = pp.pool_map_per_chunk(nproc, chunk, chunks, repeat)
    log("dispatch: dask")
    out["dask_round_trip"], out["dask_map"] = pp.dask_dispatch(nproc, cfg["dask_rounds"], cfg["dask_tasks"], repeat)
    return out


def bench_history(cfg, workdir, nproc):
    """ping, stats and tiny-job round trips on a fresh daemon beside ones with a long history
    (issue #17); one run: the daemons are timed in interleaved blocks, so they share the load."""
    log("history: fresh and filled daemons side by side")
    allowed = os.sched_getaffinity(0)
    hist.pin_to_one_cpu()  # a wake-up across CPUs costs more than what is measured here
    try:
        return hist.history(workdir, nproc, cfg["history"], 1)
    finally:
        os.sched_setaffinity(0, allowed)


def bench_input_size(cfg, workdir, nproc, repeat):
    out = {}
    for size in cfg["input_sizes"]:
        arr = np.ones(size // 8)
        row = {}
        with sp.daemon(workdir, nproc) as d:
            log(f"input size {size}: shmpool")
            sp.put(d, "x", arr)
            row["shmpool"] = sp.per_range_us(d, "noop_input", cfg["input_ranges"], 1, repeat, {"x": "x"})
        log(f"input size {size}: Pool")
        tasks = max(nproc, min(cfg["pool_tasks"], cfg["pickle_bytes"] // size))
        row["Pool, pickled argument"] = pp.pool_per_task_pickled(arr, nproc, tasks, repeat)
        row["Pool, fork-inherited"] = pp.pool_per_task_forked(arr, nproc, cfg["pool_tasks"], repeat)
        out[size] = row
        del arr
    return out


def run_shmpool_workloads(workdir, workers, items, repeat, extra_args=()):
    """{title: (summary, checksum)} of every workload through a daemon with `workers` workers."""
    out, warmed = {}, set()
    with sp.daemon(workdir, workers, extra_args) as d:
        for i, w in enumerate(items):
            names = {role: f"w{i}.{role}" for role in w.data}
            for role, arr in w.data.items():
                sp.put(d, names[role], arr)
            log(f"shmpool {workers}w: {w.title}")
            inputs = {k: names[v] for k, v in w.inputs.items()}
            out[w.title] = sp.job_walls(d, w.kernel, inputs, w.params, repeat, warmup=w.family not in warmed)
            warmed.add(w.family)
            for name in names.values():
                sp.delete(d, name)
    return out


def run_baselines(items, repeat):
    """{title: {baseline: (summary, checksum)}}; one warm-up per baseline and family."""
    out, warmed = {}, set()
    for w in items:
        out[w.title] = {}
        for name, fn in w.baselines.items():
            log(f"{name}: {w.title}")
            s, result = timed(fn, repeat, warmup=(w.family, name) not in warmed)
            warmed.add((w.family, name))
            out[w.title][name] = (s, float(np.sum(result, dtype=np.float64)))
            del result
    return out


def bench_ceilings(cfg, nproc, repeat):
    """The machine's own parallel efficiency with nproc processes, beside which the workloads'
    efficiency is read (bench/analysis.md)."""
    out = {}
    for probe, rounds in cfg["ceiling_rounds"].items():
        log(f"machine ceiling: {probe}")
        out[probe] = parallel_ceiling(probe, nproc, repeat, rounds)
    return out


def bench_workloads(cfg, workdir, nproc, repeat):
    items = wl.scaling_workloads(cfg["workloads"], nproc) + wl.seed_workloads(cfg["workloads"], nproc)
    shm = {f"shmpool {w}w": run_shmpool_workloads(workdir, w, items, repeat) for w in sorted({1, nproc})}
    # Each output is deleted after its run unseen, so the next run writes into the spare segment
    # it left (docs/architecture.md); this row prices an output whose pages are all fresh: a
    # one-off job, or any job after one whose output a client mapped (never reused, issue #16).
    with_output = [w for w in items if w.out_bytes and len(w.baselines) > 1]
    shm[f"shmpool {nproc}w, fresh output pages"] = run_shmpool_workloads(workdir, nproc, with_output, repeat,
                                                                         ["--spare-bytes", "0"])
    base = run_baselines(items, repeat)
    out = {}
    for w in items:
        ref = next(iter(base[w.title].values()))[1]
        rows = {k: v[w.title] for k, v in shm.items() if w.title in v}
        rows.update(base[w.title])
        out[w.title] = {"family": w.family, "reference_checksum": ref,
                        "times": {k: v[0] for k, v in rows.items()},
                        "checksums_agree": {k: bool(abs(v[1] - ref) <= 1e-9 * abs(ref)) for k, v in rows.items()}}
        if w.out_bytes and len(w.baselines) > 1:
            log(f"fresh pages: {w.title}")
            out[w.title]["fresh_pages"] = {"bytes": w.out_bytes, "times": fresh_pages(w.out_bytes, repeat)}
    return out


def bench_spares(cfg, workdir, nproc, repeat):
    log("spares: a pipeline's intermediates unseen, then mapped by the client")
    return spare_pipeline.bench(workdir, nproc, cfg["pipeline_elems"], repeat)


def bench_memory(cfg, workdir, nproc, repeat):
    n = cfg["pss_bytes"] // 8
    out = {}
    with sp.daemon(workdir, nproc) as d:
        log("memory: shmpool")
        sp.put(d, "big", np.ones(n))
        out["shmpool (daemon + workers)"] = summary(sp.pss_during_reduce(d, "big", repeat))
    log("memory: Pool")
    out["Pool, pickled"] = summary(pp.pss_pickled(n, nproc, repeat))
    out["Pool, fork-inherited"] = summary(pp.pss_forked(n, nproc, repeat))
    out["Pool, multiprocessing.shared_memory"] = summary(pp.pss_shared_memory(n, nproc, repeat))
    return {"dataset_bytes": n * 8, "pss": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="build directory with shmpoold")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke test of the whole run")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(BENCH), "docs", "benchmarks.md"))
    ap.add_argument("--img", default=None, help="plot directory (default: img/ beside --out)")
    a = ap.parse_args()
    sp.h.SHMPOOLD = os.path.join(os.path.abspath(a.build), "shmpoold")
    cfg, nproc = (TINY if a.tiny else FULL), os.cpu_count()
    results = {"machine": machine(), "tiny": a.tiny, "repeat": a.repeat, "workers": nproc}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shmpool-bench.") as workdir:
        results["dispatch"] = bench_dispatch(cfg, workdir, nproc, a.repeat)
        results["history"] = bench_history(cfg, workdir, nproc)
        results["input_size"] = bench_input_size(cfg, workdir, nproc, a.repeat)
        results["ceilings"] = bench_ceilings(cfg, nproc, a.repeat)
        results["workloads"] = bench_workloads(cfg, workdir, nproc, a.repeat)
        results["spares"] = bench_spares(cfg, workdir, nproc, a.repeat)
        results["memory"] = bench_memory(cfg, workdir, nproc, a.repeat)
        log(".npy loads by layout")
        results["npy_load"] = npy_load.bench_npy_load(cfg["npy_bytes"], workdir, nproc, a.repeat)
    results["machine"]["load_after"] = os.getloadavg()
    results["machine"]["run_s"] = time.perf_counter() - t0
    img = a.img or os.path.join(os.path.dirname(os.path.abspath(a.out)), "img")
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(results, f, indent=1)
    report.write(results, a.out, img)
    log(f"wrote {a.out} and plots in {img} ({results['machine']['run_s']:.0f} s)")
    bad = [f"{t}: {k}" for t, r in results["workloads"].items() for k, ok in r["checksums_agree"].items() if not ok]
    bad += [f"pipeline, {k}" for k, v in results["spares"]["cases"].items() if not v["exact"]]
    if bad:
        sys.exit("bench: results disagree with the reference: " + "; ".join(bad))


if __name__ == "__main__":
    main()
