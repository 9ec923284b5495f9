// A file's permission bits and POSIX access ACL, and what they grant a peer, judged as the
// kernel's generic_permission and posix_acl_permission do (capabilities other than root's aside).
#include "server/api/file_permissions.h"

#include <fcntl.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/unique_fd.h"

namespace shmpool {
namespace {

constexpr const char* kAclXattr = "system.posix_acl_access";

// The ACL xattr of the file a descriptor holds (any kind, O_PATH too, through its /proc link),
// empty when the file has none or its file system keeps none.
std::string acl_xattr_of(int fd, const std::string& label) {
    std::string path = "/proc/self/fd/" + std::to_string(fd), bytes(4096, '\0');
    for (int tries = 0; tries < 2; ++tries) {
        ssize_t n = getxattr(path.c_str(), kAclXattr, bytes.data(), bytes.size());
        if (n >= 0) return bytes.substr(0, size_t(n));
        if (errno == ENODATA || errno == ENOTSUP) return {};
        if (errno != ERANGE) throw Error(ErrorCode::io_error, sys_error_text("getxattr", "reading the ACL of " + label, errno));
        bytes.resize(bytes.size() * 16);
    }
    throw Error(ErrorCode::io_error, "reading the ACL of " + label + ": it is too large");
}

// `path` (from `dir_fd`; AT_FDCWD: absolute or from the working directory) opened O_PATH, a
// final symlink not followed unless `follow`; -1 with errno ENOENT when it does not exist.
UniqueFd open_path(int dir_fd, const std::string& path, bool follow, const std::string& label) {
    int fd = openat(dir_fd, path.c_str(), O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0 && errno != ENOENT) throw Error(ErrorCode::io_error, sys_error_text("open", "checking " + label, errno));
    return UniqueFd(fd);
}

uint16_t le16(const char* p) { return uint16_t(uint8_t(p[0]) | uint8_t(p[1]) << 8); }
uint32_t le32(const char* p) { return uint32_t(le16(p)) | uint32_t(le16(p + 2)) << 16; }

}  // namespace

// Each way in opens the file once and reads its mode and ACL from that one descriptor, so both
// describe the same inode even if the name is swapped meanwhile.
FilePermissions FilePermissions::of_fd(int fd, const std::string& label) {
    struct stat st {};
    if (fstat(fd, &st) != 0) throw Error(ErrorCode::io_error, sys_error_text("fstat", "checking " + label, errno));
    if (S_ISLNK(st.st_mode)) return FilePermissions(st, {}, label);  // a symlink (O_PATH) has no ACL
    return FilePermissions(st, acl_xattr_of(fd, label), label);
}

std::optional<FilePermissions> FilePermissions::at(int dir_fd, const std::string& name, const std::string& label) {
    UniqueFd entry = open_path(dir_fd, name, /*follow=*/false, label);
    if (!entry) return std::nullopt;
    return of_fd(entry.get(), label);
}

FilePermissions FilePermissions::of_path(const std::string& path, const std::string& label) {
    UniqueFd file = open_path(AT_FDCWD, path, /*follow=*/true, label);
    if (!file) throw Error(ErrorCode::io_error, sys_error_text("open", "checking " + label, ENOENT));
    return of_fd(file.get(), label);
}

FilePermissions::FilePermissions(const struct stat& st, const std::string& acl_xattr, const std::string& label) : st_(st) {
    if (acl_xattr.empty()) return;
    constexpr size_t kHeader = sizeof(posix_acl_xattr_header), kEntry = sizeof(posix_acl_xattr_entry);
    if (acl_xattr.size() < kHeader || (acl_xattr.size() - kHeader) % kEntry != 0 ||
        le32(acl_xattr.data()) != POSIX_ACL_XATTR_VERSION)
        throw Error(ErrorCode::io_error, "the ACL of " + label + " is not in Linux's xattr format");
    for (size_t at = kHeader; at < acl_xattr.size(); at += kEntry) {
        const char* e = acl_xattr.data() + at;
        acl_.push_back({le16(e), le16(e + 2), le32(e + 4)});
    }
}

bool FilePermissions::grants(const PeerCred& peer, unsigned want) const {
    if (peer.uid == 0) return true;
    if (!acl_.empty()) return acl_grants(peer, want);
    unsigned granted = st_.st_uid == peer.uid        ? (st_.st_mode >> 6) & 7
                       : peer.in_group(st_.st_gid) ? (st_.st_mode >> 3) & 7
                                                   : st_.st_mode & 7;
    return (granted & want) == want;
}

// posix_acl_permission: the owner's entry, else a named user's through the mask, else any
// matching group entry (the owning group's or a named one) that grants all through the mask
// (a matching group that does not keeps others' entry from applying), else others'.
bool FilePermissions::acl_grants(const PeerCred& peer, unsigned want) const {
    bool group_matched = false;
    for (size_t i = 0; i < acl_.size(); ++i) {
        const AclEntry& e = acl_[i];
        switch (e.tag) {
            case ACL_USER_OBJ:
                if (st_.st_uid == peer.uid) return (e.perm & want) == want;
                break;
            case ACL_USER:
                if (e.id == peer.uid) return masked(i, want) == want;
                break;
            case ACL_GROUP_OBJ:
            case ACL_GROUP:
                if (peer.in_group(e.tag == ACL_GROUP_OBJ ? st_.st_gid : gid_t(e.id))) {
                    group_matched = true;
                    if ((e.perm & want) == want) return masked(i, want) == want;
                }
                break;
            case ACL_OTHER:
                return !group_matched && (e.perm & want) == want;
            default:  // ACL_MASK: applied through masked()
                break;
        }
    }
    return false;
}

// Entry i's bits of `want` through the mask that follows it, if any.
unsigned FilePermissions::masked(size_t entry, unsigned want) const {
    unsigned bits = acl_[entry].perm & want;
    for (size_t j = entry + 1; j < acl_.size(); ++j)
        if (acl_[j].tag == ACL_MASK) return bits & acl_[j].perm;
    return bits;
}

}  // namespace shmpool
