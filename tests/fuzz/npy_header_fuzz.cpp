// libFuzzer target for the .npy header codec: any input must parse or throw shmpool::Error,
// within the buffer; whatever parses must format and re-parse to the same dtype, shape and
// layout, and a Fortran-order load's first and last tiles must lie inside the array.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/npy.h"
#include "common/npy_tiles.h"

namespace {

// Every successful parse must be self-consistent and survive a format/parse round trip.
void check_parsed(const shmpool::NpyHeader& h, size_t needed, size_t len) {
    if (h.data_offset != needed || needed > len) std::abort();
    std::string again = shmpool::format_npy_header(h.dtype, h.shape);
    shmpool::NpyHeader r = shmpool::parse_npy_header(again.data(), again.size());
    if (r.dtype != h.dtype || !(r.shape == h.shape) || r.data_bytes != h.data_bytes) std::abort();
    if (r.data_offset != again.size() || again.size() % 64 != 0) std::abort();
    if (!(r.layout == shmpool::NpyLayout{})) std::abort();
    std::string laid = shmpool::format_npy_header(h.dtype, h.shape, h.layout);
    shmpool::NpyHeader l = shmpool::parse_npy_header(laid.data(), laid.size());
    if (l.dtype != h.dtype || !(l.shape == h.shape) || !(l.layout == h.layout)) std::abort();
}

// The tiles a Fortran-order load of `h` would run: the far corners of the first and last
// tiles map inside the file's data and the dataset, and the last one ends the file.
void check_tiles(const shmpool::NpyHeader& h) {
    size_t es = shmpool::dtype_size(h.dtype);
    shmpool::FortranTiles tiles(h.shape, es);
    uint64_t elems = h.data_bytes / es;
    if (tiles.count() == 0 || tiles.max_tile_elems() == 0 || tiles.max_tile_elems() > elems) std::abort();
    for (uint64_t index : {uint64_t{0}, tiles.count() - 1}) {
        shmpool::FortranTiles::Tile t = tiles.tile(index);
        if (t.a_n == 0 || t.m_n == 0 || t.k_n == 0) std::abort();
        uint64_t a = t.a_lo + t.a_n - 1, m = t.m_lo + t.m_n - 1, k = t.k_lo + t.k_n - 1;
        if (tiles.file_elem(a, m, k) >= elems || tiles.out_elem(a, m, k) >= elems) std::abort();
    }
    shmpool::FortranTiles::Tile last = tiles.tile(tiles.count() - 1);
    if (tiles.file_elem(last.a_lo + last.a_n - 1, last.m_lo + last.m_n - 1, last.k_lo + last.k_n - 1) != elems - 1)
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // An exact-size copy, so ASan flags any read past the end even for size 0.
    std::unique_ptr<char[]> buf(new char[size]);
    std::copy(data, data + size, buf.get());
    size_t needed = 0;
    try {
        needed = shmpool::npy_header_bytes_needed(buf.get(), size);
    } catch (const shmpool::Error&) {
    }
    try {
        shmpool::NpyHeader h = shmpool::parse_npy_header(buf.get(), size);
        check_parsed(h, needed, size);
        check_tiles(h);
    } catch (const shmpool::Error&) {
    }
    return 0;
}
