// Progress events for a request waiting on a job: polls the scheduler's own counts on the
// daemon's loop (never the workers), rate-limited, coalesced by the session for slow readers.
#include "server/api/progress_feed.h"

namespace shmpool {

nlohmann::json progress_event(const nlohmann::json& request_id, const Job& job) {
    nlohmann::json described = job.describe();
    return {{"id", request_id},
            {"event", "progress"},
            {"job", job.id},
            {"state", described["state"]},
            {"ranges_done", job.ranges_done},
            {"ranges", job.n_ranges},
            {"ranges_requeued", job.ranges_requeued},
            {"queued_s", described["queued_s"]},
            {"run_s", described["run_s"]}};
}

ProgressFeed::ProgressFeed(Scheduler& scheduler, std::shared_ptr<Session> session, nlohmann::json request_id,
                           uint64_t job_id)
    : scheduler_(scheduler),
      session_(std::move(session)),
      request_id_(std::move(request_id)),
      job_id_(job_id),
      coalesce_key_("progress " + request_id_.dump()),
      timer_(session_->executor()) {}

void ProgressFeed::start() {
    if (const Job* job = scheduler_.find_job(job_id_)) {
        session_->send_event(progress_event(request_id_, *job), coalesce_key_);
        last_done_ = job->ranges_done;
        last_state_ = job_state_name(job->state);
    }
    poll_later();
}

void ProgressFeed::finish(const Job& job) {
    stopped_ = true;
    timer_.cancel();
    session_->send_event(progress_event(request_id_, job), coalesce_key_);
}

void ProgressFeed::poll_later() {
    if (stopped_) return;
    timer_.expires_after(kInterval);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->poll();
    });
}

void ProgressFeed::poll() {
    const Job* job = scheduler_.find_job(job_id_);
    if (stopped_ || !job || !session_->is_open()) return;  // finish() sends the last event
    send_if_changed(*job);
    poll_later();
}

void ProgressFeed::send_if_changed(const Job& job) {
    std::string state(job_state_name(job.state));
    if (job.ranges_done == last_done_ && state == last_state_) return;
    last_done_ = job.ranges_done;
    last_state_ = state;
    session_->send_event(progress_event(request_id_, job), coalesce_key_);
}

}  // namespace shmpool
