// A job's description in replies (docs/protocol.md, "job objects"): one function writes it for
// the daemon's job verbs and for shmpool-mpi's --json, so both always carry the same fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/partial.h"

namespace shmpool {

struct JobError {
    ErrorCode code;
    std::string message;
};

// What a reply says about one job, whoever ran it.
struct JobReport {
    uint64_t id = 0;
    std::string kernel;
    std::string_view state;  // "done", "failed", ... (job_state_name)
    uint64_t rows = 0, chunk = 0, ranges = 0, ranges_done = 0, ranges_requeued = 0, duplicates = 0;
    double queued_s = 0, run_s = 0;
    nlohmann::json output;  // the output dataset's info, or null
    ReduceOp reduce = ReduceOp::none;
    std::optional<Reduced> reduced;  // set once a reducing job is done
    std::optional<JobError> error;
};

nlohmann::json job_reply_json(const JobReport& r);

// JSON has no NaN or infinity: those are sent as the strings "nan", "inf", "-inf".
nlohmann::json json_number(double v);

}  // namespace shmpool
