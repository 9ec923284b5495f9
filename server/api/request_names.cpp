// How a request names other users' things: "<user>/<name>" datasets and share targets
// (docs/protocol.md, "Whose dataset"). Names resolve through NSS; nothing else is touched.
#include "server/api/request_names.h"

#include "common/error.h"
#include "common/names.h"
#include "server/api/peer_access.h"

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

}  // namespace

DatasetName parse_dataset_name(const std::string& asked, uid_t caller) {
    size_t slash = asked.find('/');
    if (slash == std::string::npos) return {caller, asked};
    std::string user = asked.substr(0, slash), name = asked.substr(slash + 1);
    if (user.empty() || name.find('/') != std::string::npos)
        throw Error(ErrorCode::bad_name, "'" + asked + "': another user's dataset is named '<user or uid>/<name>'");
    check_dataset_name(name);
    return {resolve_user(user, "dataset name"), name};
}

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

}  // namespace shmpool
