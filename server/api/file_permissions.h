// A file's permission bits and POSIX access ACL, read from what the daemon opened, and what they
// grant a peer as the kernel's own check would (fs/posix_acl.c): no confused deputy.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/api/peer_access.h"

namespace shmpool {

class FilePermissions {
public:
    // The file of a descriptor (any kind, O_PATH too), an entry of a directory descriptor (not
    // followed if a symlink), or a path (followed). Throw Error(io_error) naming `label`.
    static FilePermissions of_fd(int fd, const std::string& label);
    static std::optional<FilePermissions> at(int dir_fd, const std::string& name, const std::string& label);  // none: ENOENT
    static FilePermissions of_path(const std::string& path, const std::string& label);
    // From a stat and an ACL's xattr bytes (Linux's system.posix_acl_access; empty: none).
    // Throws Error(io_error) for bytes not in that format.
    FilePermissions(const struct stat& st, const std::string& acl_xattr, const std::string& label);

    const struct stat& st() const { return st_; }
    bool has_acl() const { return !acl_.empty(); }
    // Whether the peer gets every bit of `want` (rwx: 4, 2, 1): root always; else the ACL's
    // entries if the file has one (owner, named users and groups through the mask, others),
    // else the mode's owner, group or other class.
    bool grants(const PeerCred& peer, unsigned want) const;

private:
    struct AclEntry {
        uint16_t tag, perm;
        uint32_t id;
    };
    bool acl_grants(const PeerCred& peer, unsigned want) const;
    unsigned masked(size_t entry, unsigned want) const;

    struct stat st_ {};
    std::vector<AclEntry> acl_;  // in the kernel's order: user_obj, users, group_obj, groups, mask, other
};

}  // namespace shmpool
