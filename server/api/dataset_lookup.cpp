// How a request names a dataset: "X" in the client's own namespace, "<user>/X" in another's
// (docs/protocol.md, "Dataset names"). Reading and creating ask the access policy.
#include "server/api/dataset_lookup.h"

#include "common/names.h"
#include "server/daemon.h"

namespace shmpool {

DatasetPtr find_readable(const Call& c, const std::string& asked) {
    DatasetName n = parse_dataset_name(asked, c.peer().uid);
    DatasetPtr ds = c.daemon->store().find(n.owner_uid, n.name);
    c.access().require_read(c.peer(), *ds, asked);
    return ds;
}

std::string name_to_create(const Call& c, const std::string& asked) {
    DatasetName n = parse_dataset_name(asked, c.peer().uid);
    c.access().require_own_namespace(c.peer(), n.owner_uid, asked);
    check_dataset_name(n.name);
    return n.name;
}

}  // namespace shmpool
