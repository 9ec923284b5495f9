// Progress events for one request that waits on a job (`"progress": true`): an event when the
// job's count changes, at most every kInterval, and a last one when it ends, before the reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <utility>  // before Asio under -std=c++20 with g++ 12
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "server/jobs/scheduler.h"
#include "server/api/session.h"

namespace shmpool {

// {"id": request_id, "event": "progress", "job": N, "state": ..., "ranges_done": d, "ranges": t, ...}
nlohmann::json progress_event(const nlohmann::json& request_id, const Job& job);

class ProgressFeed : public std::enable_shared_from_this<ProgressFeed> {
public:
    static constexpr std::chrono::milliseconds kInterval{100};

    ProgressFeed(Scheduler& scheduler, std::shared_ptr<Session> session, nlohmann::json request_id, uint64_t job_id);
    void start();                 // an event now, then polls the job every kInterval
    void finish(const Job& job);  // the last event; stops polling

private:
    void poll_later();
    void poll();
    void send_if_changed(const Job& job);

    Scheduler& scheduler_;
    std::shared_ptr<Session> session_;
    nlohmann::json request_id_;
    uint64_t job_id_;
    std::string coalesce_key_;  // one pending event per request on a slow connection
    boost::asio::steady_timer timer_;
    uint64_t last_done_ = 0;
    std::string last_state_;
    bool stopped_ = false;
};

}  // namespace shmpool
