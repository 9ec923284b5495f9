// A reducing job's `value` as C++ numbers (docs/protocol.md): integer results stay exact
// integers (int64_t, or uint64_t past INT64_MAX), others are doubles.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

namespace shmpool {

// monostate: no value (null: the job has not ended, or it does not reduce).
using JobValue = std::variant<std::monostate, int64_t, uint64_t, double>;

// The `value` of a job description: a JSON integer as int64_t (uint64_t when it does not fit),
// a JSON float as double, "nan"/"inf"/"-inf" as those doubles, null or absent as monostate.
// Throws std::invalid_argument for anything else (a daemon would never send it).
JobValue job_value(const nlohmann::json& job);

// The value as JSON again (integers exact, non-finite doubles by name): for printing.
nlohmann::json job_value_json(const JobValue& value);

}  // namespace shmpool
