// Element copies for .npy loads: a cache-blocked transpose and an in-place byte swap, so a
// big-endian or Fortran-order file becomes the dataset's native C order in one pass.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmpool {

// dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows and c < cols; strides count
// elements of `elem_bytes` (1, 2, 4 or 8), each byte-swapped on the way when `swap`. The
// stores to dst may be streaming: call streaming_fence() before another process reads dst.
void transpose_elems(const void* src, uint64_t src_stride, void* dst, uint64_t dst_stride, uint64_t rows,
                     uint64_t cols, size_t elem_bytes, bool swap);

// Orders the streaming stores of transpose_elems before any later store (sfence on x86-64).
void streaming_fence();

// Reverses the bytes of each of the `n` elements of `elem_bytes` at `data`.
void byteswap_elems(void* data, uint64_t n, size_t elem_bytes);

}  // namespace shmpool
