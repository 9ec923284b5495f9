// The result objects of a job's ranges (what a user's Python function returned): one shm object
// per accounted range, written by the worker that ran it, owned (and charged) here until dropped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace shmpool {

class ResultObjects {
public:
    struct Entry {
        uint32_t tag = 0;  // the dispatch that wrote it (result_object_name)
        uint64_t bytes = 0;
        std::shared_ptr<void> charge;  // counts it against the owner's quotas while kept
    };

    ResultObjects() = default;
    ResultObjects(const ResultObjects&) = delete;
    ResultObjects& operator=(const ResultObjects&) = delete;
    ~ResultObjects() { drop_all(); }  // nothing outlives the job (or the daemon)

    void bind(const std::string& instance, uint64_t job_id) { instance_ = instance, job_id_ = job_id; }
    void keep(uint64_t range, uint32_t tag, uint64_t bytes, std::shared_ptr<void> charge) {
        kept_[range] = Entry{tag, bytes, std::move(charge)};
    }
    const Entry* find(uint64_t range) const;
    std::string name_of(const Entry& e) const;
    size_t count() const { return kept_.size(); }
    void drop_all();
    // Removes the object of a dispatch that is not kept (a dead worker's, a superseded one's).
    void discard(uint32_t tag) const;

private:
    std::string instance_;
    uint64_t job_id_ = 0;
    std::map<uint64_t, Entry> kept_;  // range -> its accounted result
};

}  // namespace shmpool
