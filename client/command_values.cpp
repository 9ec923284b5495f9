// Parsers for the values on the CLI's command line: counts, shapes, dtypes, KEY=VALUE pairs.
// Strict: "-1", "4k", "1e3" or an empty dim are usage errors, never silently wrapped numbers.
#include "client/command_values.h"

#include <charconv>

#include "client/command.h"
#include "common/array_meta.h"

namespace shmpool::cli {

uint64_t parse_count(const std::string& text, const std::string& what) {
    uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    bool digits_only = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits_only || ec != std::errc() || ptr != end)
        throw UsageError(what + " expects a non-negative integer, got '" + text + "'");
    return value;
}

std::vector<uint64_t> parse_shape(const std::string& text) {
    std::vector<uint64_t> dims;
    size_t start = 0;
    for (;;) {
        size_t comma = text.find(',', start);
        uint64_t dim = parse_count(text.substr(start, comma - start), "--shape");
        if (dim == 0) throw UsageError("--shape dims must be positive, got '" + text + "'");
        dims.push_back(dim);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (dims.size() > static_cast<size_t>(kMaxDims))
        throw UsageError("--shape takes 1 to " + std::to_string(kMaxDims) + " dims, got '" + text + "'");
    return dims;
}

std::string parse_dtype(const std::string& text) {
    if (!dtype_from_name(text))
        throw UsageError("--dtype must be one of float64 float32 int64 int32 uint8, got '" + text + "'");
    return text;
}

std::map<std::string, std::string> parse_assignments(const std::vector<std::string>& words,
                                                     const std::string& what, const std::string& form) {
    std::map<std::string, std::string> pairs;
    for (const std::string& word : words) {
        size_t eq = word.find('=');
        if (eq == 0 || eq == std::string::npos)
            throw UsageError(what + " expects " + form + ", got '" + word + "'");
        if (!pairs.emplace(word.substr(0, eq), word.substr(eq + 1)).second)
            throw UsageError(what + " " + word.substr(0, eq) + " is given twice");
    }
    return pairs;
}

nlohmann::json parse_param_value(const std::string& text) {
    nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    return value.is_discarded() ? nlohmann::json(text) : value;
}

nlohmann::json parse_params(const std::vector<std::string>& words) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [key, value] : parse_assignments(words, "--param", "KEY=VALUE")) params[key] = parse_param_value(value);
    return params;
}

}  // namespace shmpool::cli
