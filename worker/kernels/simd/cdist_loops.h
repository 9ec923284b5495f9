// cdist's non-euclidean metrics on the DoubleVec of the SIMD path being compiled (included by
// loops_path.cpp only): the blocked loop over k (larger d) and the transposed loop over j (small d).
#pragma once

#include <algorithm>
#include <cmath>

#include "worker/kernels/pairwise.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace cdist {

// The metrics (the concept of pairwise.h's SquaredDifferences): D = finish(acc, row(x), j) where
// acc combines term(x_k, y_k) over k; term, combine and finish take doubles or DoubleVecs, and
// `lanes` folds a DoubleVec of partial combinations (the blocked loop vectorizes over k).
struct SumMetric {
    static double lanes(const DoubleVec& acc) { return stdx::reduce(acc); }
    template <class V>
    static V combine(const V& a, const V& b) { return a + b; }
    static double row(const double*) { return 0; }
};

struct CityblockMetric : SumMetric {
    template <class V>
    static V term(const V& x, const V& y) { return abs_of(x - y); }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return acc; }
};

struct ChebyshevMetric {
    static double lanes(const DoubleVec& acc) { return stdx::hmax(acc); }
    static double combine(double a, double b) { return a < b ? b : a; }
    static DoubleVec combine(DoubleVec a, const DoubleVec& b) {
        stdx::where(a < b, a) = b;  // (max_of's out-of-line call halves the speed)
        return a;
    }
    template <class V>
    static V term(const V& x, const V& y) { return abs_of(x - y); }
    static double row(const double*) { return 0; }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return acc; }
};

// Minkowski with p = 2: sqrt(Σ (x - y)²) directly, to the 1e-12 of the other metrics.
struct Minkowski2Metric : SumMetric {
    template <class V>
    static V term(const V& x, const V& y) { return (x - y) * (x - y); }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return sqrt_of(acc); }
};

inline double pow_of(double x, double p) { return std::pow(x, p); }
inline DoubleVec pow_of(const DoubleVec& x, double p) { return stdx::pow(x, DoubleVec(p)); }

// (Σ |x - y|^p)^(1/p), as scipy computes it.
struct MinkowskiMetric : SumMetric {
    double p;
    template <class V>
    V term(const V& x, const V& y) const { return pow_of(abs_of(x - y), p); }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return pow_of(acc, 1.0 / p); }
};

// scipy's clip of a cosine: beyond ±1 it becomes ±1; NaN stays NaN.
inline double clip_unit(double c) { return std::fabs(c) > 1.0 ? std::copysign(1.0, c) : c; }
inline DoubleVec clip_unit(DoubleVec c) {
    stdx::where(abs_of(c) > 1.0, c) = stdx::copysign(DoubleVec(1.0), c);
    return c;
}

// 1 - x·y / (|x||y|), the cosine clipped to [-1, 1] as scipy does; NaN for a zero vector.
struct CosineMetric : SumMetric {
    uint64_t d;
    const double* y_norms;  // |Y[j]|, of norms() below
    template <class V>
    static V term(const V& x, const V& y) { return x * y; }
    double row(const double* x) const;  // |x|
    template <class V>
    V finish(const V& dot, double x_norm, uint64_t j) const {
        return 1.0 - clip_unit(dot / (x_norm * load_like(dot, y_norms + j)));
    }
};

// combine over k in [0, d) of metric.term(x[k], y[k]): full vectors, then the scalar tail.
template <class M>
double pair_reduce(const M& metric, const double* x, const double* y, uint64_t d) {
    constexpr uint64_t kLanes = DoubleVec::size();
    uint64_t k = 0;
    double acc = 0;  // the identity of + and of max over |values|
    if (d >= kLanes) {
        auto load = [](const double* p) { return DoubleVec(p, stdx::element_aligned); };
        DoubleVec lanes = metric.term(load(x), load(y));
        for (k = kLanes; k + kLanes <= d; k += kLanes) lanes = M::combine(lanes, metric.term(load(x + k), load(y + k)));
        acc = M::lanes(lanes);
    }
    for (; k < d; ++k) acc = M::combine(acc, metric.term(x[k], y[k]));
    return acc;
}

inline double CosineMetric::row(const double* x) const { return std::sqrt(pair_reduce(*this, x, x, d)); }

// Rows of Y per block: about 128 KB of Y stays in L2 while every row of the range passes.
constexpr uint64_t kBlockDoubles = 16384;

// row[j] for j in [first, last): the distances of x to Y's rows j. Kept out of line: inlined
// into blocked_rows' loops, GCC 12 tuning for this Rocket Lake (-march=native) ran out of
// registers and spilled x and its vector to the stack on every step over k (cityblock d=64
// 1.4x slower than the same loop before dispatch; objdump, see docs/benchmarks.md).
template <class M>
[[gnu::noinline]] void row_block(const M& metric, const double* x, const double* y, uint64_t d, uint64_t first,
                                 uint64_t last, double* row) {
    double x_state = metric.row(x);
    for (uint64_t j = first; j < last; ++j) row[j] = metric.finish(pair_reduce(metric, x, y + j * d, d), x_state, j);
}

// Larger d: per block of Y rows, each row of X, the inner loop over contiguous k.
template <class M>
void blocked_rows(const M& metric, const CdistRows& job, uint64_t begin, uint64_t end) {
    uint64_t block_rows = std::max<uint64_t>(1, kBlockDoubles / job.d);
    for (uint64_t first = 0; first < job.m; first += block_rows) {
        uint64_t last = std::min(job.m, first + block_rows);
        for (uint64_t i = begin; i < end; ++i)
            row_block(metric, job.x + i * job.d, job.y, job.d, first, last, job.out + i * job.m);
    }
}

template <class M>
void rows_of(const M& metric, const CdistRows& job, uint64_t begin, uint64_t end) {
    if (!job.y_transposed) return blocked_rows(metric, job, begin, end);
    TransposedView(job.y_transposed, job.m, job.d)
        .map_rows_with(metric, job.x, begin, end, job.out,
                       [&](const auto& acc, double row, uint64_t j) { return metric.finish(acc, row, j); });
}

inline void rows(const CdistRows& job, uint64_t begin, uint64_t end) {
    switch (job.metric) {
        case CdistMetric::cityblock: return rows_of(CityblockMetric{}, job, begin, end);
        case CdistMetric::chebyshev: return rows_of(ChebyshevMetric{}, job, begin, end);
        case CdistMetric::cosine: return rows_of(CosineMetric{{}, job.d, job.y_norms}, job, begin, end);
        case CdistMetric::minkowski2: return rows_of(Minkowski2Metric{}, job, begin, end);
        case CdistMetric::minkowski: return rows_of(MinkowskiMetric{{}, job.p}, job, begin, end);
    }
}

inline void norms(const double* y, uint64_t m, uint64_t d, double* out) {
    CosineMetric metric{{}, d, nullptr};
    for (uint64_t j = 0; j < m; ++j) out[j] = metric.row(y + j * d);
}

}  // namespace cdist
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
