// How a request names a dataset: "X" in the client's own namespace, "<user>/X" (a user name
// or uid) in another uid's; and the lookup of one the client may read (the access policy's rule).
#pragma once

#include <string>

#include "server/api/router.h"
#include "server/datasets/dataset_store.h"

namespace shmpool {

struct DatasetName {
    uid_t owner_uid = 0;
    std::string name;  // within the owner's namespace
};

// "X" -> (caller, X); "alice/X" or "1000/X" -> (alice's uid, X). Throws bad_name for an
// unknown user or a malformed name.
DatasetName parse_dataset_name(const std::string& asked, uid_t caller);

// The dataset `asked` names, if the client may read it (else unknown_dataset, as for none).
DatasetPtr find_readable(const Call& c, const std::string& asked);

// A name for a dataset the client creates (a put, a job's output): in its own namespace only.
std::string name_to_create(const Call& c, const std::string& asked);

}  // namespace shmpool
