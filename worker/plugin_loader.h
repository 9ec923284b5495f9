// Loads kernel plugins (shared libraries with the C ABI of include/shmpool/kernel.h) from a
// directory and registers their kernels; reports, one line per file, what it loaded or refused.
#pragma once

#include <string>
#include <vector>

namespace shmpool {

struct PluginLoadReport {
    std::vector<std::string> loaded;   // "plugin FILE: kernels 'a', 'b' (ABI 1)"
    std::vector<std::string> refused;  // "plugin FILE refused: REASON"
};

// dlopens every *.so in `dir` in name order and registers the kernels of each one whose ABI
// version matches and whose kernel names are all new; a file is loaded whole or refused
// whole (and closed). Never throws for a bad plugin or an unreadable dir: it reports it.
// Call it in the daemon before any worker forks (see register_kernel in worker/kernel.h).
PluginLoadReport load_plugins(const std::string& dir);

}  // namespace shmpool
