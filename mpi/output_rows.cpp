// Where a rank's kernel writes its output rows: the output's address range, reserved but not
// backed, with one range's worth of reused pages mapped under the range being computed.
#include "mpi/output_rows.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"

namespace shmpool::mpi {
namespace {

constexpr int kReserve = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

uint64_t page_size() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

uint64_t round_up(uint64_t n, uint64_t page) { return (n + page - 1) / page * page; }

// mmap at `at` (MAP_FIXED) or throw Error naming `what`.
void map_fixed(char* at, uint64_t len, int flags, int fd, const char* what) {
    if (mmap(at, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0) == MAP_FAILED)
        throw Error(ErrorCode::no_space, sys_error_text("mmap", what, errno));
}

}  // namespace

OutputRows::OutputRows(const ArrayMeta& meta)
    : meta_(meta),
      bytes_(checked_bytes(meta.shape, meta.dtype)),
      row_bytes_(meta.shape.row_elems() * dtype_size(meta.dtype)),
      reserved_(round_up(bytes_, page_size())),
      base_(static_cast<char*>(mmap(nullptr, reserved_, PROT_READ | PROT_WRITE, kReserve, -1, 0))),
      buffer_(memfd_create("shmpool-mpi-rows", MFD_CLOEXEC)) {
    if (base_ == MAP_FAILED)
        throw Error(ErrorCode::no_space, sys_error_text("mmap", "reserving " + std::to_string(bytes_) +
                                                                    " bytes for the output's rows", errno));
    if (!buffer_) {
        munmap(base_, reserved_);
        throw Error(ErrorCode::no_space, sys_error_text("memfd_create", "making the output rows' buffer", errno));
    }
}

OutputRows::~OutputRows() { munmap(base_, reserved_); }

OutputRows::Span OutputRows::span(uint64_t begin, uint64_t end) const {
    uint64_t page = page_size();
    uint64_t from = begin * row_bytes_ / page * page;
    return Span{from, std::min(reserved_, round_up(end * row_bytes_, page)) - from};
}

void OutputRows::prepare(uint64_t begin, uint64_t end) {
    Span s = span(begin, end);
    if (s.len > buffer_len_) {
        if (ftruncate(buffer_.get(), static_cast<off_t>(s.len)) != 0)
            throw Error(ErrorCode::no_space, sys_error_text("ftruncate", "growing the output rows' buffer", errno));
        buffer_len_ = s.len;
    }
    map_fixed(base_ + s.from, s.len, MAP_SHARED | MAP_POPULATE, buffer_.get(), "mapping a range's output rows");
}

void OutputRows::release(uint64_t begin, uint64_t end) {
    Span s = span(begin, end);
    map_fixed(base_ + s.from, s.len, kReserve, -1, "letting a range's output rows go");
}

}  // namespace shmpool::mpi
