// Per-job deadlines on the daemon's loop: a job's timeout_s, and the grace a worker gets to
// leave a range of a job that has ended before it is killed and replaced.
#include "server/jobs/job_timers.h"

#include <sstream>

namespace shmpool {

JobTimers::Timer& JobTimers::timer_for(std::map<uint64_t, std::unique_ptr<Timer>>& timers, uint64_t job_id) {
    auto& slot = timers[job_id];
    if (!slot) slot = std::make_unique<Timer>(io_);
    return *slot;
}

void JobTimers::arm_timeout(const Job& job) {
    if (job.timeout_s <= 0 || job.ended_state()) return;
    uint64_t id = job.id;
    double seconds = job.timeout_s;
    Timer& t = timer_for(timeouts_, id);
    t.expires_after(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds)));
    t.async_wait([this, id, seconds](const boost::system::error_code& ec) {
        if (ec) return;
        timeouts_.erase(id);  // the timer is done: nothing touches it after this
        std::ostringstream why;
        why << "job " << id << " ran past its timeout of " << seconds << " s";
        scheduler_.cancel(scheduler_.get(id), ErrorCode::timed_out, why.str(), JobState::timed_out);
    });
}

void JobTimers::on_job_end(const Job& job) {
    timeouts_.erase(job.id);  // destroying a timer cancels its wait
    if (job.state == JobState::done || job.in_flight == 0) return;
    uint64_t id = job.id;
    Timer& t = timer_for(graces_, id);
    t.expires_after(kill_grace_);
    t.async_wait([this, id](const boost::system::error_code& ec) {
        if (!ec) kill_stuck_workers(id);
    });
}

void JobTimers::kill_stuck_workers(uint64_t job_id) {
    graces_.erase(job_id);
    for (uint32_t slot : scheduler_.slots_running(job_id))
        pool_.kill_worker(slot, "still running a range of job " + std::to_string(job_id) + " after it ended");
}

}  // namespace shmpool
