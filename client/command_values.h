// Parsers for the values on the CLI's command line: counts, shapes, dtypes, KEY=VALUE pairs.
// Each throws UsageError naming the option and the offending text.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shmpool::cli {

// A decimal unsigned integer ("0", "4000"); `what` names it in the error ("--chunk").
uint64_t parse_count(const std::string& text, const std::string& what);
// "4000,64" -> {4000, 64}: 1 to 4 positive dims.
std::vector<uint64_t> parse_shape(const std::string& text);
// A dtype name the protocol knows ("float64"); returned unchanged.
std::string parse_dtype(const std::string& text);
// KEY=VALUE words -> {key: value}; `what` ("--in") and `form` ("ROLE=DATASET") name them in errors.
// Keys must be non-empty and distinct.
std::map<std::string, std::string> parse_assignments(const std::vector<std::string>& words,
                                                     const std::string& what, const std::string& form);
// The JSON value VALUE denotes if it parses (3, 2.5, true, [1,2], "x"), else VALUE as a string.
nlohmann::json parse_param_value(const std::string& text);
// KEY=VALUE words -> a JSON object, values through parse_param_value.
nlohmann::json parse_params(const std::vector<std::string>& words);

}  // namespace shmpool::cli
