// Explicit SIMD for the kernels' elementwise loops, on std::experimental::simd (libstdc++ 11+).
// One generic loop body serves full vectors and the scalar tail, at any -O level and -march.
#pragma once

#include <cmath>
#include <cstdint>
// GCC 12.2 warns -W(maybe-)uninitialized inside the AVX-512 intrinsics' _mm512_undefined_pd()
// once they are inlined (a false positive, GCC bug 105593). The warning is placed in the
// intrinsics header, so silencing it around this include suffices.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <experimental/simd>
#pragma GCC diagnostic pop

// A translation unit compiled for one SIMD path (worker/kernels/simd/) defines SHMPOOL_SIMD_PATH;
// this inline namespace gives its copies of these helpers names of their own, so the linker
// never picks one path's instructions for another's caller.
#ifdef SHMPOOL_SIMD_PATH
#define SHMPOOL_SIMD_NS_JOIN(a, b) a##b
#define SHMPOOL_SIMD_NS_OF(path) SHMPOOL_SIMD_NS_JOIN(path_, path)
#define SHMPOOL_SIMD_NS SHMPOOL_SIMD_NS_OF(SHMPOOL_SIMD_PATH)
#else
#define SHMPOOL_SIMD_NS path_default
#endif

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {

namespace stdx = std::experimental;
using DoubleVec = stdx::native_simd<double>;  // 8 lanes with AVX-512, 2 with plain SSE2

// The same operations on a double and on a DoubleVec, so a loop body is written once.
// (Plain loops calling std::sqrt do not vectorize: sqrt may set errno.)
inline double load_like(double, const double* from) { return *from; }
inline DoubleVec load_like(const DoubleVec&, const double* from) { return DoubleVec(from, stdx::element_aligned); }
inline void store(double value, double* to) { *to = value; }
inline void store(const DoubleVec& value, double* to) { value.copy_to(to, stdx::element_aligned); }
inline double sqrt_of(double value) { return std::sqrt(value); }
inline DoubleVec sqrt_of(const DoubleVec& value) { return stdx::sqrt(value); }
inline double max_of(double a, double b) { return a < b ? b : a; }
inline DoubleVec max_of(const DoubleVec& a, const DoubleVec& b) { return stdx::max(a, b); }
inline double abs_of(double value) { return std::fabs(value); }
inline DoubleVec abs_of(const DoubleVec& value) { return stdx::abs(value); }
constexpr uint64_t lanes_of(double) { return 1; }
constexpr uint64_t lanes_of(const DoubleVec&) { return DoubleVec::size(); }
inline bool any_lane(bool flag) { return flag; }
inline bool any_lane(const DoubleVec::mask_type& flags) { return stdx::any_of(flags); }

// Calls body(j, zero) for j = 0, L, 2L, ... while L lanes fit in [0, count), with zero a
// DoubleVec of L zeros, then body(j, 0.0) for each leftover j. The body works on
// decltype(zero): load_like(zero, p + j), arithmetic, store(value, q + j).
template <class Body>
inline void for_each_lane(uint64_t count, Body&& body) {
    constexpr uint64_t kLanes = DoubleVec::size();
    uint64_t j = 0;
    for (; j + kLanes <= count; j += kLanes) body(j, DoubleVec(0.0));
    for (; j < count; ++j) body(j, 0.0);
}

}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
