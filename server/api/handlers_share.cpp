// Handlers of dataset.share and dataset.unshare: only a dataset's owner (or an admin) changes
// who may read it (server/api/request_names.h parses the lists); a share moves no bytes.
#include "server/api/dataset_lookup.h"
#include "server/api/request_names.h"
#include "server/daemon.h"

namespace shmpool {
namespace {

// The dataset a share or unshare names, which the client must own (or be an admin).
DatasetPtr owned_dataset(const Call& c, std::string_view action) {
    DatasetPtr ds = find_readable(c, require_string(c.args(), "name"));
    c.access().require_owner(c.peer(), *ds, action);
    return ds;
}

}  // namespace

// {"name": X, "with": [targets]}: X may be read by them too (read-only).
void handle_dataset_share(const Call& c) {
    DatasetPtr ds = owned_dataset(c, "share");
    if (!c.args().contains("with")) throw Error(ErrorCode::bad_request, "dataset.share needs 'with': [targets]");
    apply_share_list(ds->shares, c.args()["with"], true);
    c.ok(ds->describe());
}

// {"name": X, "with": [targets]} stops those shares; without "with", every share of X.
void handle_dataset_unshare(const Call& c) {
    DatasetPtr ds = owned_dataset(c, "unshare");
    if (c.args().contains("with"))
        apply_share_list(ds->shares, c.args()["with"], false);
    else
        ds->shares = DatasetShares{};
    c.ok(ds->describe());
}

}  // namespace shmpool
