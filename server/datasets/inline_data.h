// Small arrays written inline in JSON (nested lists, C order): their shape, and the copy
// between JSON numbers and a dataset's bytes for each dtype, range-checked.
#pragma once

#include <nlohmann/json.hpp>

#include "common/array_meta.h"

namespace shmpool {

// The shape of rectangular nested lists of numbers (bad_shape if ragged or empty, too_large
// beyond `limit` bytes, bad_request for a value that is not a number).
Shape inline_shape(const nlohmann::json& data, DType t, uint64_t limit);
// Writes `data` (of shape `s`) into `dst`; values out of range for `t` are bad_request.
void write_inline(const nlohmann::json& data, DType t, const Shape& s, void* dst);
nlohmann::json read_inline(const void* src, DType t, const Shape& s);

}  // namespace shmpool
