// A job as the daemon tracks it: its plan, the accounting of its ranges (each counted once),
// its state and the callbacks waiting for its end.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/job_reply.h"
#include "server/datasets/dataset_store.h"
#include "worker/job_request.h"
#include "server/jobs/result_objects.h"
#include "worker/kernel.h"

namespace shmpool {

// waiting: an input is another job's output not sealed yet; queued: ready, no descriptor slot yet.
enum class JobState { waiting, queued, running, done, failed, cancelled, timed_out };
std::string_view job_state_name(JobState s);

// What a client asks for; validated and planned into a Job by the scheduler.
struct JobSpec {
    std::string kernel;
    std::map<std::string, std::string> inputs;  // role -> dataset name
    nlohmann::json params = nlohmann::json::object();
    uint64_t chunk = 0;  // rows per range; 0 = automatic
    std::optional<std::string> output;
    bool internal = false;  // the daemon's own request: '_' kernels allowed
    double timeout_s = 0;   // 0: none
    uint64_t owner_session = 0;  // a waiting client whose disconnect cancels the job (0: none)
    uid_t owner_uid = 0;         // the submitting client's uid: its output counts against that uid's quota
};

struct Job {
    using Clock = std::chrono::steady_clock;

    uint64_t id = 0;
    const Kernel* kernel = nullptr;
    nlohmann::json params;
    std::vector<std::pair<std::string, DatasetPtr>> inputs;
    DatasetPtr output;              // held while the job writes it
    nlohmann::json output_info;     // its description once the job is done (the name may go)

    uint64_t rows = 0, chunk = 1, n_ranges = 0;
    std::vector<uint8_t> range_done;  // one flag per range: accounted exactly once
    ReduceOp reduce = ReduceOp::none;
    std::vector<Partial> partials;    // reducing jobs: each range's share, by range index
    std::optional<Reduced> reduced;   // combined once, when the job is done
    ResultObjects results;            // ranges' returned objects (Python jobs), one per accounted range
    std::map<uint64_t, uint32_t> deaths;  // range -> times its worker died running it
    std::deque<uint64_t> requeued;        // ranges to hand out again, before new ones
    uint64_t next_range = 0, ranges_done = 0, ranges_requeued = 0, duplicates = 0;
    uint32_t in_flight = 0;
    int slot = -1;  // job descriptor slot while dispatching
    double avg_range_ns = 0;

    double timeout_s = 0;
    uint64_t owner_session = 0;
    uid_t owner_uid = 0;  // the submitter: only it and the admins may follow or cancel the job
    JobState state = JobState::queued;
    std::optional<JobError> error;
    Clock::time_point submitted = Clock::now(), started{}, ended{};
    std::vector<std::function<void(const Job&)>> waiters;

    bool ended_state() const {
        return state != JobState::waiting && state != JobState::queued && state != JobState::running;
    }
    bool has_work() const { return !requeued.empty() || next_range < n_ranges; }
    RangeSplit split() const { return RangeSplit{rows, chunk, n_ranges}; }
    uint64_t range_begin(uint64_t index) const { return split().begin(index); }
    uint64_t range_end(uint64_t index) const { return split().end(index); }
    nlohmann::json describe() const;
};

}  // namespace shmpool
