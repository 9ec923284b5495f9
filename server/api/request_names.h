// How a request names other users' things: a dataset "<user>/<name>" in another uid's
// namespace, and share targets ("alice", "1000", "@staff", "@100", "*"). No daemon state here.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/datasets/dataset_store.h"

namespace shmpool {

struct DatasetName {
    uid_t owner_uid = 0;
    std::string name;  // within the owner's namespace
};

// "X" -> (caller, X); "alice/X" or "1000/X" -> (alice's uid, X). Throws bad_name for an
// unknown user or a malformed name.
DatasetName parse_dataset_name(const std::string& asked, uid_t caller);

// Adds (or, with `add` false, removes) each target of `list` to `shares`: "user" or "uid",
// "@group" or "@gid", "*" (every peer allowed to connect). All or nothing. Throws bad_request
// for a list that is not an array of non-empty strings, bad_name for an unknown user or group.
void apply_share_list(DatasetShares& shares, const nlohmann::json& list, bool add);

}  // namespace shmpool
