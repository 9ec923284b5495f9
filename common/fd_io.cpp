// Whole reads from a descriptor at an offset (common/fd_io.h): the one loop over short reads
// and EINTR, with errors that name what was read.
#include "common/fd_io.h"

#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace shmpool {

void pread_exactly(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& label) {
    auto* p = static_cast<char*>(dst);
    for (uint64_t done = 0; done < n;) {
        ssize_t k = pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) throw Error(ErrorCode::io_error, sys_error_text("pread", "reading " + label, errno));
        if (k == 0) throw Error(ErrorCode::io_error, label + " ended after " + std::to_string(done) + " of " +
                                                         std::to_string(n) + " bytes");
        done += static_cast<uint64_t>(k);
    }
}

}  // namespace shmpool
