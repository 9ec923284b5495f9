// Per-uid limits (--max-datasets-per-uid, --max-shm-bytes-per-uid): a dataset or result object
// counts from creation until it is destroyed (its segment unlinked), per owner uid.
#include "server/datasets/uid_quota.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace shmpool {

void UidQuota::check(uid_t uid, uint64_t bytes, const std::string& what) const {
    auto it = usage_->find(uid);
    Usage used = it == usage_->end() ? Usage{} : it->second;
    std::string who = "uid " + std::to_string(uid);
    if (max_datasets_ && used.datasets >= max_datasets_)
        throw Error(ErrorCode::uid_dataset_limit, who + " already holds " + std::to_string(used.datasets) +
                                                      " datasets, its max-datasets-per-uid; delete some before " + what);
    check_bytes(uid, bytes, what);
}

void UidQuota::check_bytes(uid_t uid, uint64_t bytes, const std::string& what) const {
    auto it = usage_->find(uid);
    uint64_t used = it == usage_->end() ? 0 : it->second.bytes;
    if (max_bytes_ && bytes > max_bytes_ - std::min(max_bytes_, used))
        throw Error(ErrorCode::uid_bytes_limit, what + " needs " + std::to_string(bytes) + " bytes; uid " +
                                                    std::to_string(uid) + " holds " + std::to_string(used) +
                                                    " of its max-shm-bytes-per-uid " + std::to_string(max_bytes_));
}

std::shared_ptr<void> UidQuota::charge(uid_t uid, uint64_t bytes, uint64_t datasets) {
    Usage& used = (*usage_)[uid];
    used.datasets += datasets;
    used.bytes += bytes;
    return std::shared_ptr<void>(nullptr, [usage = usage_, uid, bytes, datasets](void*) {
        auto it = usage->find(uid);
        if (it == usage->end()) return;
        it->second.datasets -= datasets;
        it->second.bytes -= bytes;
        if (it->second.datasets == 0 && it->second.bytes == 0) usage->erase(it);
    });
}

}  // namespace shmpool
