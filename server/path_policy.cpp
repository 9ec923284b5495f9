// What a client may read or write through the daemon by path: only files inside the
// configured --allow-dir directories, after resolving every symlink (none may lead out).
#include "server/path_policy.h"

#include <climits>
#include <cstdlib>
#include <cerrno>

#include "common/error.h"

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

}  // namespace

PathPolicy::PathPolicy(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) {
        std::string resolved;
        if (!real_path(d, &resolved))
            throw Error(ErrorCode::io_error, sys_error_text("realpath", "resolving --allow-dir '" + d + "'", errno));
        dirs_.push_back(resolved);
    }
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
