// Who may do what: the one place every access rule of the protocol lives (docs/security.md,
// "Who may do what"). One function per rule; the router and the handlers ask it with the peer.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>

#include "server/api/file_permissions.h"
#include "server/api/peer_access.h"

namespace shmpool {

struct Dataset;

// A file or shm object the daemon opened for a client, as fstat saw it on the descriptor.
enum class ObjectUse { read, write };

class AccessPolicy {
public:
    // Administrators: the daemon's own uid, root, and `admin_users` / `admin_groups` (comma
    // lists of names or ids); who may run code: the same two, and `code_users` / `code_groups`.
    // Throws Error(bad_name) for an unknown user or group.
    AccessPolicy(const std::string& admin_users, const std::string& admin_groups,
                 const std::string& code_users = "", const std::string& code_groups = "");

    // --- the daemon: shutdown, and whatever changes it for everyone
    bool is_admin(const PeerCred& peer) const;
    void require_admin(const PeerCred& peer, std::string_view verb) const;  // not_admin

    // --- code (users' Python functions) runs as the daemon's user: code_not_allowed for others
    void require_may_run_code(const PeerCred& peer) const;

    // --- datasets: private to their owner until shared; the admins may do anything
    bool may_read(const PeerCred& peer, const Dataset& ds) const;
    // Reading one the peer may not read looks like no dataset at all (unknown_dataset): a
    // probe learns nothing of another uid's private names.
    void require_read(const PeerCred& peer, const Dataset& ds, const std::string& asked) const;
    void require_owner(const PeerCred& peer, const Dataset& ds, std::string_view action) const;  // not_owner
    // A dataset is created only in the peer's own namespace (not_owner).
    void require_own_namespace(const PeerCred& peer, uid_t owner_uid, const std::string& asked) const;

    // --- jobs: their submitter (owner) and the admins follow, wait for and cancel them
    bool may_follow_job(const PeerCred& peer, uid_t job_owner) const;
    void require_job_owner(const PeerCred& peer, uid_t job_owner, uint64_t job_id) const;  // not_owner

    // --- no confused deputy: what the daemon opened for the peer, the peer could open itself
    // A shm object named by the client: its owner must be the peer (permission_denied).
    void require_owned_object(const PeerCred& peer, const struct stat& st, const std::string& label) const;
    // A file inside --allow-dir: its mode bits and ACL must let the peer read (put) or write
    // (save) it, as the kernel would judge by the peer's uid and groups (permission_denied).
    void require_file_access(const PeerCred& peer, const FilePermissions& file, ObjectUse use,
                             const std::string& label) const;
    // A directory the peer's path goes through (search), or a new file goes in (write + search).
    void require_dir_access(const PeerCred& peer, const FilePermissions& dir, ObjectUse use, const std::string& label) const;
    // A save over an existing `target` in directory `dir`: the peer must be able to write the
    // file, and a sticky directory (as /tmp) must let it replace it (permission_denied).
    void require_may_replace(const PeerCred& peer, const FilePermissions& dir, const FilePermissions& target,
                             const std::string& label) const;
    // Every directory from / down to `dir` (a resolved path) must let the peer search it.
    void require_path_search(const PeerCred& peer, const std::string& dir, const std::string& label) const;
    // A descriptor the client passed: readable through (not write-only, not O_PATH), else
    // permission_denied: the daemon's reopen must not read what the client could not.
    void require_read_descriptor(int fd, const std::string& label) const;

private:
    PeerPolicy admins_;
    PeerPolicy code_runners_;
};

}  // namespace shmpool
