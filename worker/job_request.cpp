// Checking a job request against its kernel and splitting its rows into ranges: the one code
// path the daemon's scheduler and shmpool-mpi share, so both accept, refuse and split alike.
#include "worker/job_request.h"

#include "common/control.h"
#include "common/error.h"

namespace shmpool {
namespace {

constexpr uint64_t kRangesPerWorker = 8;  // automatic chunking: about this many per worker

RangeSplit split_rows(uint64_t rows, uint64_t chunk, uint64_t max_ranges) {
    uint64_t n = rows / chunk + (rows % chunk != 0);
    if (n > max_ranges)
        throw Error(ErrorCode::too_many_ranges, "job would have " + std::to_string(n) + " ranges, over the limit of " +
                                                    std::to_string(max_ranges) + "; use a larger chunk");
    return RangeSplit{rows, chunk, n};
}

}  // namespace

std::string RangeSplit::describe(uint64_t index) const {
    return "range " + std::to_string(index) + " [" + std::to_string(begin(index)) + ", " + std::to_string(end(index)) +
           ")";
}

const Kernel& requested_kernel(const std::string& name, bool internal, bool test_kernels) {
    const Kernel* kernel = find_kernel(name);
    if (!kernel || (name.starts_with('_') && !internal) || (kernel->test_only() && !test_kernels))
        throw Error(ErrorCode::unknown_kernel, "no kernel named '" + name + "'");
    return *kernel;
}

// A client-chosen role name fits the control segment and reads as an identifier.
static const std::string& checked_role_name(const std::string& role) {
    bool ok = !role.empty() && role.size() < ctl::kRoleBytes && !std::isdigit(static_cast<unsigned char>(role[0]));
    for (char ch : role) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
    if (!ok)
        throw Error(ErrorCode::bad_request, "input role '" + role + "' must be 1.." +
                                                std::to_string(ctl::kRoleBytes - 1) + " characters [A-Za-z0-9_], not a digit first");
    return role;
}

std::vector<std::string> check_input_roles(const Kernel& kernel, const std::vector<std::string>& given) {
    std::vector<std::string> roles = kernel.roles();
    for (const auto& role : given)
        if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
            if (!kernel.any_roles())
                throw Error(ErrorCode::unknown_role, "kernel '" + kernel.name() + "' takes no input '" + role + "'");
            roles.push_back(checked_role_name(role));
        }
    if (roles.size() > ctl::kMaxRoles)
        throw Error(ErrorCode::too_large, "a job takes at most " + std::to_string(ctl::kMaxRoles) + " inputs");
    for (const auto& role : roles)
        if (std::find(given.begin(), given.end(), role) == given.end())
            throw Error(ErrorCode::missing_role, "kernel '" + kernel.name() + "' needs input '" + role + "'");
    return roles;
}

PlannedJob plan_job(const JobRequest& req) {
    if (!req.params.is_object()) throw Error(ErrorCode::bad_param, "params must be a JSON object");
    Plan plan = req.kernel.plan(PlanInput{req.params, req.inputs});
    if (plan.rows == 0) throw Error(ErrorCode::bad_param, "the job has no rows to split");
    if (req.params.dump().size() >= ctl::kParamsBytes)
        throw Error(ErrorCode::too_large, "params exceed " + std::to_string(ctl::kParamsBytes) + " bytes of JSON");
    if (!plan.output && req.names_output)
        throw Error(ErrorCode::bad_request, "kernel '" + req.kernel.name() + "' writes no output dataset");
    uint64_t per = kRangesPerWorker * std::max<uint64_t>(1, req.workers);
    uint64_t chunk = req.chunk ? req.chunk : std::max<uint64_t>(1, (plan.rows + per - 1) / per);
    return PlannedJob{plan, split_rows(plan.rows, chunk, req.max_ranges)};
}

}  // namespace shmpool
