// A worker's mappings of datasets, opened lazily by segment number and kept for later ranges.
// A job holds its mappings by shared_ptr, so a drop never unmaps memory a kernel is using.
#include "worker/mapping_cache.h"

#include "common/names.h"

namespace shmpool {

std::shared_ptr<const Segment> MappingCache::get(uint64_t id, bool writable, uint64_t bytes) {
    auto key = std::make_pair(id, writable);
    if (auto it = maps_.find(key); it != maps_.end()) return it->second;
    auto seg = std::make_shared<const Segment>(Segment::open(dataset_segment_name(instance_, id), writable, bytes));
    maps_.emplace(key, seg);
    return seg;
}

void MappingCache::drop(uint64_t id) {
    maps_.erase({id, false});
    maps_.erase({id, true});
}

}  // namespace shmpool
