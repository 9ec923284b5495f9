// map's elementwise loops, every op on every dtype, for the SIMD path being compiled (included
// by loops_path.cpp only); the table of ops (their names and loops) that map.cpp looks up.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace map_ops {

// Float-only ops, computed in double: float64 gets glibc's result (within 1 ulp of exact;
// tanh 2), float32 gets the double result rounded once, which is the correctly rounded float
// but for rare double roundings.
struct Exp { static double of(double x) { return std::exp(x); } };
struct Log { static double of(double x) { return std::log(x); } };
struct Log1p { static double of(double x) { return std::log1p(x); } };
struct Sqrt { static double of(double x) { return std::sqrt(x); } };
struct Sin { static double of(double x) { return std::sin(x); } };
struct Cos { static double of(double x) { return std::cos(x); } };
struct Tanh { static double of(double x) { return std::tanh(x); } };
// scipy.special.expit's formula.
struct Sigmoid { static double of(double x) { return 1.0 / (1.0 + std::exp(-x)); } };

template <class F>
struct FloatOp {
    template <class T>
    static T of(T x) { return T(F::of(double(x))); }
};

// Ops on every dtype. Integers go through the unsigned type of the same width, so overflow
// wraps modulo 2^bits exactly as NumPy's (abs(INT64_MIN) == INT64_MIN, -uint8(1) == 255).
template <class T>
using Unsigned = std::make_unsigned_t<T>;

struct Abs {
    template <class T>
    static T of(T x) {
        if constexpr (std::is_floating_point_v<T>) return std::fabs(x);
        else if constexpr (std::is_unsigned_v<T>) return x;
        else return x < 0 ? T(Unsigned<T>(0) - Unsigned<T>(x)) : x;
    }
};

struct Negative {
    template <class T>
    static T of(T x) {
        if constexpr (std::is_floating_point_v<T>) return -x;
        else return T(Unsigned<T>(0) - Unsigned<T>(x));
    }
};

struct Square {
    template <class T>
    static T of(T x) {
        if constexpr (std::is_floating_point_v<T>) return x * x;
        else return T(uint64_t(Unsigned<T>(x)) * uint64_t(Unsigned<T>(x)));  // no int promotion
    }
};

// out[e] = Op::of(in[e]) for e in [first, first + count).
template <class Op, class T>
void apply(const void* in, void* out, uint64_t first, uint64_t count) {
    const T* src = static_cast<const T*>(in) + first;
    T* dst = static_cast<T*>(out) + first;
    for (uint64_t e = 0; e < count; ++e) dst[e] = Op::template of<T>(src[e]);
}

template <class F>
constexpr MapOpLoops float_op(std::string_view name) {
    return {name, {&apply<FloatOp<F>, double>, &apply<FloatOp<F>, float>, nullptr, nullptr, nullptr}};
}

template <class Op>
constexpr MapOpLoops any_op(std::string_view name) {
    return {name,
            {&apply<Op, double>, &apply<Op, float>, &apply<Op, int64_t>, &apply<Op, int32_t>, &apply<Op, uint8_t>}};
}

inline constexpr MapOpLoops kOps[] = {
    float_op<Exp>("exp"),   float_op<Log>("log"),         float_op<Log1p>("log1p"), float_op<Sqrt>("sqrt"),
    any_op<Square>("square"), any_op<Abs>("abs"),         any_op<Negative>("negative"), float_op<Sin>("sin"),
    float_op<Cos>("cos"),   float_op<Tanh>("tanh"),       float_op<Sigmoid>("sigmoid")};

}  // namespace map_ops
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
