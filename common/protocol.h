// The wire format: one JSON object per line. Parsing a request line (with a nesting limit),
// typed access to its fields with stable error codes, and the reply and error objects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/array_meta.h"
#include "common/error.h"

namespace shmpool {

constexpr size_t kDefaultMaxLine = 1 << 20;
constexpr int kMaxJsonDepth = 64;

struct Request {
    nlohmann::json id;  // echoed in the reply; null when absent
    std::string verb;
    nlohmann::json body;  // the whole request object
};

// Throws Error(bad_json) for text that is not a JSON object, Error(bad_request) for a
// missing or non-string verb. `id_out` receives the id as soon as it is known.
Request parse_request(std::string_view line, nlohmann::json* id_out = nullptr);
nlohmann::json parse_json_limited(std::string_view text);  // bad_json beyond kMaxJsonDepth

// Field access: absent optional fields give nullopt; wrong types are Error(bad_request).
std::string require_string(const nlohmann::json& obj, const char* key);
std::optional<std::string> optional_string(const nlohmann::json& obj, const char* key);
uint64_t require_u64(const nlohmann::json& obj, const char* key);
std::optional<uint64_t> optional_u64(const nlohmann::json& obj, const char* key);
bool optional_bool(const nlohmann::json& obj, const char* key, bool fallback);
const nlohmann::json& require_object(const nlohmann::json& obj, const char* key);

nlohmann::json reply_ok(const nlohmann::json& id, nlohmann::json result);
nlohmann::json reply_error(const nlohmann::json& id, ErrorCode code, const std::string& message);

// "dtype": one of the dataset types (bad_request otherwise).
DType require_dtype(const nlohmann::json& obj, const char* key);
// "shape": 1-4 positive integers whose byte size for `t` is at most `limit`
// (bad_shape for a wrong shape, too_large for an overflowing one).
Shape require_shape(const nlohmann::json& obj, const char* key, DType t, uint64_t limit);
}  // namespace shmpool
