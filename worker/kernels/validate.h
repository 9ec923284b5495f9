// Checks shared by the built-in kernels: roles, dtypes, shapes, params, output sizes, ranges.
// Plan-time checks throw Error with a stable code and a message naming the role or param.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/array_meta.h"
#include "common/error.h"
#include "worker/kernel.h"

namespace shmpool::kernels {

// `inputs` holds exactly `roles`: missing_role or unknown_role otherwise.
void require_roles(const std::map<std::string, ArrayMeta>& inputs, const std::vector<std::string>& roles);
// The meta of `role`; missing_role if absent.
const ArrayMeta& input_meta(const std::map<std::string, ArrayMeta>& inputs, const std::string& role);

void require_dtype(const std::string& role, const ArrayMeta& meta, DType want);  // dtype_mismatch
void require_ndim(const std::string& role, const ArrayMeta& meta, int want);     // shape_mismatch
// The dtype is one of `allowed` (dtype_mismatch naming them); ndim in [min, max] (shape_mismatch).
void require_dtype_in(const std::string& role, const ArrayMeta& meta, std::initializer_list<DType> allowed);
void require_ndim_in(const std::string& role, const ArrayMeta& meta, int min, int max);
// A 2-D float64 matrix with no zero dim (dtype_mismatch, shape_mismatch, bad_shape).
void require_float64_matrix(const std::string& role, const ArrayMeta& meta);

// The meta of a rows×cols float64 output; too_large if its byte size overflows 64 bits.
ArrayMeta float64_matrix_output(uint64_t rows, uint64_t cols);

// `params` is null or an object whose keys are all in `known`; bad_param otherwise.
void require_known_params(const nlohmann::json& params, std::initializer_list<std::string_view> known);
// An integer param in [min, max] (an integral float such as 5.0 counts), or `fallback` when
// absent. bad_param on a wrong type, a fraction, NaN or a value out of range. max <= 2^53.
uint64_t param_count(const nlohmann::json& params, const std::string& name, uint64_t fallback, uint64_t min,
                     uint64_t max);
// The `rows` param of the kernels that take no inputs: the size of their index space,
// an integer in [1, 2^53] (exact in JSON and double), 1 when absent.
uint64_t index_rows_param(const nlohmann::json& params);
// A finite number param in [min, max], or `fallback` when absent; bad_param otherwise.
double param_number(const nlohmann::json& params, const std::string& name, double fallback, double min,
                    double max);
// `value` as a finite number in [min, max]; bad_param naming `name` (e.g. "sigma[1]") otherwise.
double number_value(const std::string& name, const nlohmann::json& value, double min, double max);
// A boolean param, or `fallback` when absent; bad_param otherwise.
bool param_bool(const nlohmann::json& params, const std::string& name, bool fallback);

// Worker-side checks: they throw KernelError, which fails the range, never the worker.
const ArrayView& input_view(const RunContext& ctx, const std::string& role);
void require_output(const RunContext& ctx, const ArrayMeta& want);  // output mapped, meta as planned
void require_range(uint64_t begin, uint64_t end, uint64_t rows);   // begin <= end <= rows

}  // namespace shmpool::kernels
