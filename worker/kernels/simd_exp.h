// exp() on a DoubleVec (libstdc++'s simd exp calls the scalar exp lane by lane) and on a double,
// so a kernel's loop body written once with for_each_lane gets a vectorized exp, within ~1 ulp.
#pragma once

#include <cmath>
#include <cstdint>
#include <iterator>

#include "worker/kernels/simd.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {

inline double exp_of(double x) { return std::exp(x); }

namespace exp_detail {

// 2^k for integral k in [-1022, 1023] held in a DoubleVec: the exponent field built directly.
inline DoubleVec pow2(const DoubleVec& k) {
    using IntVec = stdx::rebind_simd_t<int64_t, DoubleVec>;
    IntVec bits = (stdx::static_simd_cast<IntVec>(k) + 1023) << 52;
    return stdx::__proposed::simd_bit_cast<DoubleVec>(bits);
}

// exp(r) for |r| <= ln2/2: Taylor to degree 13 (the remainder is below 1e-17 relative).
inline DoubleVec exp_reduced(const DoubleVec& r) {
    constexpr double kInvFactorials[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                         1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                         1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                         1.0 / 24.0,         1.0 / 6.0,         0.5,
                                         1.0,                1.0};
    DoubleVec p(kInvFactorials[0]);
    for (size_t i = 1; i < std::size(kInvFactorials); ++i) p = p * r + kInvFactorials[i];
    return p;
}

}  // namespace exp_detail

// exp(x) lane by lane: x = k·ln2 + r, exp(x) = 2^k·exp(r). Overflows to inf above ~709.78,
// underflows through the subnormals to 0 below ~-745.1, and keeps NaN.
inline DoubleVec exp_of(const DoubleVec& x) {
    constexpr double kLog2e = 1.4426950408889634074;
    constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln2's leading 32 bits: k·kLn2Hi is exact
    constexpr double kLn2Lo = 1.90821492927058770002e-10;
    constexpr double kShift = 6755399441055744.0;  // 1.5·2^52: adding it rounds to an integer
    DoubleVec clamped = stdx::min(stdx::max(x, DoubleVec(-746.0)), DoubleVec(710.0));
    DoubleVec k = (clamped * kLog2e + kShift) - kShift;
    DoubleVec r = (clamped - k * kLn2Hi) - k * kLn2Lo;
    // 2^k as 2^(k/2)·2^(k - k/2): both halves are normal numbers for k in [-1077, 1024]
    DoubleVec half = stdx::floor(k * 0.5);
    DoubleVec result = exp_detail::exp_reduced(r) * exp_detail::pow2(half) * exp_detail::pow2(k - half);
    stdx::where(stdx::isnan(x), result) = x;
    return result;
}

}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
