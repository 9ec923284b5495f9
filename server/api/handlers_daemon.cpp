// Handlers of the daemon-wide verbs: ping, workers, stats, kernels, shutdown.
// They only read state the loop already has, and counters, never a scan of the job history.
#include <unistd.h>

#include "server/daemon.h"
#include "server/api/router.h"
#include "worker/kernels/simd/path.h"

namespace shmpool {

void handle_ping(const Call& c) {
    c.ok({{"pong", true}, {"version", SHMPOOL_VERSION}, {"instance", c.daemon->options().instance}, {"pid", getpid()}});
}

void handle_workers(const Call& c) { c.ok({{"workers", c.daemon->pool().describe()}}); }

namespace {

nlohmann::json job_counts(const Scheduler& scheduler) {
    const SchedulerMetrics& m = scheduler.metrics();
    const JobIndex& now = scheduler.index();
    return {{"submitted", m.jobs_submitted},
            {"done", m.jobs_done},
            {"failed", m.jobs_failed},
            {"cancelled", m.jobs_cancelled},
            {"timed_out", m.jobs_timed_out},
            {"running", now.count(JobState::running)},
            {"queued", now.count(JobState::queued)},
            {"waiting", now.count(JobState::waiting)}};
}

nlohmann::json dataset_totals(const DatasetStore& store) {
    const SpareSegments* spares = store.spares();
    return {{"count", store.count()},
            {"bytes", store.total_bytes()},
            {"spares", spares ? spares->count() : 0},
            {"spare_bytes", spares ? spares->held_bytes() : 0},
            {"spares_reused", spares ? spares->reused() : 0}};
}

nlohmann::json worker_totals(const WorkerPool& pool, const Scheduler& scheduler) {
    nlohmann::json workers = pool.describe();
    uint64_t restarts = 0;
    for (const auto& w : workers) restarts += w["restarts"].get<uint64_t>();
    return {{"count", workers.size()},
            {"alive", pool.alive()},
            {"restarts", restarts},
            {"deaths", scheduler.worker_deaths()}};
}

// Compact descriptions of the jobs that have not ended, for `shmpool top`: a walk of those
// jobs only, never of the ended ones the table keeps; only the client's own, unless it is an
// admin (others' kernels and progress are theirs).
nlohmann::json active_jobs(const Call& c) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& kv : c.daemon->scheduler().index().unended()) {
        const Job* job = kv.second;
        if (!c.access().may_follow_job(c.peer(), job->owner_uid)) continue;
        nlohmann::json d = job->describe();
        list.push_back({{"job", d["job"]},
                        {"kernel", d["kernel"]},
                        {"state", d["state"]},
                        {"ranges_done", d["ranges_done"]},
                        {"ranges", d["ranges"]},
                        {"run_s", d["run_s"]}});
    }
    return list;
}

}  // namespace

void handle_stats(const Call& c) {
    Scheduler& scheduler = c.daemon->scheduler();
    const SchedulerMetrics& m = scheduler.metrics();
    c.ok({{"uptime_s", std::chrono::duration<double>(SchedulerMetrics::Clock::now() - m.started).count()},
          {"jobs", job_counts(scheduler)},
          {"ranges", {{"run", m.ranges_run}, {"requeued", m.ranges_requeued}, {"duplicates", m.duplicate_completions}}},
          {"datasets", dataset_totals(c.daemon->store())},
          {"workers", worker_totals(c.daemon->pool(), scheduler)},
          {"job_latency_s", m.job_latency_s.to_json()},
          {"active_jobs", active_jobs(c)}});
}

void handle_kernels(const Call& c) {
    nlohmann::json list = nlohmann::json::array();
    for (const Kernel* k : all_kernels()) {
        if (k->name().starts_with('_')) continue;  // the daemon's own I/O kernels
        if (k->test_only() && !c.daemon->options().test_kernels) continue;
        nlohmann::json entry = {{"name", k->name()},
                                {"roles", k->roles()},
                                {"params", k->describe_params()},
                                {"description", k->description()}};
        if (kernels::kernel_dispatches_simd(k->name())) entry["simd"] = kernels::path_name(kernels::simd_path());
        list.push_back(std::move(entry));
    }
    c.ok({{"kernels", list}, {"simd", kernels::simd_description()}});
}

void handle_shutdown(const Call& c) {
    c.ok({{"stopping", true}});
    c.daemon->begin_shutdown("shutdown requested by a client");
}

}  // namespace shmpool
