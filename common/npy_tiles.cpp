// The tiling of a Fortran-order .npy load: tile extents chosen so each pread reads a long
// contiguous run and a tile's buffer stays in the cache while it is transposed.
#include "common/npy_tiles.h"

#include <algorithm>

namespace shmpool {
namespace {

constexpr uint64_t kReadRunBytes = 16 << 10;  // bytes one pread of a tile reads, where the file allows
constexpr uint64_t kTileBytes = 512 << 10;    // a tile's bytes, at most (when a read run fits): it stays in L2

uint64_t blocks(uint64_t n, uint64_t per) { return n / per + (n % per != 0); }

}  // namespace

bool fortran_differs_from_c(const Shape& shape) {
    int above_one = 0;
    for (int i = 0; i < shape.ndim; ++i) above_one += shape.dims[i] > 1;
    return above_one > 1;
}

FortranTiles::FortranTiles(const Shape& shape, size_t elem_bytes) {
    int last = shape.ndim - 1;
    d0_ = shape.dims[0];
    dk_ = last > 0 ? shape.dims[last] : 1;
    for (int i = 1; i < last; ++i) mid_ *= shape.dims[i];
    if (shape.ndim == 4) {
        mid_first_ = shape.dims[1];
        mid_inner_ = shape.dims[2];
    }
    // Long reads first (each pread costs a page-cache lookup), then as many of them as the
    // budget leaves; the transpose's streaming stores make short runs in the dataset's rows cheap.
    uint64_t run = std::max<uint64_t>(1, kReadRunBytes / elem_bytes);
    uint64_t budget = std::max<uint64_t>(run, kTileBytes / elem_bytes);
    if (d0_ >= run) {
        a_ = run;  // a block of i0 per pread
    } else {
        a_ = d0_;  // whole file rows: consecutive middles are contiguous in the file
        m_ = std::min(mid_, blocks(run, d0_));
    }
    k_ = std::min(dk_, std::max<uint64_t>(1, budget / (a_ * m_)));
    n_a_ = blocks(d0_, a_);
    n_m_ = blocks(mid_, m_);
    n_k_ = blocks(dk_, k_);
}

FortranTiles::Tile FortranTiles::tile(uint64_t index) const {
    uint64_t k = index % n_k_, m = index / n_k_ % n_m_, a = index / n_k_ / n_m_;
    Tile t{a * a_, 0, m * m_, 0, k * k_, 0};
    t.a_n = std::min(a_, d0_ - t.a_lo);
    t.m_n = std::min(m_, mid_ - t.m_lo);
    t.k_n = std::min(k_, dk_ - t.k_lo);
    return t;
}

}  // namespace shmpool
