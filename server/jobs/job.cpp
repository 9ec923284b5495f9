// A job as the daemon tracks it, and its description in the protocol (docs/protocol.md).
// One function (common/job_reply.h) writes every job reply, so status, wait and submit agree.
#include "server/jobs/job.h"


namespace shmpool {

std::string_view job_state_name(JobState s) {
    switch (s) {
        case JobState::waiting: return "waiting";
        case JobState::queued: return "queued";
        case JobState::running: return "running";
        case JobState::done: return "done";
        case JobState::failed: return "failed";
        case JobState::cancelled: return "cancelled";
        case JobState::timed_out: return "timed_out";
    }
    return "?";
}

namespace {

double seconds_between(Job::Clock::time_point a, Job::Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

}  // namespace

nlohmann::json Job::describe() const {
    auto now = Clock::now();
    bool never_started = started == Clock::time_point{};  // waiting, queued, or ended before a slot
    auto ended_or_now = ended_state() ? ended : now;
    auto started_or_end = never_started ? ended_or_now : started;
    nlohmann::json j = job_reply_json(JobReport{
        .id = id,
        .kernel = kernel->name(),
        .state = job_state_name(state),
        .rows = rows,
        .chunk = chunk,
        .ranges = n_ranges,
        .ranges_done = ranges_done,
        .ranges_requeued = ranges_requeued,
        .duplicates = duplicates,
        .queued_s = seconds_between(submitted, started_or_end),
        .run_s = never_started ? 0.0 : seconds_between(started, ended_or_now),
        .output = output ? output->describe() : output_info,
        .reduce = reduce,
        .reduced = reduced,
        .error = error,
    });
    j["owner_uid"] = owner_uid;
    if (results.count()) j["results"] = results.count();
    return j;
}

}  // namespace shmpool
