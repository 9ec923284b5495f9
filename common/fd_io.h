// Whole reads from a descriptor at an offset, through short reads and EINTR: the daemon's copy
// of a small client object and shmpool-mpi's load of an input file share this one loop.
#pragma once

#include <cstdint>
#include <string>

namespace shmpool {

// Reads exactly `n` bytes at `offset` into `dst`. Throws Error(io_error) naming `label` when a
// read fails or the file ends first.
void pread_exactly(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& label);

}  // namespace shmpool
