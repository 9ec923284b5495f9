// The daemon's named datasets: each one a segment created, sealed and finally unlinked here.
// Segment names are numbered by the daemon; a client's dataset name never reaches /dev/shm.
#include "server/dataset_store.h"

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"

namespace shmpool {

Dataset::~Dataset() {
    if (segment.empty()) return;
    if (!Segment::remove(segment)) log_warn("dataset '" + name + "': segment " + segment + " was already gone");
    if (control) {
        uint64_t n = control->deleted_count.load(std::memory_order_relaxed);
        control->deleted_ids[n % ctl::kDeleteLogSize] = id;
        control->deleted_count.store(n + 1, std::memory_order_release);
    }
}

ctl::DatasetRef Dataset::ref() const {
    ctl::DatasetRef r;
    r.id = id;
    r.bytes = bytes;
    r.dtype = static_cast<uint8_t>(meta.dtype);
    r.ndim = static_cast<uint8_t>(meta.shape.ndim);
    for (int i = 0; i < meta.shape.ndim; ++i) r.dims[i] = meta.shape.dims[i];
    return r;
}

nlohmann::json Dataset::info() const {
    nlohmann::json shape = nlohmann::json::array();
    for (int i = 0; i < meta.shape.ndim; ++i) shape.push_back(meta.shape.dims[i]);
    return {{"name", name},   {"dtype", dtype_name(meta.dtype)}, {"shape", shape},
            {"bytes", bytes}, {"segment", segment},              {"sealed", sealed},
            {"owner_uid", owner_uid}};
}

DatasetPtr DatasetStore::create(const std::string& name, const ArrayMeta& meta, uid_t owner_uid, Segment* mapping) {
    check_dataset_name(name);
    if (datasets_.count(name)) throw Error(ErrorCode::dataset_exists, "dataset '" + name + "' already exists");
    if (max_datasets_ && datasets_.size() >= max_datasets_)
        throw Error(ErrorCode::too_many_datasets, "the instance already holds " + std::to_string(datasets_.size()) +
                                                      " datasets, its max_datasets; delete some first");
    auto ds = std::make_shared<Dataset>();
    ds->name = name;
    ds->id = next_id_++;
    ds->meta = meta;
    ds->bytes = checked_bytes(meta.shape, meta.dtype);
    if (quota_ && ds->bytes > quota_ - std::min(quota_, total_bytes()))
        throw Error(ErrorCode::no_space, "dataset '" + name + "' needs " + std::to_string(ds->bytes) +
                                             " bytes; the instance holds " + std::to_string(total_bytes()) +
                                             " of its max_shm_bytes " + std::to_string(quota_));
    uid_quota_.check(owner_uid, ds->bytes, "dataset '" + name + "'");
    std::string segment = dataset_segment_name(instance_, ds->id);
    Segment seg = Segment::create(segment, ds->bytes, /*allocate=*/mapping != nullptr, segment_mode_);  // throws before it exists
    ds->segment = segment;
    ds->control = control_;
    ds->owner_uid = owner_uid;
    ds->uid_charge = uid_quota_.charge(owner_uid, ds->bytes);
    if (mapping) *mapping = std::move(seg);
    datasets_.emplace(name, ds);
    return ds;
}

DatasetPtr DatasetStore::find(const std::string& name) const {
    auto it = datasets_.find(name);
    if (it == datasets_.end()) throw Error(ErrorCode::unknown_dataset, "no dataset named '" + name + "'");
    return it->second;
}

void DatasetStore::erase(const std::string& name, bool force) {
    DatasetPtr ds = find(name);
    if (!ds->sealed && !force)
        throw Error(ErrorCode::dataset_busy, "dataset '" + name + "' is being written by job " +
                                                 std::to_string(ds->producer_job) + "; cancel the job first");
    datasets_.erase(name);
}

std::vector<DatasetPtr> DatasetStore::list() const {
    std::vector<DatasetPtr> out;
    for (const auto& kv : datasets_) out.push_back(kv.second);
    return out;
}

uint64_t DatasetStore::total_bytes() const {
    uint64_t total = 0;
    for (const auto& kv : datasets_) total += kv.second->bytes;
    return total;
}

}  // namespace shmpool
