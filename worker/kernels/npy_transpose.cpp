// The transpose walks square blocks of 16 elements a side, so every line it reads is used
// while it is in L1, and writes 4- and 8-byte elements with streaming stores (movnti): the
// dataset's lines are written whole without being read first, which more than halves the
// cost of short runs in its rows. The byte swap is fused into it.
#include "worker/kernels/npy_transpose.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// Stores `v` at `p`, bypassing the cache where the CPU can (streaming_fence() orders them).
template <class T> void store_streaming(T* p, T v) {
#if defined(__x86_64__)
    if constexpr (sizeof(T) == 8) return _mm_stream_si64(reinterpret_cast<long long*>(p), static_cast<long long>(v));
    if constexpr (sizeof(T) == 4) return _mm_stream_si32(reinterpret_cast<int*>(p), static_cast<int>(v));
#endif
    *p = v;
}

template <class T, bool Swap>
void transpose_as(const T* src, uint64_t src_stride, T* dst, uint64_t dst_stride, uint64_t rows, uint64_t cols) {
    constexpr uint64_t kBlock = std::max<uint64_t>(16, 64 / sizeof(T));
    for (uint64_t c0 = 0; c0 < cols; c0 += kBlock) {  // a band of dst rows, each written whole in turn
        uint64_t c1 = std::min(cols, c0 + kBlock);
        for (uint64_t r0 = 0; r0 < rows; r0 += kBlock) {
            uint64_t r1 = std::min(rows, r0 + kBlock);
            for (uint64_t c = c0; c < c1; ++c) {
                T* d = dst + c * dst_stride;
                const T* s = src + c;
                for (uint64_t r = r0; r < r1; ++r)
                    store_streaming(d + r, Swap ? swapped(s[r * src_stride]) : s[r * src_stride]);
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

void streaming_fence() {
#if defined(__x86_64__)
    _mm_sfence();
#endif
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
