// The daemon's named datasets: each one a segment created, sealed and finally unlinked here.
// Segment names are numbered by the daemon; a client's dataset name never reaches /dev/shm.
#include "server/datasets/dataset_store.h"

#include <charconv>
#include <cstdio>

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"

namespace shmpool {

Dataset::~Dataset() {
    if (segment.empty()) return;
    if (sealed && !exposed && spares && spares->keep(segment, backing, capacity)) return;
    if (!Segment::remove(segment)) log_warn("dataset '" + name + "': segment " + segment + " was already gone");
    if (control) ctl::log_removed_segment(control, backing);
}

ctl::DatasetRef Dataset::ref() const {
    ctl::DatasetRef r;
    r.id = id;
    r.backing = backing;
    r.bytes = bytes;
    r.dtype = static_cast<uint8_t>(meta.dtype);
    r.ndim = static_cast<uint8_t>(meta.shape.ndim);
    for (int i = 0; i < meta.shape.ndim; ++i) r.dims[i] = meta.shape.dims[i];
    return r;
}

nlohmann::json DatasetShares::to_json() const { return {{"users", users}, {"groups", groups}, {"all", all}}; }

nlohmann::json Dataset::describe() const {
    nlohmann::json shape = nlohmann::json::array();
    for (int i = 0; i < meta.shape.ndim; ++i) shape.push_back(meta.shape.dims[i]);
    return {{"name", name},   {"dtype", dtype_name(meta.dtype)}, {"shape", shape},
            {"bytes", bytes}, {"sealed", sealed},               {"owner_uid", owner_uid},
            {"ref", qualified_name()}, {"shares", shares.to_json()}};
}

nlohmann::json Dataset::reveal() {
    exposed = true;
    nlohmann::json j = describe();
    j["segment"] = segment;
    return j;
}

DatasetPtr DatasetStore::create(const std::string& name, const ArrayMeta& meta, uid_t owner_uid, Segment* mapping) {
    check_dataset_name(name);
    if (datasets_.count({owner_uid, name}))
        throw Error(ErrorCode::dataset_exists, "dataset '" + name + "' already exists");
    if (max_datasets_ && datasets_.size() >= max_datasets_)
        throw Error(ErrorCode::too_many_datasets, "the instance already holds " + std::to_string(datasets_.size()) +
                                                      " datasets, its max_datasets; delete some first");
    auto ds = std::make_shared<Dataset>();
    ds->name = name;
    ds->id = next_id_++;
    ds->meta = meta;
    ds->bytes = checked_bytes(meta.shape, meta.dtype);
    check_quota(ds->bytes, "dataset '" + name + "'");
    uid_quota_.check(owner_uid, ds->bytes, "dataset '" + name + "'");
    allocate_segment(*ds, mapping);  // throws before the segment exists
    ds->control = control_;
    ds->spares = spares_;
    ds->owner_uid = owner_uid;
    ds->uid_charge = uid_quota_.charge(owner_uid, ds->bytes);
    datasets_.emplace(std::make_pair(owner_uid, name), ds);
    total_bytes_ += ds->bytes;
    return ds;
}

// Live datasets and kept result objects may hold max_shm_bytes; spares give way to them
// (released oldest first).
void DatasetStore::check_quota(uint64_t bytes, const std::string& what) {
    if (!quota_) return;
    uint64_t live = total_bytes() + result_bytes();
    if (bytes > quota_ - std::min(quota_, live))
        throw Error(ErrorCode::no_space, what + " needs " + std::to_string(bytes) + " bytes; the instance holds " +
                                             std::to_string(live) + " of its max_shm_bytes " + std::to_string(quota_));
    if (spares_) spares_->shrink_to(quota_ - live - bytes);
}

std::shared_ptr<void> DatasetStore::charge_result(uid_t owner_uid, uint64_t bytes, const std::string& what) {
    check_quota(bytes, what);
    uid_quota_.check_bytes(owner_uid, bytes, what);
    *result_bytes_ += bytes;
    auto uid_charge = uid_quota_.charge(owner_uid, bytes, /*datasets=*/0);
    return std::shared_ptr<void>(nullptr, [total = result_bytes_, uid_charge, bytes](void*) { *total -= bytes; });
}

// A spare just taken (renamed to `segment`) mapped for its filler; removed if it cannot be.
static void map_taken_spare(const std::string& segment, uint64_t bytes, Segment* mapping) {
    try {
        *mapping = Segment::open(segment, /*writable=*/true, bytes);
    } catch (...) {
        Segment::remove(segment);
        throw;
    }
}

// A spare that fits (mapped when the caller fills it), else a new segment; when /dev/shm is
// full, the spares are released and the creation tried once more.
void DatasetStore::allocate_segment(Dataset& ds, Segment* mapping) {
    std::string segment = dataset_segment_name(instance_, ds.id);
    ds.backing = ds.id;
    ds.capacity = ds.bytes;
    if (spares_ && ds.bytes > 0) {
        if (auto spare = spares_->take(ds.bytes, segment)) {
            ds.backing = spare->backing;
            ds.capacity = spare->capacity;
            ds.segment = segment;
            if (mapping) map_taken_spare(segment, ds.bytes, mapping);
            return;
        }
    }
    auto create = [&] { return Segment::create(segment, ds.bytes, /*allocate=*/mapping != nullptr, segment_mode_); };
    Segment seg;
    try {
        seg = create();
    } catch (const Error& e) {
        if (e.code() != ErrorCode::no_space || !spares_ || spares_->count() == 0) throw;
        spares_->shrink_to(0);
        seg = create();
    }
    ds.segment = segment;
    if (mapping) *mapping = std::move(seg);
}

DatasetStore::~DatasetStore() {
    datasets_.clear();
    if (spares_) spares_->close();  // a dataset a job still holds is removed when it goes
}

void DatasetStore::set_spares(std::shared_ptr<SpareSegments> spares) {
    if (spares && (segment_mode_ & 077)) {
        char mode[12];
        snprintf(mode, sizeof mode, "%04o", segment_mode_);
        log_info(std::string("spare segments off: segment-mode ") + mode + " lets other users map segments");
        spares.reset();
    }
    spares_ = std::move(spares);
}

DatasetPtr DatasetStore::find(uid_t owner_uid, const std::string& name) const {
    auto it = datasets_.find({owner_uid, name});
    if (it == datasets_.end()) throw Error(ErrorCode::unknown_dataset, "no dataset named '" + name + "'");
    return it->second;
}

DatasetPtr DatasetStore::find(const std::string& ref, uid_t caller) const {
    size_t slash = ref.find('/');
    if (slash == std::string::npos) return find(caller, ref);
    uint32_t owner = 0;
    const char *first = ref.data(), *last = ref.data() + slash;
    auto [end, ec] = std::from_chars(first, last, owner);
    if (ec != std::errc() || end != last || slash == 0)
        throw Error(ErrorCode::bad_name, "'" + ref + "': another uid's dataset is named '<uid>/<name>'");
    auto it = datasets_.find({owner, ref.substr(slash + 1)});
    if (it == datasets_.end()) throw Error(ErrorCode::unknown_dataset, "no dataset named '" + ref + "'");
    return it->second;
}

void DatasetStore::erase(uid_t owner_uid, const std::string& name, bool force) {
    DatasetPtr ds = find(owner_uid, name);
    if (!ds->sealed && !force)
        throw Error(ErrorCode::dataset_busy, "dataset '" + name + "' is being written by job " +
                                                 std::to_string(ds->producer_job) + "; cancel the job first");
    total_bytes_ -= ds->bytes;
    datasets_.erase({owner_uid, name});
}

std::vector<DatasetPtr> DatasetStore::list() const {
    std::vector<DatasetPtr> out;
    for (const auto& kv : datasets_) out.push_back(kv.second);
    return out;
}

}  // namespace shmpool
