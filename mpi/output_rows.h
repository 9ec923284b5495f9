// Where a rank's kernel writes its output rows: the output's address range, reserved but not
// backed, with one range's worth of reused pages mapped under the range being computed.
#pragma once

#include <cstdint>

#include "common/unique_fd.h"
#include "worker/kernel.h"

namespace shmpool::mpi {

// The kernel sees the whole output at its usual address (ArrayView), but only the pages of
// the range in hand are backed: before a range, prepare() maps a reused memfd buffer there;
// after it, release() puts an empty reservation back. A rank holds one range of output at a
// time and, after its first range, never faults or zeroes a fresh page for the output.
// Without prepare() (ranges that are not output rows), pages are backed as they are touched
// and kept, zero where this rank wrote nothing.
class OutputRows {
public:
    explicit OutputRows(const ArrayMeta& meta);
    ~OutputRows();
    OutputRows(const OutputRows&) = delete;
    OutputRows& operator=(const OutputRows&) = delete;

    ArrayView view() const { return ArrayView{meta_, base_, base_}; }
    uint64_t bytes() const { return bytes_; }
    const char* data() const { return base_; }
    uint64_t row_bytes() const { return row_bytes_; }
    const char* rows(uint64_t begin) const { return base_ + begin * row_bytes_; }

    void prepare(uint64_t begin, uint64_t end);  // back rows [begin, end) with the reused buffer
    void release(uint64_t begin, uint64_t end);  // and let them go once they are in the file

private:
    struct Span {
        uint64_t from, len;  // page-aligned bytes holding the rows
    };
    Span span(uint64_t begin, uint64_t end) const;

    ArrayMeta meta_;
    uint64_t bytes_, row_bytes_, reserved_;
    char* base_;
    UniqueFd buffer_;          // memfd: the pages every range reuses
    uint64_t buffer_len_ = 0;  // its size so far (the largest span yet)
};

}  // namespace shmpool::mpi
