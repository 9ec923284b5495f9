// shmpool-mpi's command line: `run KERNEL --in ROLE=FILE.npy... [--param KEY=VALUE...]
// [--out FILE.npy] [--chunk ROWS] [--json] [--kernel-dir DIR]`, parsed the way the CLI parses it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace shmpool::mpi {

struct RunRequest {
    std::string kernel;
    std::map<std::string, std::string> inputs;  // role -> .npy path
    nlohmann::json params = nlohmann::json::object();
    std::optional<std::string> out;  // .npy path of the output
    uint64_t chunk = 0;              // rows per range; 0: automatic
    bool json = false;
    std::optional<std::string> kernel_dir;  // plugins to load, as the daemon's --kernel-dir
};

// Throws cli::UsageError naming the problem. `help` is set for --help / -h.
RunRequest parse_run_request(int argc, char** argv, bool* help);

extern const char* const kUsage;

}  // namespace shmpool::mpi
