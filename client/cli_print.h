// Human-readable output of the shmpool CLI: one printer per command over shared helpers.
// --json output does not come here: the CLI prints the daemon's reply as is.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "client/command.h"

namespace shmpool::cli {

// Prints the `result` of a successful reply to `cmd` for a person.
void print_human(std::ostream& out, const Command& cmd, const nlohmann::json& result);

// One frame of `shmpool top`: a summary line, the workers, the jobs not ended. `ranges_per_s`
// is the throughput measured between two samples (none for the first).
void print_top_frame(std::ostream& out, const nlohmann::json& stats, const nlohmann::json& workers,
                     std::optional<double> ranges_per_s);

// One line describing a job: "job 7 rbf done: 72 ranges in 0.412 s -> D float64 6000x6000".
std::string job_line(const nlohmann::json& job);

}  // namespace shmpool::cli
