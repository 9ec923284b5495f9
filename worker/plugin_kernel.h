// A kernel from a plugin: adapts one C descriptor of include/shmpool/kernel.h to the Kernel
// interface. Its plan runs in a short-lived child process, its start/run/finish in workers.
#pragma once

#include <string>
#include <vector>

#include "include/shmpool/kernel.h"
#include "worker/kernel.h"

namespace shmpool {

class PluginKernel : public Kernel {
public:
    // Checks the descriptor (name, roles, callbacks, params and description text); throws
    // std::invalid_argument saying what is wrong. `desc` must outlive the kernel.
    PluginKernel(const shmpool_kernel& desc, std::string file);

    std::string name() const override { return name_; }
    std::vector<std::string> roles() const override { return roles_; }
    nlohmann::json describe_params() const override { return params_; }
    std::string description() const override { return description_; }
    Plan plan(const PlanInput& in) const override;
    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override;

    const std::string& file() const { return file_; }  // the plugin it came from

private:
    const shmpool_kernel& desc_;
    std::string file_;
    std::string name_;
    std::vector<std::string> roles_;
    nlohmann::json params_;
    std::string description_;
};

}  // namespace shmpool
