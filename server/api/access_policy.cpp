// Who may do what: the one place every access rule of the protocol lives (docs/security.md).
// Datasets and jobs by owner, shares and administrators; files and shm objects by their mode and ACL.
#include "server/api/access_policy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "server/datasets/dataset_store.h"

namespace shmpool {
namespace {

constexpr unsigned kRead = 4, kWrite = 2, kSearch = 1;

std::string uid_text(const PeerCred& peer) { return "uid " + std::to_string(peer.uid); }

}  // namespace

AccessPolicy::AccessPolicy(const std::string& admin_users, const std::string& admin_groups,
                           const std::string& code_users, const std::string& code_groups)
    : admins_(admin_users, admin_groups, "admin-users", "admin-groups"),
      code_runners_(code_users, code_groups, "code-users", "code-groups") {}

bool AccessPolicy::is_admin(const PeerCred& peer) const { return admins_.allows(peer); }

void AccessPolicy::require_admin(const PeerCred& peer, std::string_view verb) const {
    if (!is_admin(peer))
        throw Error(ErrorCode::not_admin, "'" + std::string(verb) + "' is for the daemon's administrators (its own uid, " +
                                              "root, admin-users, admin-groups); " + uid_text(peer) + " is not one");
}

void AccessPolicy::require_may_run_code(const PeerCred& peer) const {
    if (code_runners_.allows(peer)) return;
    throw Error(ErrorCode::code_not_allowed,
                uid_text(peer) + " may not run code on this daemon: its workers run as the daemon's user "
                                 "(allow it with code-users or code-groups, docs/security.md)");
}

bool AccessPolicy::may_read(const PeerCred& peer, const Dataset& ds) const {
    const DatasetShares& s = ds.shares;
    if (ds.owner_uid == peer.uid || s.all || s.users.count(peer.uid)) return true;
    for (gid_t g : s.groups)
        if (peer.in_group(g)) return true;
    return is_admin(peer);
}

void AccessPolicy::require_read(const PeerCred& peer, const Dataset& ds, const std::string& asked) const {
    if (!may_read(peer, ds)) throw Error(ErrorCode::unknown_dataset, "no dataset named '" + asked + "'");
}

void AccessPolicy::require_owner(const PeerCred& peer, const Dataset& ds, std::string_view action) const {
    if (ds.owner_uid != peer.uid && !is_admin(peer))
        throw Error(ErrorCode::not_owner, "dataset '" + ds.qualified_name() + "' belongs to uid " +
                                              std::to_string(ds.owner_uid) + "; only its owner may " +
                                              std::string(action) + " it");
}

void AccessPolicy::require_own_namespace(const PeerCred& peer, uid_t owner_uid, const std::string& asked) const {
    if (owner_uid != peer.uid)
        throw Error(ErrorCode::not_owner, "'" + asked + "' is in uid " + std::to_string(owner_uid) +
                                              "'s namespace; a client creates datasets only in its own");
}

bool AccessPolicy::may_follow_job(const PeerCred& peer, uid_t job_owner) const {
    return job_owner == peer.uid || is_admin(peer);
}

void AccessPolicy::require_job_owner(const PeerCred& peer, uid_t job_owner, uint64_t job_id) const {
    if (!may_follow_job(peer, job_owner))
        throw Error(ErrorCode::not_owner, "job " + std::to_string(job_id) + " belongs to uid " +
                                              std::to_string(job_owner) + "; only its submitter may follow or cancel it");
}

void AccessPolicy::require_owned_object(const PeerCred& peer, const struct stat& st, const std::string& label) const {
    if (st.st_uid != peer.uid)
        throw Error(ErrorCode::permission_denied, label + " belongs to uid " + std::to_string(st.st_uid) + ", not to " +
                                                      uid_text(peer) + " (pass its descriptor instead)");
}

void AccessPolicy::require_file_access(const PeerCred& peer, const FilePermissions& file, ObjectUse use,
                                       const std::string& label) const {
    if (!file.grants(peer, use == ObjectUse::read ? kRead : kWrite))
        throw Error(ErrorCode::permission_denied, label + ": " + uid_text(peer) + " may not " +
                                                      (use == ObjectUse::read ? "read" : "write") + " it itself");
}

void AccessPolicy::require_dir_access(const PeerCred& peer, const FilePermissions& dir, ObjectUse use,
                                      const std::string& label) const {
    unsigned bits = use == ObjectUse::read ? kSearch : kSearch | kWrite;
    if (!dir.grants(peer, bits))
        throw Error(ErrorCode::permission_denied, label + ": " + uid_text(peer) + " may not " +
                                                      (use == ObjectUse::read ? "enter" : "create files in") +
                                                      " this directory itself");
}

void AccessPolicy::require_may_replace(const PeerCred& peer, const FilePermissions& dir, const FilePermissions& target,
                                       const std::string& label) const {
    const struct stat &d = dir.st(), &t = target.st();
    bool sticky = (d.st_mode & S_ISVTX) && peer.uid != 0 && t.st_uid != peer.uid && d.st_uid != peer.uid;
    if (sticky)
        throw Error(ErrorCode::permission_denied, label + ": " + uid_text(peer) + " may not replace uid " +
                                                      std::to_string(t.st_uid) + "'s file in a sticky directory");
    if (!S_ISLNK(t.st_mode)) require_file_access(peer, target, ObjectUse::write, label);
}

void AccessPolicy::require_path_search(const PeerCred& peer, const std::string& dir, const std::string& label) const {
    for (size_t end = 0; end != std::string::npos;) {
        end = dir.find('/', end + 1);
        std::string prefix = end == std::string::npos ? dir : dir.substr(0, end);
        if (prefix.empty()) continue;
        std::string at = label + " (at '" + prefix + "')";
        require_dir_access(peer, FilePermissions::of_path(prefix, at), ObjectUse::read, at);
    }
}

void AccessPolicy::require_read_descriptor(int fd, const std::string& label) const {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) throw Error(ErrorCode::io_error, sys_error_text("fcntl", "checking " + label, errno));
    if ((flags & O_PATH) || (flags & O_ACCMODE) == O_WRONLY)
        throw Error(ErrorCode::permission_denied, label + " was not opened for reading");
}

}  // namespace shmpool
