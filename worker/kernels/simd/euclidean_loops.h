// euclidean's loops on the DoubleVec of the SIMD path being compiled (loops_path.cpp), and the
// cancellation test its kernel (euclidean.cpp) applies again to each entry it may redo.
#pragma once

#include "worker/kernels/pairwise.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace euclidean {

// The distance from its square: sqrt, unless Squared; on a double or a DoubleVec.
template <bool Squared, class T>
T finish(const T& sq) {
    if constexpr (Squared) return sq;
    else return sqrt_of(sq);
}

// Whether cancellation may have spoiled dist, from the BLAS path's |x|² + |y|² = norms
// (the bound in euclidean.cpp); true for NaN, so the direct loop then decides the value.
template <bool Squared, class T>
auto at_risk(const T& dist, const T& norms, double cutoff) {
    if constexpr (Squared) return !(dist > cutoff * norms);
    else return !(dist * dist > cutoff * norms);
}

template <bool Squared>
uint64_t finish_row_as(const EuclideanRow& r) {
    static_assert(DoubleVec::size() <= kMaxLanes);
    uint64_t vectors_at_risk = 0;
    for_each_lane(r.m, [&](uint64_t j, auto zero) {
        auto norms = r.x_sq + load_like(zero, r.y_sq + j);
        auto dist = finish<Squared>(max_of(norms + load_like(zero, r.row + j), zero));
        store(dist, r.row + j);
        if (any_lane(at_risk<Squared>(dist, norms, r.cutoff))) r.at_risk_starts[vectors_at_risk++] = j;
    });
    return vectors_at_risk;
}

inline uint64_t finish_row(const EuclideanRow& r) { return r.squared ? finish_row_as<true>(r) : finish_row_as<false>(r); }

inline void direct_rows(const EuclideanDirectRows& job, uint64_t begin, uint64_t end) {
    TransposedView y(job.coords, job.m, job.d);
    if (job.squared) y.map_rows(job.x, begin, end, job.out, [](const auto& sq) { return finish<true>(sq); });
    else y.map_rows(job.x, begin, end, job.out, [](const auto& sq) { return finish<false>(sq); });
}

}  // namespace euclidean
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
