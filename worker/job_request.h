// Checking a job request against its kernel and splitting its rows into ranges: the one code
// path the daemon's scheduler and shmpool-mpi share, so both accept, refuse and split alike.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "worker/kernel.h"

namespace shmpool {

// Rows [0, rows) cut into `count` ranges of `chunk` rows; the last one may be shorter.
struct RangeSplit {
    uint64_t rows = 0, chunk = 1, count = 0;

    uint64_t begin(uint64_t index) const { return index * chunk; }
    uint64_t end(uint64_t index) const { return std::min(rows, (index + 1) * chunk); }
    std::string describe(uint64_t index) const;  // "range 3 [30, 40)", as job errors name it
};

// The kernel a request may run under this name: internal ('_') kernels only for the daemon's
// own jobs, test kernels only when enabled. Throws Error(unknown_kernel) otherwise.
const Kernel& requested_kernel(const std::string& name, bool internal, bool test_kernels);

// The job's input roles: the kernel's own, plus the given ones for a kernel that takes any
// (checked as names, at most ctl::kMaxRoles). Throws Error(unknown_role) for a given role the
// kernel does not take, then Error(missing_role) for the first role it takes that is not given.
std::vector<std::string> check_input_roles(const Kernel& kernel, const std::vector<std::string>& given);

struct JobRequest {
    const Kernel& kernel;
    const nlohmann::json& params;
    const std::map<std::string, ArrayMeta>& inputs;  // role -> meta, checked by check_input_roles
    bool names_output = false;  // the request names an output
    uint64_t chunk = 0;         // rows per range; 0: automatic, about 8 ranges per worker
    uint64_t workers = 1;       // workers (or MPI ranks) the ranges are dealt to
    uint64_t max_ranges = 0;    // refuse a split into more ranges than this (too_many_ranges)
};

struct PlannedJob {
    Plan plan;
    RangeSplit split;
};

// Runs the kernel's plan (its validation of params and inputs) and splits its rows. Throws
// Error with the same codes and messages wherever a job is submitted.
PlannedJob plan_job(const JobRequest& req);

}  // namespace shmpool
