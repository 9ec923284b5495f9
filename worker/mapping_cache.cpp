// A worker's mappings of datasets, opened lazily by name and kept by backing number, so a
// segment reused for a new dataset keeps its page tables. A drop never unmaps a job's mapping.
#include "worker/mapping_cache.h"

#include "common/names.h"

namespace shmpool {

std::shared_ptr<const Segment> MappingCache::get(const ctl::DatasetRef& ref, bool writable) {
    auto key = std::make_pair(ref.backing, writable);
    auto it = maps_.find(key);
    // A reused segment may be bigger than the dataset this worker first mapped it for.
    if (it != maps_.end() && it->second->size() >= ref.bytes) return it->second;
    auto seg = std::make_shared<const Segment>(
        Segment::open(dataset_segment_name(instance_, ref.id), writable, ref.bytes));
    maps_.insert_or_assign(key, seg);
    return seg;
}

void MappingCache::drop(uint64_t backing) {
    maps_.erase({backing, false});
    maps_.erase({backing, true});
}

}  // namespace shmpool
