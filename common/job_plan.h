// A job's plan, the one exchange between the daemon and a kernel's plan step: what the daemon
// knows of the job (params, inputs' metas) and what the kernel makes of it (output, rows, reduce).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/array_meta.h"
#include "common/partial.h"

namespace shmpool {

// What the daemon knows when it plans a job.
struct PlanInput {
    const nlohmann::json& params;
    const std::map<std::string, ArrayMeta>& inputs;  // role -> meta, every declared role present
};

struct Plan {
    std::optional<ArrayMeta> output;  // none: the kernel writes no dataset
    uint64_t rows = 0;                // the index space [0, rows) split into ranges
    ReduceOp reduce = ReduceOp::none; // how the daemon combines the ranges' partials
};

}  // namespace shmpool
