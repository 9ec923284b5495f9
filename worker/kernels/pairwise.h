// Pairwise-distance building blocks: TransposedPoints (rbf, euclidean's direct path, cdist), and the
// X/Y checks and euclidean run (direct or BLAS with a cancellation guard) shared with cdist.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "worker/kernel.h"
#include "worker/kernels/simd.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {  // the loops below are compiled per SIMD path too (cdist)

// The metric of euclidean and rbf for TransposedPoints::map_rows_with: Σ_k (p[k] - q[k])².
// A metric has term(p, q) and combine(a, b) on doubles or DoubleVecs (combine over k starts
// from 0), and row(q): a value computed once per query row and handed to finish.
struct SquaredDifferences {
    template <class V>
    static V term(const V& p, const V& q) {
        V diff = p - q;
        return diff * diff;
    }
    template <class V>
    static V combine(const V& a, const V& b) { return a + b; }
    static double row(const double*) { return 0; }
};

// The loops over N points of d coordinates stored transposed, coords[k·N + j] = point j's k-th
// (a TransposedPoints' copy): the inner loop runs over contiguous points j, a DoubleVec at a time.
class TransposedView {
public:
    TransposedView(const double* coords, uint64_t count, uint64_t dims) : coords_(coords), count_(count), dims_(dims) {}
    const double* coords() const { return coords_; }

    // out[i·N + j] = finish(||p_j - q_i||²) for rows i in [begin, end) of `queries` (rows of d
    // coordinates) and every point p_j. `finish` takes and returns a double or a DoubleVec
    // (a generic lambda).
    template <class Finish>
    void map_rows(const double* queries, uint64_t begin, uint64_t end, double* out, Finish&& finish) const {
        map_rows_with(SquaredDifferences{}, queries, begin, end, out,
                      [&](const auto& sq, double, uint64_t) { return finish(sq); });
    }

    // The same for any metric: out[i·N + j] = finish(acc, metric.row(q_i), j) where acc combines
    // metric.term(p_j[k], q_i[k]) over k; acc is a double or a DoubleVec of lanes j, j+1, ...
    // Columns go in tiles whose coordinates stay in cache for all rows.
    template <class Metric, class Finish>
    void map_rows_with(const Metric& metric, const double* queries, uint64_t begin, uint64_t end, double* out,
                       Finish&& finish) const {
        for (uint64_t first = 0; first < count_; first += kTileCols) {
            uint64_t cols = std::min(kTileCols, count_ - first);
            for (uint64_t i = begin; i < end; ++i) {
                const double* q = queries + i * dims_;
                map_tile(metric, q, metric.row(q), first, cols, out + i * count_ + first, finish);
            }
        }
    }

private:
    static constexpr uint64_t kTileCols = 2048;  // d·16 KB of coordinates: in L2 for d <= 16

    // out[j - first] = finish(acc_j, row, j) for j in [first, first + cols).
    template <class Metric, class Finish>
    void map_tile(const Metric& metric, const double* q, double row, uint64_t first, uint64_t cols, double* out,
                  Finish& finish) const {
        for_each_lane(cols, [&](uint64_t j, auto zero) {
            using V = decltype(zero);
            V acc = zero;
            for (uint64_t k = 0; k < dims_; ++k)
                acc = metric.combine(acc, metric.term(load_like(zero, coords_ + k * count_ + first + j), V(q[k])));
            store(finish(acc, row, first + j), out + j);
        });
    }

    const double* coords_;
    uint64_t count_, dims_;
};

// A transposed copy of N×d row-major points (N·d doubles, once per job) and its loops.
class TransposedPoints {
public:
    TransposedPoints(const double* points, uint64_t count, uint64_t dims)
        : coords_(count * dims), view_(coords_.data(), count, dims) {
        for (uint64_t j = 0; j < count; ++j)
            for (uint64_t k = 0; k < dims; ++k) coords_[k * count + j] = points[j * dims + k];
    }
    TransposedPoints(const TransposedPoints&) = delete;  // view_ points into coords_
    TransposedPoints& operator=(const TransposedPoints&) = delete;

    const TransposedView& view() const { return view_; }
    template <class Finish>
    void map_rows(const double* queries, uint64_t begin, uint64_t end, double* out, Finish&& finish) const {
        view_.map_rows(queries, begin, end, out, std::forward<Finish>(finish));
    }

private:
    std::vector<double> coords_;
    TransposedView view_;
};

}  // namespace SHMPOOL_SIMD_NS

// X (n×d) against Y (m×d), n×m float64 output.
struct PairDims {
    uint64_t n, m, d;
};

// X and Y are float64 matrices with the same d, the n×m output fits, and m and d fit BLAS's
// 32-bit ints. Throws Error (dtype_mismatch, shape_mismatch, bad_shape, too_large).
PairDims check_pair_inputs(const ArrayMeta& x, const ArrayMeta& y);

// out[i,j] = ||X[i] - Y[j]||_2, or its square when `squared`, for rows i of each range:
// the euclidean kernel's run (worker/kernels/euclidean.cpp), also cdist's for these metrics.
std::unique_ptr<KernelRun> start_euclidean_run(const double* x, const double* y, double* out, PairDims dims,
                                               bool squared);

}  // namespace shmpool::kernels
