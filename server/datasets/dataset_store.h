// The daemon's named datasets: each one a segment created, sealed and finally unlinked here.
// A dataset's segment lives while anything holds it (the name, or a job using it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/array_meta.h"
#include "common/control.h"
#include "common/segment.h"
#include "server/datasets/spare_segments.h"
#include "server/datasets/uid_quota.h"

namespace shmpool {

// Who besides its owner may read a dataset (dataset.share): uids, gids, or every allowed peer.
struct DatasetShares {
    std::set<uid_t> users;
    std::set<gid_t> groups;
    bool all = false;

    nlohmann::json to_json() const;
};

struct Dataset {
    std::string name;
    uint64_t id = 0;
    ArrayMeta meta;
    uint64_t bytes = 0;
    std::string segment;
    uint64_t backing = 0;   // the segment's first number (a reused spare keeps its own)
    uint64_t capacity = 0;  // the segment's size: `bytes`, or more for a reused spare
    bool sealed = false;
    uint64_t producer_job = 0;  // the job writing it while unsealed (0: none)
    uid_t owner_uid = 0;        // the client that put it, or submitted the job writing it: its namespace
    DatasetShares shares;       // read-only shares (none: private to its owner and the admins)
    std::shared_ptr<void> uid_charge;  // counts it against owner_uid's quota until destroyed
    // A client was told the segment's name or given a descriptor of it (reveal()): it may map
    // the segment for as long as it likes, so the segment is never made a spare.
    bool exposed = false;
    ctl::Header* control = nullptr;
    // Where a sealed dataset's segment goes when it is deleted (none: it is removed).
    std::shared_ptr<SpareSegments> spares;

    Dataset() = default;
    Dataset(const Dataset&) = delete;
    Dataset& operator=(const Dataset&) = delete;
    // Hands a sealed dataset's segment that no client saw to the spares, or removes it and
    // tells the workers to drop their mappings. An unsealed one (a failed or cancelled job's
    // output, which a worker may still be writing) or an exposed one is always removed.
    ~Dataset();

    ctl::DatasetRef ref() const;
    // name, dtype, shape, bytes, sealed, owner_uid: what a reply may say without the segment.
    nlohmann::json describe() const;
    // describe() with "segment": the one door by which a segment's name leaves the daemon
    // (every reply that names it, or passes a descriptor of it, goes through here); marks it exposed.
    nlohmann::json reveal();
    // "<owner uid>/<name>": names it for every client, whatever its own namespace.
    std::string qualified_name() const { return std::to_string(owner_uid) + "/" + name; }
};

using DatasetPtr = std::shared_ptr<Dataset>;

class DatasetStore {
public:
    DatasetStore(std::string instance, ctl::Header* control) : instance_(std::move(instance)), control_(control) {}
    ~DatasetStore();

    // Each uid has its own namespace: a dataset is (owner uid, name). A `ref` is a name in the
    // caller's namespace, or "<uid>/<name>" in that uid's.
    //
    // Creates an unsealed dataset owned by `owner_uid` in its namespace; throws bad_name, dataset_exists,
    // too_many_datasets, no_space, uid_dataset_limit, uid_bytes_limit, io_error.
    // `mapping` (inline data) gets the daemon's writable mapping of a fully allocated segment;
    // without it the segment is allocated by the workers that write it (job outputs), or is a
    // spare that fits, renamed: its old content is then overwritten by the job.
    DatasetPtr create(const std::string& name, const ArrayMeta& meta, uid_t owner_uid, Segment* mapping = nullptr);
    DatasetPtr find(uid_t owner_uid, const std::string& name) const;  // throws unknown_dataset
    DatasetPtr find(const std::string& ref, uid_t caller) const;       // throws unknown_dataset, bad_name
    void seal(Dataset& ds) { ds.sealed = true, ds.producer_job = 0; }
    // Removes the name. A producing job must be cancelled first (dataset_busy otherwise)
    // unless `force` (the job itself discarding its output).
    void erase(uid_t owner_uid, const std::string& name, bool force = false);
    std::vector<DatasetPtr> list() const;
    void clear() { datasets_.clear(), total_bytes_ = 0; }
    uint64_t total_bytes() const { return total_bytes_; }  // of the named datasets, kept as they come and go
    size_t count() const { return datasets_.size(); }
    void set_quota(uint64_t bytes) { quota_ = bytes; }  // 0: none
    void set_max_datasets(uint64_t n) { max_datasets_ = n; }  // 0: none
    void set_segment_mode(unsigned mode) { segment_mode_ = mode; }
    // Deleted datasets' segments are kept for reuse, only while segments are private to the
    // daemon's user (a mode with group or other bits would let a reader of an old dataset read
    // the next one); with no spares, every segment is removed on deletion.
    void set_spares(std::shared_ptr<SpareSegments> spares);
    const SpareSegments* spares() const { return spares_.get(); }
    void set_uid_limits(uint64_t max_datasets, uint64_t max_bytes) { uid_quota_.set_limits(max_datasets, max_bytes); }
    // Counts a job's result object of `bytes` against `owner_uid`'s max-shm-bytes-per-uid and
    // the instance's max_shm_bytes until the returned token is destroyed; throws
    // uid_bytes_limit or no_space (`what` names the result) when it would exceed either.
    std::shared_ptr<void> charge_result(uid_t owner_uid, uint64_t bytes, const std::string& what);
    uint64_t result_bytes() const { return *result_bytes_; }  // of the kept result objects

private:
    void allocate_segment(Dataset& ds, Segment* mapping);
    void check_quota(uint64_t bytes, const std::string& what);

    std::string instance_;
    ctl::Header* control_;
    uint64_t next_id_ = 1;
    uint64_t quota_ = 0;
    uint64_t max_datasets_ = 0;
    unsigned segment_mode_ = 0600;
    std::shared_ptr<SpareSegments> spares_;
    UidQuota uid_quota_;
    std::map<std::pair<uid_t, std::string>, DatasetPtr> datasets_;  // (owner uid, name)
    uint64_t total_bytes_ = 0;  // the sum of datasets_' bytes
    // Shared with the result tokens, so a result that outlives the store still releases safely.
    std::shared_ptr<uint64_t> result_bytes_ = std::make_shared<uint64_t>(0);
};

}  // namespace shmpool
