// How a Fortran-order .npy file maps onto a C-order dataset, cut into tiles that workers read
// and transpose one at a time: the geometry the daemon plans the load job with and workers run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/array_meta.h"

namespace shmpool {

// Whether Fortran and C order lay out `shape` differently: more than one dim is above 1.
bool fortran_differs_from_c(const Shape& shape);

// An array of dims (d0, middle..., dk) in Fortran order is, in the file, a C-order array of
// dims (dk, reversed middle, d0): element (i0, m, ik) lies at file element (ik*M + mf)*d0 + i0,
// where mf flattens the middle indices first-fastest, and at dataset element (i0*M + mc)*dk + ik,
// where mc flattens them last-fastest. A tile is a block of i0 x middle x ik: each of its ik
// is one pread of a contiguous run of the file (a block of i0, or several whole file rows when
// d0 is short), and its transpose writes runs of consecutive ik into the dataset.
class FortranTiles {
public:
    struct Tile {
        uint64_t a_lo, a_n;  // i0 in [a_lo, a_lo + a_n)
        uint64_t m_lo, m_n;  // mf in [m_lo, m_lo + m_n)
        uint64_t k_lo, k_n;  // ik in [k_lo, k_lo + k_n)
    };

    FortranTiles(const Shape& shape, size_t elem_bytes);

    uint64_t count() const { return n_a_ * n_m_ * n_k_; }
    uint64_t max_tile_elems() const { return a_ * m_ * k_; }
    uint64_t max_run_elems() const { return a_ * m_; }  // contiguous in the file, one per ik of a tile
    uint64_t max_runs() const { return k_; }
    // Tiles are numbered in the dataset's order: i0 blocks, then middle blocks, then ik blocks,
    // so a range of tiles writes one region of the dataset (its page-table entries stay cached).
    Tile tile(uint64_t index) const;
    uint64_t file_elem(uint64_t i0, uint64_t mf, uint64_t ik) const { return (ik * mid_ + mf) * d0_ + i0; }
    uint64_t out_elem(uint64_t i0, uint64_t mf, uint64_t ik) const {
        return (i0 * mid_ + c_middle(mf)) * dk_ + ik;
    }
    uint64_t out_row_stride() const { return mid_ * dk_; }  // dataset elements between i0 and i0 + 1
    // Whether the tile's runs follow one another in the file (whole file rows and middles):
    // one pread reads the tile.
    bool contiguous(const Tile& t) const { return t.a_n == d0_ && t.m_n == mid_; }

private:
    uint64_t c_middle(uint64_t mf) const { return mid_inner_ == 0 ? mf : (mf % mid_first_) * mid_inner_ + mf / mid_first_; }

    uint64_t d0_ = 1, dk_ = 1, mid_ = 1;
    uint64_t mid_first_ = 1, mid_inner_ = 0;  // 4-D: d1 and d2 (mc = i1*d2 + i2), else 0
    uint64_t a_ = 1, m_ = 1, k_ = 1;          // tile extents
    uint64_t n_a_ = 1, n_m_ = 1, n_k_ = 1;    // tiles along each
};

}  // namespace shmpool
