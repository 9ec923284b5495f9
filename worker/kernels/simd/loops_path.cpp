// One SIMD path's table of hot loops: CMake compiles this file once per path, each with that
// path's -march and SHMPOOL_SIMD_PATH (baseline, avx2, avx512 or native).
#include "worker/kernels/reduce_loops.h"
#include "worker/kernels/simd/bilinear_loops.h"
#include "worker/kernels/simd/cdist_loops.h"
#include "worker/kernels/simd/euclidean_loops.h"
#include "worker/kernels/simd/gaussian_loops.h"
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/simd/map_loops.h"
#include "worker/kernels/simd/rbf_loops.h"

#ifndef SHMPOOL_SIMD_PATH
#error "compile loops_path.cpp with -DSHMPOOL_SIMD_PATH=<path> (see CMakeLists.txt)"
#endif
#define SHMPOOL_LOOPS_JOIN(a, b) a##b
#define SHMPOOL_LOOPS_OF(path) SHMPOOL_LOOPS_JOIN(simd_loops_, path)

namespace shmpool::kernels {

extern const SimdLoops SHMPOOL_LOOPS_OF(SHMPOOL_SIMD_PATH);
const SimdLoops SHMPOOL_LOOPS_OF(SHMPOOL_SIMD_PATH) = {
    .path = SimdPath::SHMPOOL_SIMD_PATH,
    .bilinear_fill_tile = &bilinear::fill_tile,
    .bilinear_tile_sum = &bilinear::tile_sum,
    .gaussian_rows_f64 = &gaussian::filter_rows<double, double>,
    .gaussian_rows_f32 = &gaussian::filter_rows<float, double>,
    .gaussian_rows_f32_sums_f32 = &gaussian::filter_rows<float, float>,
    .sum_f64 = &reduce_loops::float_sum<double>,
    .sum_f32 = &reduce_loops::float_sum<float>,
    .min_f64 = &reduce_loops::span_extreme<false, double>,
    .max_f64 = &reduce_loops::span_extreme<true, double>,
    .min_f32 = &reduce_loops::span_extreme<false, float>,
    .max_f32 = &reduce_loops::span_extreme<true, float>,
    .cdist_rows = &cdist::rows,
    .cdist_norms = &cdist::norms,
    .rbf_rows = &rbf::rows,
    .euclidean_finish_row = &euclidean::finish_row,
    .euclidean_direct_rows = &euclidean::direct_rows,
    .map_ops = map_ops::kOps,
};

}  // namespace shmpool::kernels
