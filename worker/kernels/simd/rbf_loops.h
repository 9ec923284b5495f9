// rbf's rows on the DoubleVec of the SIMD path being compiled (included by loops_path.cpp only):
// F = r³/12 + r²/6 over a TransposedView, one sqrt per pair on the path's widest vectors.
#pragma once

#include "worker/kernels/pairwise.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace rbf {

// f(r) = r³/12 + r²/6 from r² = sq, for a double or a DoubleVec.
template <class T>
T of_squared(const T& sq) {
    T r = sqrt_of(sq);
    return sq * (r * (1.0 / 12.0) + 1.0 / 6.0);
}

inline void rows(const RbfRows& job, uint64_t begin, uint64_t end) {
    TransposedView(job.coords, job.n, job.d).map_rows(job.points, begin, end, job.out,
                                                      [](const auto& sq) { return of_squared(sq); });
}

}  // namespace rbf
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
