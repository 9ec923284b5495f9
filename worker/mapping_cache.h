// A worker's mappings of datasets, opened lazily by segment number and kept for later ranges;
// inputs are mapped read-only, outputs read-write. Deleted datasets are dropped on notice.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/segment.h"

namespace shmpool {

class MappingCache {
public:
    explicit MappingCache(std::string instance) : instance_(std::move(instance)) {}
    std::shared_ptr<const Segment> get(uint64_t id, bool writable, uint64_t bytes);
    void drop(uint64_t id);
    void clear() { maps_.clear(); }
    size_t size() const { return maps_.size(); }

private:
    std::string instance_;
    std::map<std::pair<uint64_t, bool>, std::shared_ptr<const Segment>> maps_;
};

}  // namespace shmpool
