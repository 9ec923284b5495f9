// Read-only shares of a dataset as a request lists them: "alice" or "1000" (a user), "@staff"
// or "@100" (a group), "*" (every peer allowed to connect). Used by put, share and unshare.
#pragma once

#include <nlohmann/json.hpp>

#include "server/datasets/dataset_store.h"

namespace shmpool {

// Adds (or, with `add` false, removes) each listed target to `shares`. `list` must be an array
// of such strings. Throws bad_request for a malformed list, bad_name for an unknown user or group.
void apply_share_list(DatasetShares& shares, const nlohmann::json& list, bool add);

}  // namespace shmpool
