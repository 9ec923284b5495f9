// Human-readable output of the shmpool CLI: one printer per command over shared helpers.
// --json output does not come here: the CLI prints the daemon's reply as is.
#pragma once

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "client/command.h"

namespace shmpool::cli {

// Prints the `result` of a successful reply to `cmd` for a person.
void print_human(std::ostream& out, const Command& cmd, const nlohmann::json& result);

// One line describing a job: "job 7 rbf done: 72 ranges in 0.412 s -> D float64 6000x6000".
std::string job_line(const nlohmann::json& job);

}  // namespace shmpool::cli
