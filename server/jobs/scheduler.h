// Turns jobs into ranges and ranges into completions: plans and validates submitted jobs,
// hands ranges to the workers' rings, accounts each range once, requeues a dead worker's.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "common/control.h"
#include "server/datasets/dataset_store.h"
#include "server/jobs/job.h"
#include "server/jobs/job_index.h"
#include "server/jobs/metrics.h"
#include "worker/job_request.h"

namespace shmpool {

struct SchedulerLimits {
    uint32_t max_attempts = 3;          // deaths of a worker running a range before its job fails
    uint64_t max_ranges = 1ull << 24;   // ranges per job
    uint64_t max_dataset_bytes = 1ull << 40;
    uint64_t max_output_bytes = 0;      // bytes of one job's output (0: only max_dataset_bytes)
    size_t finished_jobs_kept = 10000;
    bool test_kernels = false;          // accept kernels marked test_only
};

class Scheduler {
public:
    Scheduler(ctl::Header* control, uint32_t n_workers, DatasetStore& store, SchedulerLimits limits);

    // Validates and plans `spec`, creates its output, queues it. Throws Error.
    Job& submit(const JobSpec& spec);
    Job& get(uint64_t id);  // throws unknown_job
    Job* find_job(uint64_t id) const;  // nullptr when there is no such job (any more)
    // Ends a job that has not ended: `state` is cancelled or timed_out.
    void cancel(Job& job, ErrorCode code, const std::string& why, JobState state = JobState::cancelled);
    // Cancels the jobs a client waits on (and did not detach) when it disconnects.
    void cancel_jobs_of_session(uint64_t session_id);
    // Slots whose worker is running a range of `job_id` right now.
    std::vector<uint32_t> slots_running(uint64_t job_id) const;
    // Called whenever a job ends (after its waiters), e.g. to arm a kill timer.
    void set_end_hook(std::function<void(Job&)> hook) { end_hook_ = std::move(hook); }
    // A worker that has run this many ranges is drained and recycled (0: never).
    void set_recycle(uint64_t max_ranges, std::function<void(uint32_t)> recycle) {
        max_ranges_per_worker_ = max_ranges, recycle_ = std::move(recycle);
    }
    void cancel_all(ErrorCode code, const std::string& why);
    // The instance whose result objects the jobs own (names "shmpool.<instance>.res...").
    void set_instance(std::string instance) { instance_ = std::move(instance); }
    bool idle() const { return !index_.any_unended(); }  // every job has ended
    // Calls `fn` when `job` has ended (at once if it has).
    void when_ended(Job& job, std::function<void(const Job&)> fn);

    void worker_up(uint32_t slot);
    // The worker in `slot` died: account what it finished, requeue what it held.
    void worker_down(uint32_t slot, const std::string& how, bool crashed = true);
    // Completions reported by the workers since the last call.
    void drain_completions();

    // job/range: the range the worker runs now, among those handed to it (null when none);
    // queued: ranges handed to it and not accounted yet; ranges_done.
    nlohmann::json worker_activity(uint32_t slot) const;
    uint64_t ranges_since_start(uint32_t slot) const { return slots_[slot].ranges_since_start; }
    // Counts kept as jobs change state (no scan): jobs_running/queued/waiting, jobs_total,
    // ranges_done, worker_deaths.
    nlohmann::json stats() const;
    const SchedulerMetrics& metrics() const { return metrics_; }
    uint64_t worker_deaths() const { return worker_deaths_; }
    // Jobs of the table by state, and those that have not ended, oldest first.
    const JobIndex& index() const { return index_; }

private:
    struct InFlight {
        uint64_t job_id;
        uint64_t index;
        uint32_t tag;  // the dispatch, naming its result object
    };
    struct SlotState {
        bool alive = false;
        bool retiring = false;           // recycling: no new ranges, restart when empty
        std::deque<InFlight> in_flight;  // in the order the worker will run them
        uint64_t ranges_done = 0;
        uint64_t ranges_since_start = 0;
    };

    std::vector<std::pair<std::string, DatasetPtr>> resolve_inputs(const Kernel& k, const JobSpec& spec) const;
    void pump();
    void wait_for_producers(const Job& job);
    void release_jobs_awaiting_inputs();
    std::optional<JobError> failed_input(const Job& job) const;
    bool inputs_sealed(const Job& job) const;
    void start_queued_jobs();
    void publish(Job& job);
    Job* next_job_with_work();
    uint32_t depth_for(const Job& job) const;
    std::optional<uint32_t> least_loaded_slot(uint32_t depth) const;
    void dispatch_one(uint32_t slot, Job& job);
    void ring_doorbell(uint32_t slot);
    void account(uint32_t slot, const ctl::DoneMsg& msg);
    bool matches_head(uint32_t slot, const ctl::DoneMsg& msg);
    void account_ok(Job& job, const ctl::DoneMsg& msg, uint32_t tag);
    bool keep_result(Job& job, uint64_t index, uint32_t tag, uint64_t bytes);
    void discard_unless_kept(Job& job, uint64_t index, uint32_t tag);
    void requeue_after_death(Job& job, uint64_t index, bool was_running, const std::string& how);
    void finish(Job& job, JobState state, std::optional<JobError> error = std::nullopt);
    void release_slot_if_idle(Job& job);
    void prune_finished();
    void drain_slot(uint32_t slot);
    void retire_if_due(uint32_t slot);

    ctl::Header* control_;
    DatasetStore& store_;
    SchedulerLimits limits_;
    std::vector<SlotState> slots_;
    std::map<uint64_t, std::unique_ptr<Job>> jobs_;
    JobIndex index_;                   // counts by state, jobs not ended, each session's jobs
    std::set<uint64_t> active_;        // running jobs with ranges to hand out, oldest first
    // Jobs in state waiting, by the job writing an input they wait for; only that job's end can
    // seal or doom the input, so only its waiters are looked at again (recheck_) when it ends.
    std::multimap<uint64_t, uint64_t> waiting_on_;  // producer job -> waiting job
    std::deque<uint64_t> recheck_;                  // waiting jobs whose producer has ended
    std::deque<uint64_t> queued_;      // queued jobs waiting for a descriptor slot
    std::deque<uint64_t> finished_;    // ended jobs, oldest first, for pruning
    std::vector<uint32_t> free_job_slots_;
    uint64_t next_job_id_ = 1;
    uint32_t next_tag_ = 1;
    std::string instance_;
    uint64_t worker_deaths_ = 0;
    SchedulerMetrics metrics_;
    std::function<void(Job&)> end_hook_;
    uint64_t max_ranges_per_worker_ = 0;
    std::function<void(uint32_t)> recycle_;
};

}  // namespace shmpool
