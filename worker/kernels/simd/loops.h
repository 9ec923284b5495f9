// The hot loops compiled once per SIMD path (loops_path.cpp), as a table of functions per path:
// kernels call simd_loops(), the process's path; tests call simd_loops_for(each path).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "worker/kernels/simd/path.h"

namespace shmpool::kernels {

// bilinear_exp_sum: the cells and weights of up to kTilePoints points, as FITPACK's fpbisp
// computes them: cell c = floor(x) (the last cell at x = n-1), weights (c+1) - x and x - c per axis.
struct BilinearTile {
    static constexpr uint64_t kTilePoints = 512;
    uint64_t count = 0;
    alignas(64) uint32_t cell[kTilePoints];  // c_x·ny + c_y
    alignas(64) double w00[kTilePoints], w01[kTilePoints], w10[kTilePoints], w11[kTilePoints];
};

struct BilinearGrid {
    uint64_t nx, ny;  // at least 2×2, nx·ny < 2^32
};

// gaussian: a batch of output rows of an image, both passes, sums in A (double; or float for
// float32 images when the job asks for float32 sums). First the `entering` extended rows are
// copied (widened) into their ring rows (a null row: cval). Axis 0: for row b,
// line_b[r1 + j] = Σ_{k=-r0..r0} w0[|k|]·taps[b + r0 + k][j] for j in [0, width), rounded to T.
// Axis 1: line_b's ends (line_b[e] for e < r1 and e >= r1 + width) are set from line_source[e]
// (< 0: cval, else that element of the row), then dst_b[j] = Σ_k w1[|k|]·line_b[r1 + j + k],
// rounded to T. An axis left alone has radius 0 and weight 1. Axis 0 may compute up to
// `padded` >= width elements (whole vectors; ring rows and lines have room, and what lies past
// width in a ring row is finite).
template <class T, class A = double>
struct GaussianRows {
    uint64_t rows, width, padded;
    const T* const* entering_rows;  // input rows (null: cval) ...
    A* const* entering_slots;       // ... copied into these ring rows first
    uint64_t entering;
    const A* const* taps;  // row b's 2·r0 + 1 extended rows (in A) are taps[b .. b + 2·r0]
    const A* weights0;     // w0[0..r0]
    uint64_t radius0;
    const int64_t* line_source;  // of each extended index e in [0, width + 2·r1)
    const A* weights1;           // w1[0..r1]
    uint64_t radius1;
    A cval;
    A* lines;  // line_b = lines + b·line_stride, width + 2·r1 elements of scratch each
    uint64_t line_stride;
    T* dst;  // dst_b = dst + b·dst_stride
    uint64_t dst_stride;
};

// reduce: a compensated sum, value + comp (comp is 0 when the sum is inf or NaN); an extreme
// and the index of its first occurrence (or of the first NaN), as NumPy's min/argmin.
struct SumParts {
    double value = 0, comp = 0;
};

template <class T>
struct Best {
    T value;
    uint64_t index;
};

// cdist's non-euclidean metrics (minkowski2: p = 2, and p = 1 is cityblock), rows of X (n×d)
// against Y (m×d) into out (n×m): over y_transposed (Y as d×m, a TransposedPoints) when set,
// else over Y's rows; cosine reads y_norms, |Y[j]| of cdist_norms.
enum class CdistMetric { cityblock, chebyshev, cosine, minkowski2, minkowski };
struct CdistRows {
    CdistMetric metric;
    double p;  // minkowski
    const double *x, *y, *y_transposed, *y_norms;
    double* out;
    uint64_t n, m, d;
};

// rbf: out[i·n + j] = f(||p_i - p_j||) for rows i of points (n×d) against every point, the
// points also given transposed (coords[k·n + j], a TransposedPoints' copy).
struct RbfRows {
    const double *points, *coords;
    double* out;
    uint64_t n, d;
};

// euclidean's BLAS path (cdist's euclidean and sqeuclidean too), a row after the dgemm: row[j]
// holds -2·x·y_j and becomes max(x_sq + y_sq[j] + row[j], 0), its sqrt unless `squared`.
// cutoff: the cancellation bound of euclidean_loops.h's at_risk. at_risk_starts (room for m)
// receives the first index of each vector holding an entry at risk, in order.
struct EuclideanRow {
    double* row;
    const double* y_sq;
    double x_sq, cutoff;
    uint64_t m;
    bool squared;
    uint64_t* at_risk_starts;
};

// euclidean's direct path (small d): out[i·m + j] = ||x_i - y_j|| (squared when `squared`) for
// rows i of x (n×d) against every y_j, Y given transposed (coords[k·m + j]).
struct EuclideanDirectRows {
    const double *x, *coords;
    double* out;
    uint64_t m, d;
    bool squared;
};

// map: one op's loops, out[e] = op(in[e]) for e in [first, first + count), by dtype in DType
// order (float64, float32, int64, int32, uint8); null where the op does not take the dtype.
using MapApplyFn = void (*)(const void* in, void* out, uint64_t first, uint64_t count);
struct MapOpLoops {
    std::string_view name;
    std::array<MapApplyFn, 5> by_dtype;
};

inline constexpr uint64_t kMaxLanes = 8;  // doubles in the widest path's vector (AVX-512)

struct SimdLoops {
    SimdPath path;
    // Fills `tile` with points [0, tile.count) of `points` (x, y pairs); false when one lies
    // outside the grid or is NaN (the tile is then incomplete).
    bool (*bilinear_fill_tile)(const double* points, const BilinearGrid& grid, BilinearTile& tile);
    // Σ exp(f(x_i, y_i)) over the tile's points for one grid of ny columns.
    double (*bilinear_tile_sum)(const BilinearTile& tile, const double* grid, uint64_t ny);
    void (*gaussian_rows_f64)(const GaussianRows<double>& g);
    void (*gaussian_rows_f32)(const GaussianRows<float>& g);
    void (*gaussian_rows_f32_sums_f32)(const GaussianRows<float, float>& g);  // twice the lanes
    // reduce over p[0..n): Neumaier per DoubleVec lane, the path's lanes folded in order (so a
    // path's sums are those of a build compiled for it); extremes need n >= 1.
    SumParts (*sum_f64)(const double* p, uint64_t n);
    SumParts (*sum_f32)(const float* p, uint64_t n);
    Best<double> (*min_f64)(const double* p, uint64_t n);
    Best<double> (*max_f64)(const double* p, uint64_t n);
    Best<float> (*min_f32)(const float* p, uint64_t n);
    Best<float> (*max_f32)(const float* p, uint64_t n);
    void (*cdist_rows)(const CdistRows& job, uint64_t begin, uint64_t end);
    void (*cdist_norms)(const double* y, uint64_t m, uint64_t d, double* norms);
    void (*rbf_rows)(const RbfRows& job, uint64_t begin, uint64_t end);
    // Returns how many vectors hold an entry at risk of cancellation (their starts in
    // r.at_risk_starts, at most kMaxLanes entries each): the caller redoes those entries.
    uint64_t (*euclidean_finish_row)(const EuclideanRow& r);
    void (*euclidean_direct_rows)(const EuclideanDirectRows& job, uint64_t begin, uint64_t end);
    std::span<const MapOpLoops> map_ops;  // every op (simd/map_loops.h)
};

const SimdLoops& simd_loops();                  // of simd_path()
const SimdLoops* simd_loops_for(SimdPath path);  // null when the build lacks the path

}  // namespace shmpool::kernels
