// The result objects of a job's ranges: kept once per accounted range, removed when the client
// drops them, when the job fails or is forgotten, and with the daemon.
#include "server/jobs/result_objects.h"

#include "common/names.h"
#include "common/segment.h"

namespace shmpool {

const ResultObjects::Entry* ResultObjects::find(uint64_t range) const {
    auto it = kept_.find(range);
    return it == kept_.end() ? nullptr : &it->second;
}

std::string ResultObjects::name_of(const Entry& e) const { return result_object_name(instance_, job_id_, e.tag); }

void ResultObjects::drop_all() {
    for (const auto& kv : kept_) Segment::remove(name_of(kv.second));
    kept_.clear();
}

void ResultObjects::discard(uint32_t tag) const { Segment::remove(result_object_name(instance_, job_id_, tag)); }

}  // namespace shmpool
