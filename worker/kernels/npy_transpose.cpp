// The transpose walks square blocks of one cache line's worth of elements a side, so every
// line it reads or writes is used whole while it is in L1; the byte swap is fused into it.
#include "worker/kernels/npy_transpose.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace shmpool {
namespace {

template <class T> T swapped(T v) {
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
    else if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    else if constexpr (sizeof(T) == 8) return __builtin_bswap64(v);
    else return v;
}

template <class T, bool Swap>
void transpose_as(const T* src, uint64_t src_stride, T* dst, uint64_t dst_stride, uint64_t rows, uint64_t cols) {
    constexpr uint64_t kBlock = std::max<uint64_t>(16, 64 / sizeof(T));
    for (uint64_t r0 = 0; r0 < rows; r0 += kBlock) {
        uint64_t r1 = std::min(rows, r0 + kBlock);
        for (uint64_t c0 = 0; c0 < cols; c0 += kBlock) {
            uint64_t c1 = std::min(cols, c0 + kBlock);
            for (uint64_t c = c0; c < c1; ++c) {
                T* d = dst + c * dst_stride;
                const T* s = src + c;
                for (uint64_t r = r0; r < r1; ++r) d[r] = Swap ? swapped(s[r * src_stride]) : s[r * src_stride];
            }
        }
    }
}

template <class T>
void transpose_typed(const void* src, uint64_t ss, void* dst, uint64_t ds, uint64_t rows, uint64_t cols, bool swap) {
    if (swap)
        transpose_as<T, true>(static_cast<const T*>(src), ss, static_cast<T*>(dst), ds, rows, cols);
    else
        transpose_as<T, false>(static_cast<const T*>(src), ss, static_cast<T*>(dst), ds, rows, cols);
}

template <class T> void byteswap_as(T* data, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) data[i] = swapped(data[i]);
}

[[noreturn]] void bad_size(size_t elem_bytes) {
    throw std::logic_error("npy element copy: unsupported element size " + std::to_string(elem_bytes));
}

}  // namespace

void transpose_elems(const void* src, uint64_t src_stride, void* dst, uint64_t dst_stride, uint64_t rows,
                     uint64_t cols, size_t elem_bytes, bool swap) {
    switch (elem_bytes) {
        case 1: return transpose_typed<uint8_t>(src, src_stride, dst, dst_stride, rows, cols, false);
        case 2: return transpose_typed<uint16_t>(src, src_stride, dst, dst_stride, rows, cols, swap);
        case 4: return transpose_typed<uint32_t>(src, src_stride, dst, dst_stride, rows, cols, swap);
        case 8: return transpose_typed<uint64_t>(src, src_stride, dst, dst_stride, rows, cols, swap);
        default: bad_size(elem_bytes);
    }
}

void byteswap_elems(void* data, uint64_t n, size_t elem_bytes) {
    switch (elem_bytes) {
        case 1: return;
        case 2: return byteswap_as(static_cast<uint16_t*>(data), n);
        case 4: return byteswap_as(static_cast<uint32_t*>(data), n);
        case 8: return byteswap_as(static_cast<uint64_t*>(data), n);
        default: bad_size(elem_bytes);
    }
}

}  // namespace shmpool
