// Splitting a kernel's work items (images, grids) into blocks, so a job with few items still has
// enough rows to spread over the workers: rows = items × blocks, each block a slice of one item.
#pragma once

#include <algorithm>
#include <cstdint>

namespace shmpool::kernels {

// About this many rows are enough to keep every worker of a pool busy.
constexpr uint64_t kTargetRows = 256;

// `length` elements (rows of an image, points of a set) cut into `count` slices of `size`
// elements (the last may be shorter, none is empty).
struct BlockSplit {
    uint64_t count = 1, size = 1, length = 1;

    uint64_t begin(uint64_t block) const { return block * size; }
    uint64_t end(uint64_t block) const { return std::min(length, (block + 1) * size); }
};

// The slices of `length` elements to use when there are `items` items: one slice when the
// items alone give kTargetRows rows, more otherwise, but none shorter than `min_size`.
inline BlockSplit split_for_rows(uint64_t items, uint64_t length, uint64_t min_size) {
    uint64_t wanted = (kTargetRows + items - 1) / std::max<uint64_t>(items, 1);
    uint64_t most = std::max<uint64_t>(1, length / std::max<uint64_t>(min_size, 1));
    uint64_t count = std::clamp<uint64_t>(wanted, 1, most);
    uint64_t size = (length + count - 1) / count;
    return BlockSplit{(length + size - 1) / size, size, length};
}

// One slice: the whole length.
inline BlockSplit single_block(uint64_t length) { return BlockSplit{1, length, length}; }

}  // namespace shmpool::kernels
