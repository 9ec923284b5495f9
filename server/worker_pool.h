// The daemon's worker processes as a slot table (pid, state, restarts): prefork, reap on
// SIGCHLD, respawn with bounded backoff, and stop (TERM, then KILL after a grace period).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <utility>  // before Asio under -std=c++20 with g++ 12
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "common/control.h"
#include "server/jobs/scheduler.h"

namespace shmpool {

class WorkerPool {
public:
    WorkerPool(boost::asio::io_context& io, ctl::Header* control, uint32_t n_workers, int notify_fd,
               std::string instance, Scheduler& scheduler);

    void start_all();
    void reap();  // on SIGCHLD: collect every exited child
    // Stops every worker: SIGTERM now, SIGKILL after `grace`; `done` once all are reaped.
    void stop_all(std::chrono::milliseconds grace, std::function<void()> done);
    nlohmann::json describe() const;
    uint32_t alive() const;
    // Caps each worker's private memory (RLIMIT_DATA; shared mappings do not count). 0: none.
    void set_memory_limit(uint64_t bytes) { memory_limit_ = bytes; }
    // Planned restart of an idle worker (max_ranges_per_worker): not counted as a crash.
    void recycle(uint32_t slot);
    // SIGKILL, for a worker stuck on a range of a job that has ended.
    void kill_worker(uint32_t slot, const std::string& why);
    // Sends `sig` to every running worker (SIGHUP: reopen the log file).
    void signal_all(int sig);

private:
    enum class State { empty, running, respawn_wait, stopping };
    struct Slot {
        pid_t pid = 0;
        State state = State::empty;
        uint32_t restarts = 0;
        uint32_t quick_deaths = 0;  // deaths soon after spawn, in a row
        std::chrono::steady_clock::time_point spawned{};
        bool recycling = false;
        std::unique_ptr<boost::asio::steady_timer> respawn_timer;
    };

    void spawn(uint32_t slot);
    [[noreturn]] void become_worker(uint32_t slot);
    void on_exit(uint32_t slot, int status);
    void schedule_respawn(uint32_t slot);
    void kill_remaining();
    void finish_stop_if_done();

    boost::asio::io_context& io_;
    ctl::Header* control_;
    int notify_fd_;
    std::string instance_;
    Scheduler& scheduler_;
    pid_t daemon_pid_;
    std::vector<Slot> slots_;
    bool stopping_ = false;
    uint64_t memory_limit_ = 0;
    std::function<void()> on_stopped_;
    boost::asio::steady_timer kill_timer_;
};

std::string describe_exit(int status);

}  // namespace shmpool
