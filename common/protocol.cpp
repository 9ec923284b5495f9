// The wire format: one JSON object per line. Parsing a request line (with a nesting limit),
// typed access to its fields with stable error codes, and the reply and error objects.
#include "common/protocol.h"

namespace shmpool {
namespace {

[[noreturn]] void bad_field(const char* key, const char* want) {
    throw Error(ErrorCode::bad_request, std::string("field '") + key + "' must be " + want);
}

const nlohmann::json* find_field(const nlohmann::json& obj, const char* key) {
    auto it = obj.find(key);
    return (it == obj.end() || it->is_null()) ? nullptr : &*it;
}

}  // namespace

nlohmann::json parse_json_limited(std::string_view text) {
    auto limit_depth = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxJsonDepth)
            throw Error(ErrorCode::bad_json, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        return true;
    };
    if (text.find('\0') != std::string_view::npos)  // nlohmann's lexer would stop at it
        throw Error(ErrorCode::bad_json, "a NUL byte in the request line");
    try {
        return nlohmann::json::parse(text, limit_depth);
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::bad_json, std::string("not valid JSON: ") + e.what());
    }
}

Request parse_request(std::string_view line, nlohmann::json* id_out) {
    nlohmann::json body = parse_json_limited(line);
    if (!body.is_object()) throw Error(ErrorCode::bad_json, "a request must be a JSON object");
    Request req;
    if (auto it = body.find("id"); it != body.end()) req.id = *it;
    if (id_out) *id_out = req.id;
    req.verb = require_string(body, "verb");
    req.body = std::move(body);
    return req;
}

std::string require_string(const nlohmann::json& obj, const char* key) {
    auto v = optional_string(obj, key);
    if (!v) bad_field(key, "a string");
    return *v;
}

std::optional<std::string> optional_string(const nlohmann::json& obj, const char* key) {
    const nlohmann::json* v = find_field(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) bad_field(key, "a string");
    return v->get<std::string>();
}

uint64_t require_u64(const nlohmann::json& obj, const char* key) {
    auto v = optional_u64(obj, key);
    if (!v) bad_field(key, "a non-negative integer");
    return *v;
}

std::optional<uint64_t> optional_u64(const nlohmann::json& obj, const char* key) {
    const nlohmann::json* v = find_field(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number_unsigned()) bad_field(key, "a non-negative integer");
    return v->get<uint64_t>();
}

bool optional_bool(const nlohmann::json& obj, const char* key, bool fallback) {
    const nlohmann::json* v = find_field(obj, key);
    if (!v) return fallback;
    if (!v->is_boolean()) bad_field(key, "true or false");
    return v->get<bool>();
}

const nlohmann::json& require_object(const nlohmann::json& obj, const char* key) {
    const nlohmann::json* v = find_field(obj, key);
    if (!v || !v->is_object()) bad_field(key, "an object");
    return *v;
}

nlohmann::json reply_ok(const nlohmann::json& id, nlohmann::json result) {
    return {{"id", id}, {"ok", true}, {"result", std::move(result)}};
}

nlohmann::json reply_error(const nlohmann::json& id, ErrorCode code, const std::string& message) {
    return {{"id", id}, {"ok", false}, {"error", {{"code", error_code_name(code)}, {"message", message}}}};
}


DType require_dtype(const nlohmann::json& obj, const char* key) {
    std::string name = require_string(obj, key);
    auto t = dtype_from_name(name);
    if (!t) throw Error(ErrorCode::bad_request, "unknown dtype '" + name + "' (float64, float32, int64, int32, uint8)");
    return *t;
}

Shape require_shape(const nlohmann::json& obj, const char* key, DType t, uint64_t limit) {
    const nlohmann::json* v = find_field(obj, key);
    if (!v || !v->is_array()) throw Error(ErrorCode::bad_request, std::string("field '") + key + "' must be an array");
    if (v->empty() || v->size() > kMaxDims)
        throw Error(ErrorCode::bad_shape, "a shape has 1 to 4 dims, not " + std::to_string(v->size()));
    uint64_t dims[kMaxDims] = {};
    for (size_t i = 0; i < v->size(); ++i) {
        const auto& d = (*v)[i];
        if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned()))
            throw Error(ErrorCode::bad_shape, "dim " + std::to_string(i) + " of the shape is " + d.dump() +
                                                  ", not a positive integer");
        dims[i] = d.get<uint64_t>();
    }
    return make_shape(dims, static_cast<int>(v->size()), t, limit);
}

}  // namespace shmpool
