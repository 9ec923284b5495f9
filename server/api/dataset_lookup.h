// How a request names a dataset: "X" in the client's own namespace, "<user>/X" (a user name
// or uid) in another uid's; and the lookup of one the client may read (the access policy's rule).
#pragma once

#include <string>

#include "server/api/router.h"
#include "server/api/request_names.h"
#include "server/datasets/dataset_store.h"

namespace shmpool {

// The dataset `asked` names, if the client may read it (else unknown_dataset, as for none).
DatasetPtr find_readable(const Call& c, const std::string& asked);

// A name for a dataset the client creates (a put, a job's output): in its own namespace only.
std::string name_to_create(const Call& c, const std::string& asked);

}  // namespace shmpool
