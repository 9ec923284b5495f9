// What a client may read or write through the daemon by path: only files inside the
// configured --allow-dir directories, after resolving every symlink (none may lead out), and
// opened beneath them with openat2 so nothing swapped in after the check can lead out either.
#include "server/datasets/path_policy.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cerrno>

#include "common/error.h"
#include "common/log.h"

namespace shmpool {
namespace {

// realpath(3); false with errno set when it fails.
bool real_path(const std::string& path, std::string* out) {
    char buf[PATH_MAX];
    if (!realpath(path.c_str(), buf)) return false;
    *out = buf;
    return true;
}

bool is_inside(const std::string& path, const std::string& dir) {
    if (dir == "/") return true;
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

std::string not_allowed_text(const std::string& asked) {
    return "'" + asked + "' is outside the directories this daemon may read and write (--allow-dir)";
}

// `resolved` relative to `dir` (which contains it, or is it).
std::string relative_to(const std::string& resolved, const std::string& dir) {
    if (resolved == dir) return ".";
    return resolved.substr(dir == "/" ? 1 : dir.size() + 1);
}

// openat2 (glibc 2.36 has no wrapper); -1 with errno set when it fails.
int openat2_beneath(int dir_fd, const std::string& relative, int flags) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof how));
}

// Without openat2, the check-then-open window stays (docs/security.md): say so once.
int open_without_openat2(const std::string& resolved, int flags) {
    static bool warned = false;
    if (!warned) {
        log_warn("openat2() is not available (ENOSYS): allowed paths are opened by their resolved name with "
                 "O_NOFOLLOW, so a directory swapped for a symlink between the check and the open is not caught");
        warned = true;
    }
    return open(resolved.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
}

}  // namespace

PathPolicy::PathPolicy(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) {
        std::string resolved;
        if (!real_path(d, &resolved))
            throw Error(ErrorCode::io_error, sys_error_text("realpath", "resolving --allow-dir '" + d + "'", errno));
        UniqueFd fd(open(resolved.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!fd) throw Error(ErrorCode::io_error, sys_error_text("open", "opening --allow-dir '" + d + "'", errno));
        dirs_.push_back(resolved);
        dir_fds_.push_back(std::move(fd));
    }
}

UniqueFd PathPolicy::open_resolved(const std::string& resolved, int flags, const std::string& asked) const {
    for (size_t i = 0; i < dirs_.size(); ++i) {
        if (resolved != dirs_[i] && !is_inside(resolved, dirs_[i])) continue;
        int fd = openat2_beneath(dir_fds_[i].get(), relative_to(resolved, dirs_[i]), flags);
        if (fd < 0 && errno == ENOSYS) fd = open_without_openat2(resolved, flags);
        if (fd >= 0) return UniqueFd(fd);
        if (errno == ELOOP || errno == EXDEV)
            throw Error(ErrorCode::path_not_allowed, "'" + asked + "' now leads through a symlink or out of its "
                                                         "allowed directory (it changed after it was checked)");
        throw Error(ErrorCode::io_error, sys_error_text("openat2", "opening '" + asked + "'", errno));
    }
    throw Error(ErrorCode::path_not_allowed, not_allowed_text(asked));
}

UniqueFd PathPolicy::open_existing(const std::string& path) const {
    return open_resolved(resolve_existing(path), O_RDONLY | O_NONBLOCK, path);
}

PathPolicy::NewFileDir PathPolicy::open_new_parent(const std::string& path) const {
    std::string resolved = resolve_new(path);
    size_t slash = resolved.find_last_of('/');
    UniqueFd dir = open_resolved(slash == 0 ? "/" : resolved.substr(0, slash), O_PATH | O_DIRECTORY, path);
    return {std::move(dir), resolved.substr(slash + 1), resolved};
}

void PathPolicy::require_inside(const std::string& resolved, const std::string& asked) const {
    for (const auto& d : dirs_)
        if (is_inside(resolved, d)) return;
    throw Error(ErrorCode::path_not_allowed, not_allowed_text(asked));
}

std::string PathPolicy::resolve_existing(const std::string& path) const {
    if (dirs_.empty() || path.empty() || path[0] != '/')
        throw Error(ErrorCode::path_not_allowed, not_allowed_text(path) + "; paths must be absolute");
    std::string resolved;
    if (!real_path(path, &resolved)) {
        int err = errno;
        std::string parent = path.substr(0, path.find_last_of('/') + 1);
        if (path.find("/..") != std::string::npos) throw Error(ErrorCode::path_not_allowed, not_allowed_text(path));
        require_inside(parent + ".", path);  // lexically outside: refuse without telling what exists
        throw Error(ErrorCode::io_error, sys_error_text("realpath", "resolving '" + path + "'", err));
    }
    require_inside(resolved, path);
    return resolved;
}

std::string PathPolicy::resolve_new(const std::string& path) const {
    if (dirs_.empty() || path.empty() || path[0] != '/')
        throw Error(ErrorCode::path_not_allowed, not_allowed_text(path) + "; paths must be absolute");
    size_t slash = path.find_last_of('/');
    std::string name = path.substr(slash + 1), parent = slash == 0 ? "/" : path.substr(0, slash);
    if (name.empty() || name == "." || name == "..")
        throw Error(ErrorCode::path_not_allowed, "'" + path + "' does not end in a file name");
    std::string resolved_parent;
    if (!real_path(parent, &resolved_parent)) {
        int err = errno;
        for (const auto& d : dirs_)
            if (parent == d || is_inside(parent, d))
                throw Error(ErrorCode::io_error, sys_error_text("realpath", "resolving '" + parent + "'", err));
        throw Error(ErrorCode::path_not_allowed, not_allowed_text(path));
    }
    std::string resolved = resolved_parent == "/" ? "/" + name : resolved_parent + "/" + name;
    require_inside(resolved, path);
    return resolved;
}

}  // namespace shmpool
