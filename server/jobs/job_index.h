// The job table's bookkeeping, kept where a job changes state so that no request scans the
// table: jobs by state, the jobs that have not ended (oldest first), and each session's.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include "server/jobs/job.h"

namespace shmpool {

class JobIndex {
public:
    static constexpr size_t kStates = static_cast<size_t>(JobState::timed_out) + 1;

    // A job entering the table, in its first state (waiting or queued).
    void add(Job& job);
    // The one place a job's state changes: the counts follow, and an ending job leaves the
    // index of jobs not ended and its session's set.
    void set_state(Job& job, JobState state);
    // An ended job pruned from the table.
    void forget(const Job& job);

    size_t count(JobState state) const { return counts_[static_cast<size_t>(state)]; }
    bool any_unended() const { return !unended_.empty(); }
    // Jobs not ended (waiting, queued, running), oldest first.
    const std::map<uint64_t, Job*>& unended() const { return unended_; }
    // Ids of the jobs not ended that `session` waits on (a copy: ending them changes the set).
    std::vector<uint64_t> unended_of_session(uint64_t session) const;

private:
    std::array<size_t, kStates> counts_{};
    std::map<uint64_t, Job*> unended_;
    std::unordered_map<uint64_t, std::set<uint64_t>> by_session_;  // owner session -> job ids
};

}  // namespace shmpool
