// Builders for every request of the protocol (docs/protocol.md): {"verb": ..., arguments}.
// The one place that knows verb and field names; Client's methods and the CLI both use it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shmpool {

// The arguments of job.submit. chunk 0 lets the daemon choose; no output = the daemon's default.
struct JobRequest {
    std::string kernel;
    std::map<std::string, std::string> inputs;  // role -> dataset name
    nlohmann::json params = nlohmann::json::object();
    uint64_t chunk = 0;
    std::optional<std::string> output;
    bool wait = false;
    bool progress = false;  // with wait: the daemon streams progress events until the reply
};

// `path` made absolute (symlinks resolved as far as it exists): the daemon has its own cwd.
std::string absolute_path(const std::string& path);

namespace requests {

// {"verb": verb} merged with the fields of `args` (an object).
nlohmann::json make(std::string_view verb, const nlohmann::json& args = nlohmann::json::object());

nlohmann::json ping();
nlohmann::json workers();
nlohmann::json kernels();
nlohmann::json shutdown();

nlohmann::json put_file(const std::string& name, const std::string& path);
nlohmann::json put_fd(const std::string& name);  // the descriptor is sent with the request
nlohmann::json put_shm(const std::string& name, const std::string& shm_name, const std::string& dtype,
                       const std::vector<uint64_t>& shape);
nlohmann::json put_data(const std::string& name, const nlohmann::json& data, const std::string& dtype);
nlohmann::json info(const std::string& name);
nlohmann::json list();
nlohmann::json remove(const std::string& name);
nlohmann::json save(const std::string& name, const std::string& path);
nlohmann::json get(const std::string& name);
nlohmann::json open(const std::string& name);
// Read-only shares: targets are "user", "uid", "@group", "@gid" or "*" (every allowed client).
nlohmann::json share(const std::string& name, const std::vector<std::string>& targets);
// Without targets: every share of the dataset is removed.
nlohmann::json unshare(const std::string& name, const std::vector<std::string>& targets);

nlohmann::json submit(const JobRequest& job);
nlohmann::json status(uint64_t job);
nlohmann::json wait(uint64_t job, bool progress = false);
nlohmann::json stats();
nlohmann::json cancel(uint64_t job);

}  // namespace requests
}  // namespace shmpool
