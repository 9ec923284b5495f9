// Checks shared by the built-in kernels: roles, dtypes, shapes, params, output sizes, ranges.
// The one place that turns a bad job into an Error code and a message naming the culprit.
#include "worker/kernels/validate.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace shmpool::kernels {
namespace {

[[noreturn]] void fail_param(const std::string& name, const std::string& why, const nlohmann::json& value) {
    throw Error(ErrorCode::bad_param, "param '" + name + "' " + why + ", got " + value.dump());
}

std::string shape_text(const ArrayMeta& meta) {
    return std::string(dtype_name(meta.dtype)) + " " + meta.shape.to_string();
}

// The param's value as a finite double, or nullopt when the key is absent.
std::optional<double> number_param(const nlohmann::json& params, const std::string& name) {
    if (!params.is_object() || !params.contains(name)) return std::nullopt;
    const auto& value = params.at(name);
    if (!value.is_number()) fail_param(name, "must be a number", value);
    double number = value.get<double>();
    if (!std::isfinite(number)) fail_param(name, "must be finite", value);
    return number;
}

}  // namespace

void require_roles(const std::map<std::string, ArrayMeta>& inputs, const std::vector<std::string>& roles) {
    for (const auto& role : roles) input_meta(inputs, role);
    for (const auto& [role, meta] : inputs)
        if (std::find(roles.begin(), roles.end(), role) == roles.end())
            throw Error(ErrorCode::unknown_role, "the kernel takes no input role '" + role + "'");
}

const ArrayMeta& input_meta(const std::map<std::string, ArrayMeta>& inputs, const std::string& role) {
    auto it = inputs.find(role);
    if (it == inputs.end()) throw Error(ErrorCode::missing_role, "input role '" + role + "' is not given");
    return it->second;
}

void require_dtype(const std::string& role, const ArrayMeta& meta, DType want) {
    if (meta.dtype != want)
        throw Error(ErrorCode::dtype_mismatch, "input '" + role + "' must be " + std::string(dtype_name(want)) +
                                                   ", got " + shape_text(meta));
}

void require_ndim(const std::string& role, const ArrayMeta& meta, int want) {
    if (meta.shape.ndim != want)
        throw Error(ErrorCode::shape_mismatch, "input '" + role + "' must have " + std::to_string(want) +
                                                   " dims, got shape " + meta.shape.to_string() + " (" +
                                                   std::to_string(meta.shape.ndim) + " dims)");
}

void require_dtype_in(const std::string& role, const ArrayMeta& meta, std::initializer_list<DType> allowed) {
    if (std::find(allowed.begin(), allowed.end(), meta.dtype) != allowed.end()) return;
    std::string names;
    for (DType t : allowed) names += (names.empty() ? "" : " or ") + std::string(dtype_name(t));
    throw Error(ErrorCode::dtype_mismatch, "input '" + role + "' must be " + names + ", got " + shape_text(meta));
}

void require_ndim_in(const std::string& role, const ArrayMeta& meta, int min, int max) {
    if (meta.shape.ndim < min || meta.shape.ndim > max)
        throw Error(ErrorCode::shape_mismatch, "input '" + role + "' must have " + std::to_string(min) + " to " +
                                                   std::to_string(max) + " dims, got shape " +
                                                   meta.shape.to_string());
}

void require_float64_matrix(const std::string& role, const ArrayMeta& meta) {
    require_dtype(role, meta, DType::float64);
    require_ndim(role, meta, 2);
    if (meta.shape.dims[0] == 0 || meta.shape.dims[1] == 0)
        throw Error(ErrorCode::bad_shape, "input '" + role + "' has an empty shape " + meta.shape.to_string());
}

ArrayMeta float64_matrix_output(uint64_t rows, uint64_t cols) {
    ArrayMeta out;
    out.dtype = DType::float64;
    out.shape.ndim = 2;
    out.shape.dims = {rows, cols, 0, 0};
    checked_bytes(out.shape, out.dtype);  // throws too_large naming the shape
    return out;
}

void require_known_params(const nlohmann::json& params, std::initializer_list<std::string_view> known) {
    if (params.is_null()) return;
    if (!params.is_object()) throw Error(ErrorCode::bad_param, "params must be an object, got " + params.dump());
    for (const auto& [name, value] : params.items())
        if (std::find(known.begin(), known.end(), name) == known.end())
            fail_param(name, "is not a param of this kernel", value);
}

uint64_t param_count(const nlohmann::json& params, const std::string& name, uint64_t fallback, uint64_t min,
                     uint64_t max) {
    auto number = number_param(params, name);
    if (!number) return fallback;
    const auto& value = params.at(name);
    uint64_t count = 0;
    bool in_range = false;
    if (value.is_number_integer()) {  // exact: no detour through double
        bool negative = !value.is_number_unsigned() && value.get<int64_t>() < 0;
        count = negative ? 0 : value.get<uint64_t>();
        in_range = !negative && count >= min && count <= max;
    } else {
        if (*number != std::floor(*number)) fail_param(name, "must be an integer", value);
        in_range = *number >= double(min) && *number <= double(max);  // max <= 2^53: exact in double
        count = in_range ? uint64_t(*number) : 0;
    }
    if (!in_range)
        fail_param(name, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]", value);
    return count;
}

uint64_t index_rows_param(const nlohmann::json& params) {
    constexpr uint64_t kMaxIndexRows = uint64_t(1) << 53;
    return param_count(params, "rows", 1, 1, kMaxIndexRows);
}

double param_number(const nlohmann::json& params, const std::string& name, double fallback, double min,
                    double max) {
    if (!number_param(params, name)) return fallback;
    return number_value(name, params.at(name), min, max);
}

double number_value(const std::string& name, const nlohmann::json& value, double min, double max) {
    if (!value.is_number()) fail_param(name, "must be a number", value);
    double number = value.get<double>();
    if (!std::isfinite(number)) fail_param(name, "must be finite", value);
    if (number < min || number > max)
        fail_param(name, "must be in [" + nlohmann::json(min).dump() + ", " + nlohmann::json(max).dump() + "]", value);
    return number;
}

bool param_bool(const nlohmann::json& params, const std::string& name, bool fallback) {
    if (!params.is_object() || !params.contains(name)) return fallback;
    const auto& value = params.at(name);
    if (!value.is_boolean()) fail_param(name, "must be true or false", value);
    return value.get<bool>();
}

const ArrayView& input_view(const RunContext& ctx, const std::string& role) {
    auto it = ctx.inputs.find(role);
    if (it == ctx.inputs.end() || it->second.data == nullptr)
        throw KernelError("input role '" + role + "' is not mapped");
    return it->second;
}

void require_output(const RunContext& ctx, const ArrayMeta& want) {
    const ArrayMeta& got = ctx.output.meta;
    if (ctx.output.writable == nullptr) throw KernelError("the output is not mapped writable");
    if (got.dtype != want.dtype || !(got.shape == want.shape))
        throw KernelError("the output is " + shape_text(got) + ", the plan wants " + shape_text(want));
}

void require_range(uint64_t begin, uint64_t end, uint64_t rows) {
    if (begin > end || end > rows)
        throw KernelError("range [" + std::to_string(begin) + ", " + std::to_string(end) + ") is not within [0, " +
                          std::to_string(rows) + ")");
}

}  // namespace shmpool::kernels
