// Who may connect: the allow_users / allow_groups policy checked against a connection's
// SO_PEERCRED. Group membership counts the peer's primary gid and the user's supplementary groups.
#include "server/api/peer_access.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <string_view>
#include <algorithm>

#include "common/error.h"

namespace shmpool {
namespace {

constexpr size_t kNameBufBytes = 16384;
constexpr int kMaxGroups = 1024;

std::optional<uint32_t> numeric_id(const std::string& text) {
    uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// The id of a user or group given by number or by name; `lookup` is getpwnam_r or getgrnam_r.
template <class Entry, class Id, class Lookup>
Id resolve_id(const std::string& name, Lookup lookup, Id Entry::*id, const char* setting, const char* kind) {
    if (auto number = numeric_id(name)) return *number;
    Entry entry{}, *found = nullptr;
    std::string buf(kNameBufBytes, '\0');
    if (lookup(name.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || !found)
        throw Error(ErrorCode::bad_name, std::string(setting) + ": no " + kind + " named '" + name + "'");
    return entry.*id;
}

uid_t resolve_user(const std::string& name, const char* setting) {
    return resolve_id(name, getpwnam_r, &passwd::pw_uid, setting, "user");
}

gid_t resolve_group(const std::string& name, const char* setting) {
    return resolve_id(name, getgrnam_r, &group::gr_gid, setting, "group");
}

// The supplementary groups of the user `uid` (empty when the uid has no passwd entry).
std::vector<gid_t> groups_of(uid_t uid, gid_t primary) {
    passwd pw{}, *found = nullptr;
    std::string buf(kNameBufBytes, '\0');
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return {};
    std::vector<gid_t> groups(kMaxGroups);
    int n = kMaxGroups;
    if (getgrouplist(pw.pw_name, primary, groups.data(), &n) < 0) return {};
    groups.resize(static_cast<size_t>(n));
    return groups;
}

}  // namespace

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::string_view rest(text);
    while (!rest.empty()) {
        size_t comma = std::min(rest.find(','), rest.size());
        std::string_view item = rest.substr(0, comma);
        rest.remove_prefix(std::min(comma + 1, rest.size()));
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) items.emplace_back(item);
    }
    return items;
}

PeerCred peer_credentials(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        throw Error(ErrorCode::internal, sys_error_text("getsockopt", "reading SO_PEERCRED of a new connection", errno));
    return PeerCred{cred.pid, cred.uid, cred.gid};
}

PeerPolicy::PeerPolicy(const std::string& users, const std::string& groups, const char* users_setting,
                       const char* groups_setting) {
    uids_ = {0, geteuid()};
    for (const auto& u : split_list(users)) uids_.insert(resolve_user(u, users_setting));
    for (const auto& g : split_list(groups)) gids_.insert(resolve_group(g, groups_setting));
}

bool PeerPolicy::allows(const PeerCred& peer) const { return uids_.count(peer.uid) || in_allowed_group(peer); }

bool PeerPolicy::in_allowed_group(const PeerCred& peer) const {
    if (gids_.empty()) return false;
    if (gids_.count(peer.gid)) return true;
    for (gid_t g : groups_of(peer.uid, peer.gid))
        if (gids_.count(g)) return true;
    return false;
}

std::string PeerPolicy::describe() const {
    std::string text = "uids";
    for (uid_t u : uids_) text.append(" ").append(std::to_string(u));
    text += gids_.empty() ? "; no group" : "; gids";
    for (gid_t g : gids_) text.append(" ").append(std::to_string(g));
    return text;
}

}  // namespace shmpool
