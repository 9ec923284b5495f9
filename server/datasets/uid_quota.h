// Per-uid limits on datasets and result objects: how many datasets and bytes each client uid
// holds, checked before a dataset or result is kept and released when it goes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>

namespace shmpool {

class UidQuota {
public:
    UidQuota() : usage_(std::make_shared<std::map<uid_t, Usage>>()) {}

    // 0: no limit (the defaults).
    void set_limits(uint64_t max_datasets, uint64_t max_bytes) { max_datasets_ = max_datasets, max_bytes_ = max_bytes; }
    // Throws Error(uid_dataset_limit / uid_bytes_limit) when `uid` may not hold one more
    // dataset of `bytes`. `what` names the dataset in the message.
    void check(uid_t uid, uint64_t bytes, const std::string& what) const;
    // Throws Error(uid_bytes_limit) when `uid` may not hold `bytes` more (a job's result object).
    void check_bytes(uid_t uid, uint64_t bytes, const std::string& what) const;
    // Counts `datasets` datasets (a result object: 0) of `bytes` against `uid` until the
    // returned token is destroyed.
    std::shared_ptr<void> charge(uid_t uid, uint64_t bytes, uint64_t datasets = 1);

private:
    struct Usage {
        uint64_t datasets = 0;
        uint64_t bytes = 0;
    };

    uint64_t max_datasets_ = 0;
    uint64_t max_bytes_ = 0;
    // Shared with the tokens, so a dataset that outlives the store still releases safely.
    std::shared_ptr<std::map<uid_t, Usage>> usage_;
};

}  // namespace shmpool
