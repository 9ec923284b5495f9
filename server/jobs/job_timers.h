// Per-job deadlines on the daemon's loop: a job's timeout_s, and the grace a worker gets to
// leave a range of a job that has ended before it is killed and replaced.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>

#include <utility>  // before Asio under -std=c++20 with g++ 12
#include <boost/asio.hpp>

#include "server/jobs/scheduler.h"
#include "server/worker_pool.h"

namespace shmpool {

class JobTimers {
public:
    JobTimers(boost::asio::io_context& io, Scheduler& scheduler, WorkerPool& pool, std::chrono::milliseconds kill_grace)
        : io_(io), scheduler_(scheduler), pool_(pool), kill_grace_(kill_grace) {}

    void arm_timeout(const Job& job);  // no-op when the job has no timeout_s
    // The job has ended: drop its timeout; if ranges of it still run, kill their workers
    // after the grace period.
    void on_job_end(const Job& job);

private:
    using Timer = boost::asio::steady_timer;
    Timer& timer_for(std::map<uint64_t, std::unique_ptr<Timer>>& timers, uint64_t job_id);
    void kill_stuck_workers(uint64_t job_id);

    boost::asio::io_context& io_;
    Scheduler& scheduler_;
    WorkerPool& pool_;
    std::chrono::milliseconds kill_grace_;
    std::map<uint64_t, std::unique_ptr<Timer>> timeouts_, graces_;
};

}  // namespace shmpool
