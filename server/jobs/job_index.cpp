// The job table's bookkeeping: counts by state, the jobs not ended and each session's jobs,
// updated at each state change, so a request costs what it is about, not the table's history.
#include "server/jobs/job_index.h"

namespace shmpool {

void JobIndex::add(Job& job) {
    counts_[static_cast<size_t>(job.state)] += 1;
    unended_.emplace(job.id, &job);
    if (job.owner_session != 0) by_session_[job.owner_session].insert(job.id);
}

void JobIndex::set_state(Job& job, JobState state) {
    counts_[static_cast<size_t>(job.state)] -= 1;
    counts_[static_cast<size_t>(state)] += 1;
    job.state = state;
    if (!job.ended_state()) return;
    unended_.erase(job.id);
    auto it = by_session_.find(job.owner_session);
    if (it == by_session_.end()) return;
    it->second.erase(job.id);
    if (it->second.empty()) by_session_.erase(it);
}

void JobIndex::forget(const Job& job) { counts_[static_cast<size_t>(job.state)] -= 1; }

std::vector<uint64_t> JobIndex::unended_of_session(uint64_t session) const {
    auto it = by_session_.find(session);
    if (it == by_session_.end()) return {};
    return {it->second.begin(), it->second.end()};
}

}  // namespace shmpool
