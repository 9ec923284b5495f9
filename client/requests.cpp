// Builders for every request of the protocol: verb names and argument fields in one place.
// Paths are sent absolute because the daemon resolves them against its own working directory.
#include "client/requests.h"

#include <filesystem>
#include <system_error>

namespace shmpool {

std::string absolute_path(const std::string& path) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(path, ec);
    if (ec) return path;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(abs, ec);
    return ec ? abs.lexically_normal().string() : canonical.string();
}

namespace requests {
namespace {

nlohmann::json with_name(std::string_view verb, const std::string& name) { return make(verb, {{"name", name}}); }

nlohmann::json with_job(std::string_view verb, uint64_t job) { return make(verb, {{"job", job}}); }

}  // namespace

nlohmann::json make(std::string_view verb, const nlohmann::json& args) {
    nlohmann::json req = args.is_object() ? args : nlohmann::json::object();
    req["verb"] = verb;
    return req;
}

nlohmann::json ping() { return make("ping"); }
nlohmann::json workers() { return make("workers"); }
nlohmann::json stats() { return make("stats"); }
nlohmann::json kernels() { return make("kernels"); }
nlohmann::json shutdown() { return make("shutdown"); }

nlohmann::json put_file(const std::string& name, const std::string& path) {
    return make("dataset.put", {{"name", name}, {"file", absolute_path(path)}});
}

nlohmann::json put_fd(const std::string& name) { return make("dataset.put", {{"name", name}, {"fd", true}}); }

nlohmann::json put_shm(const std::string& name, const std::string& shm_name, const std::string& dtype,
                       const std::vector<uint64_t>& shape) {
    return make("dataset.put", {{"name", name}, {"shm", shm_name}, {"dtype", dtype}, {"shape", shape}});
}

nlohmann::json put_data(const std::string& name, const nlohmann::json& data, const std::string& dtype) {
    return make("dataset.put", {{"name", name}, {"data", data}, {"dtype", dtype}});
}

nlohmann::json info(const std::string& name) { return with_name("dataset.info", name); }
nlohmann::json list() { return make("dataset.list"); }
nlohmann::json remove(const std::string& name) { return with_name("dataset.delete", name); }

nlohmann::json share(const std::string& name, const std::vector<std::string>& targets) {
    return make("dataset.share", {{"name", name}, {"with", targets}});
}

nlohmann::json unshare(const std::string& name, const std::vector<std::string>& targets) {
    if (targets.empty()) return with_name("dataset.unshare", name);
    return make("dataset.unshare", {{"name", name}, {"with", targets}});
}
nlohmann::json get(const std::string& name) { return with_name("dataset.get", name); }
nlohmann::json open(const std::string& name) { return with_name("dataset.open", name); }

nlohmann::json save(const std::string& name, const std::string& path) {
    return make("dataset.save", {{"name", name}, {"file", absolute_path(path)}});
}

nlohmann::json submit(const JobRequest& job) {
    nlohmann::json req = make("job.submit", {{"kernel", job.kernel},
                                             {"inputs", job.inputs},
                                             {"params", job.params.is_null() ? nlohmann::json::object() : job.params},
                                             {"wait", job.wait}});
    if (job.chunk != 0) req["chunk"] = job.chunk;
    if (job.output) req["output"] = *job.output;
    if (job.progress) req["progress"] = true;
    return req;
}

nlohmann::json status(uint64_t job) { return with_job("job.status", job); }
nlohmann::json wait(uint64_t job, bool progress) {
    nlohmann::json req = with_job("job.wait", job);
    if (progress) req["progress"] = true;
    return req;
}
nlohmann::json cancel(uint64_t job) { return with_job("job.cancel", job); }

}  // namespace requests
}  // namespace shmpool
