// Handlers of dataset.share and dataset.unshare, and the share lists they (and put) take:
// only a dataset's owner (or an admin) changes who may read it; a share moves no bytes.
#include "server/api/share_list.h"

#include "server/api/dataset_lookup.h"
#include "server/api/peer_access.h"
#include "server/daemon.h"

namespace shmpool {
namespace {

constexpr size_t kMaxShareTargets = 1024;

void apply_one(DatasetShares& shares, const std::string& target, bool add) {
    if (target == "*") {
        shares.all = add;
    } else if (target.starts_with('@')) {
        gid_t g = resolve_group(target.substr(1), "share");
        add ? (void)shares.groups.insert(g) : (void)shares.groups.erase(g);
    } else {
        uid_t u = resolve_user(target, "share");
        add ? (void)shares.users.insert(u) : (void)shares.users.erase(u);
    }
}

// The dataset a share or unshare names, which the client must own (or be an admin).
DatasetPtr owned_dataset(const Call& c, std::string_view action) {
    DatasetPtr ds = find_readable(c, require_string(c.args(), "name"));
    c.access().require_owner(c.peer(), *ds, action);
    return ds;
}

}  // namespace

void apply_share_list(DatasetShares& shares, const nlohmann::json& list, bool add) {
    if (!list.is_array() || list.size() > kMaxShareTargets)
        throw Error(ErrorCode::bad_request, "a share list is an array of at most 1024 strings: "
                                            "\"user\", \"uid\", \"@group\", \"@gid\" or \"*\" (everyone allowed)");
    DatasetShares changed = shares;  // all or nothing: an unknown name changes no share
    for (const auto& item : list) {
        if (!item.is_string() || item.get<std::string>().empty())
            throw Error(ErrorCode::bad_request, "a share target must be a non-empty string");
        apply_one(changed, item.get<std::string>(), add);
    }
    shares = std::move(changed);
}

// {"name": X, "with": [targets]}: X may be read by them too (read-only).
void handle_dataset_share(const Call& c) {
    DatasetPtr ds = owned_dataset(c, "share");
    if (!c.args().contains("with")) throw Error(ErrorCode::bad_request, "dataset.share needs 'with': [targets]");
    apply_share_list(ds->shares, c.args()["with"], true);
    c.ok(ds->info());
}

// {"name": X, "with": [targets]} stops those shares; without "with", every share of X.
void handle_dataset_unshare(const Call& c) {
    DatasetPtr ds = owned_dataset(c, "unshare");
    if (c.args().contains("with"))
        apply_share_list(ds->shares, c.args()["with"], false);
    else
        ds->shares = DatasetShares{};
    c.ok(ds->info());
}

}  // namespace shmpool
