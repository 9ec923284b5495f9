// bilinear_exp_sum's tile loops on the DoubleVec of the SIMD path being compiled (included by
// loops_path.cpp only): the cells and weights of a tile of points, and Σ exp(f) over a tile.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/simd_exp.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace bilinear {

// Lane helpers for the tile loops, on a double or a DoubleVec (see simd.h).
inline double every_other(double, const double* p) { return *p; }  // p[0], p[2], ...: x or y of points
inline DoubleVec every_other(const DoubleVec&, const double* p) { return DoubleVec([&](auto l) { return p[2 * l]; }); }
inline double floor_of(double v) { return std::floor(v); }
inline DoubleVec floor_of(const DoubleVec& v) { return stdx::floor(v); }
inline double min_of(double a, double b) { return std::min(a, b); }
inline DoubleVec min_of(const DoubleVec& a, const DoubleVec& b) { return stdx::min(a, b); }
inline void store_index(double v, uint32_t* to) { *to = uint32_t(v); }
inline void store_index(const DoubleVec& v, uint32_t* to) {
    using IndexVec = stdx::rebind_simd_t<uint32_t, DoubleVec>;
    stdx::static_simd_cast<IndexVec>(v).copy_to(to, stdx::element_aligned);
}

// base[index[l]] per lane. (Scalar loads: AVX-512's vgatherdpd measured 2x slower here, on AMD EPYC.)
inline double gather(double, const double* base, const uint32_t* index) { return base[*index]; }
inline DoubleVec gather(const DoubleVec&, const double* base, const uint32_t* index) {
    return DoubleVec([&](auto l) { return base[index[l]]; });
}

// The tile's cells and weights, a DoubleVec of points at a time; false if a point is outside.
inline bool fill_tile(const double* points, const BilinearGrid& grid, BilinearTile& t) {
    const double xmax = double(grid.nx - 1), ymax = double(grid.ny - 1), ny = double(grid.ny);
    bool inside = true;
    for_each_lane(t.count, [&](uint64_t j, auto zero) {
        if (!inside) return;  // the rest is not needed: the caller reports the point outside
        auto x = every_other(zero, points + 2 * j), y = every_other(zero, points + 2 * j + 1);
        if (any_lane(!(x >= 0.0 && x <= xmax && y >= 0.0 && y <= ymax))) {
            inside = false;
            return;
        }
        auto cx = min_of(floor_of(x), zero + (xmax - 1)), cy = min_of(floor_of(y), zero + (ymax - 1));
        auto wx0 = (cx + 1.0) - x, wx1 = x - cx, wy0 = (cy + 1.0) - y, wy1 = y - cy;
        store_index(cx * ny + cy, t.cell + j);
        store(wx0 * wy0, t.w00 + j), store(wx0 * wy1, t.w01 + j);
        store(wx1 * wy0, t.w10 + j), store(wx1 * wy1, t.w11 + j);
    });
    return inside;
}

// Σ exp(f(x_i, y_i)) over the tile's points for one grid: 4 gathers, 4 FMAs and an exp.
inline double tile_sum(const BilinearTile& t, const double* grid, uint64_t grid_ny) {
    const uint32_t ny = uint32_t(grid_ny);
    DoubleVec lanes(0.0);
    double rest = 0;
    for_each_lane(t.count, [&](uint64_t j, auto zero) {
        constexpr bool scalar = std::is_same_v<decltype(zero), double>;
        auto at = [&](uint32_t delta) { return gather(zero, grid + delta, t.cell + j); };
        auto f = at(0) * load_like(zero, t.w00 + j) + at(1) * load_like(zero, t.w01 + j) +
                 at(ny) * load_like(zero, t.w10 + j) + at(ny + 1) * load_like(zero, t.w11 + j);
        if constexpr (scalar) rest += exp_of(f);
        else lanes += exp_of(f);
    });
    return stdx::reduce(lanes) + rest;
}

}  // namespace bilinear
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
