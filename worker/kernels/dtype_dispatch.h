// Calls a generic function with a value of the C++ element type of a dataset dtype, so a
// kernel templated on its element type is instantiated once per dtype in one place.
#pragma once

#include <cstdint>
#include <string>

#include "common/array_meta.h"
#include "common/error.h"

namespace shmpool::kernels {

// f(double{}), f(float{}), f(int64_t{}), f(int32_t{}) or f(uint8_t{}) for `dtype`; its result.
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
    switch (dtype) {
        case DType::float64: return f(double{});
        case DType::float32: return f(float{});
        case DType::int64: return f(int64_t{});
        case DType::int32: return f(int32_t{});
        case DType::uint8: return f(uint8_t{});
    }
    throw Error(ErrorCode::internal, "unknown dtype " + std::to_string(int(dtype)));
}

constexpr bool is_float_dtype(DType dtype) { return dtype == DType::float64 || dtype == DType::float32; }

}  // namespace shmpool::kernels
