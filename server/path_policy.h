// What a client may read or write through the daemon by path: only files inside the
// configured --allow-dir directories, after resolving every symlink (none may lead out).
#pragma once

#include <string>
#include <vector>

namespace shmpool {

class PathPolicy {
public:
    // `dirs`: the allowed directories (resolved now; each must exist). Empty: no path allowed.
    // Throws Error(io_error) for a directory that cannot be resolved.
    explicit PathPolicy(const std::vector<std::string>& dirs);

    // The resolved path of an existing file to read. Throws Error(path_not_allowed) when it
    // lies outside every allowed directory, Error(io_error) when it cannot be resolved.
    std::string resolve_existing(const std::string& path) const;
    // The resolved path of a file to create: its directory must resolve inside an allowed one
    // and its last component must be a plain name. Same errors.
    std::string resolve_new(const std::string& path) const;
    const std::vector<std::string>& dirs() const { return dirs_; }

private:
    void require_inside(const std::string& resolved, const std::string& asked) const;

    std::vector<std::string> dirs_;
};

}  // namespace shmpool
