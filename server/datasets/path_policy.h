// What a client may read or write through the daemon by path: only files inside the
// configured --allow-dir directories, after resolving every symlink (none may lead out).
#pragma once

#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace shmpool {

class PathPolicy {
public:
    // `dirs`: the allowed directories (resolved and opened now; each must exist). Empty: no
    // path allowed. Throws Error(io_error) for a directory that cannot be resolved or opened.
    explicit PathPolicy(const std::vector<std::string>& dirs);

    // The resolved path of an existing file to read. Throws Error(path_not_allowed) when it
    // lies outside every allowed directory, Error(io_error) when it cannot be resolved.
    std::string resolve_existing(const std::string& path) const;
    // The resolved path of a file to create: its directory must resolve inside an allowed one
    // and its last component must be a plain name. Same errors.
    std::string resolve_new(const std::string& path) const;

    // resolve_existing, then the file opened read-only (O_NONBLOCK, close-on-exec) by open_resolved.
    UniqueFd open_existing(const std::string& path) const;
    // resolve_new, then the directory the new file goes in, opened O_PATH by open_resolved.
    // Create the file with openat(dir, name, O_CREAT | O_EXCL | O_NOFOLLOW).
    struct NewFileDir {
        UniqueFd dir;
        std::string name;      // the file's name in dir
        std::string resolved;  // the file's resolved path
    };
    NewFileDir open_new_parent(const std::string& path) const;
    // Opens a path resolve_* returned, relative to its allowed directory (held open since the
    // start) with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): a
    // component that became a symlink, or a way out, since the check is refused by the open
    // itself (path_not_allowed). `asked` names the path in errors. Without openat2 (ENOSYS)
    // it falls back to open(O_NOFOLLOW), logged once.
    UniqueFd open_resolved(const std::string& resolved, int flags, const std::string& asked) const;

    const std::vector<std::string>& dirs() const { return dirs_; }

private:
    void require_inside(const std::string& resolved, const std::string& asked) const;

    std::vector<std::string> dirs_;
    std::vector<UniqueFd> dir_fds_;  // O_PATH descriptors of dirs_, same order
};

}  // namespace shmpool
