// A worker's mappings of datasets, opened lazily by name and kept, by backing number, for later
// ranges and for later datasets reusing the segment; inputs read-only, outputs read-write.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/control.h"
#include "common/segment.h"

namespace shmpool {

class MappingCache {
public:
    explicit MappingCache(std::string instance) : instance_(std::move(instance)) {}
    // The segment of `ref`, mapped over at least its bytes.
    std::shared_ptr<const Segment> get(const ctl::DatasetRef& ref, bool writable);
    void drop(uint64_t backing);  // the segment was removed (the daemon's deletion log)
    void clear() { maps_.clear(); }
    size_t size() const { return maps_.size(); }

private:
    std::string instance_;
    std::map<std::pair<uint64_t, bool>, std::shared_ptr<const Segment>> maps_;
};

}  // namespace shmpool
