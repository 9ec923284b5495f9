// The hot loops compiled once per SIMD path (loops_path.cpp), as a table of functions per path:
// kernels call simd_loops(), the process's path; tests call simd_loops_for(each path).
#pragma once

#include <cstdint>

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

// gaussian: dst[j] = Σ_{k=-r..r} w[|k|]·taps[r+k][offset+j] for j in [0, count), in double;
// with cval_taps a null tap reads cval (constant mode), without no tap is null. Then the same
// for each of `rows` rows, row i reading taps + i and writing dst + i·dst_stride.
template <class Src, class Dst>
struct Correlation {
    const Src* const* taps;
    uint64_t offset, count;
    const double* weights;  // w[0..radius]
    uint64_t radius;
    bool cval_taps;
    double cval;
    Dst* dst;
    uint64_t rows = 1, dst_stride = 0;
};

// gaussian's axis-1 pass over `rows` rows of `width`: row i (src + i·width, which may be dst's)
// extended by radius each side into `line` (source[e] < 0 reads cval), correlated into dst + i·width.
template <class T>
struct LineFilter {
    const T* src;
    T* dst;
    uint64_t rows, width;
    const int64_t* source;  // of each extended index e in [0, width + 2·radius)
    const double* weights;
    uint64_t radius;
    double cval;
    double* line;                     // width + 2·radius doubles of scratch
    const double* const* line_taps;  // line + k for k in [0, 2·radius]
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

struct SimdLoops {
    SimdPath path;
    // Fills `tile` with points [0, tile.count) of `points` (x, y pairs); false when one lies
    // outside the grid or is NaN (the tile is then incomplete).
    bool (*bilinear_fill_tile)(const double* points, const BilinearGrid& grid, BilinearTile& tile);
    // Σ exp(f(x_i, y_i)) over the tile's points for one grid of ny columns.
    double (*bilinear_tile_sum)(const BilinearTile& tile, const double* grid, uint64_t ny);
    void (*correlate_f64)(const Correlation<double, double>& c);
    void (*correlate_f32)(const Correlation<float, float>& c);
    void (*filter_lines_f64)(const LineFilter<double>& f);
    void (*filter_lines_f32)(const LineFilter<float>& f);
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
};

const SimdLoops& simd_loops();                  // of simd_path()
const SimdLoops* simd_loops_for(SimdPath path);  // null when the build lacks the path

}  // namespace shmpool::kernels
