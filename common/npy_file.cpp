// Reading the header of an .npy file open as a descriptor: the daemon's dataset.put from a
// file and shmpool-mpi's inputs both go through it, so both accept and refuse the same files.
#include "common/npy_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"

namespace shmpool {
namespace {

constexpr size_t kNpyPrefixBytes = 16;

std::string read_npy_prefix(int fd, const std::string& path) {
    std::string buf(kNpyPrefixBytes, '\0');
    ssize_t n = pread(fd, buf.data(), buf.size(), 0);
    if (n < 0) throw Error(ErrorCode::io_error, sys_error_text("pread", "reading " + path, errno));
    buf.resize(static_cast<size_t>(n));
    size_t need = npy_header_bytes_needed(buf.data(), buf.size());
    buf.resize(need);
    n = pread(fd, buf.data(), need, 0);
    if (n != static_cast<ssize_t>(need)) throw Error(ErrorCode::io_error, "'" + path + "': the .npy header is truncated");
    return buf;
}

}  // namespace

NpyHeader read_npy_header_fd(int fd, const std::string& label) {
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw Error(ErrorCode::io_error, label + " is not a regular file");
    std::string prefix = read_npy_prefix(fd, label);
    NpyHeader h = parse_npy_header(prefix.data(), prefix.size());
    if (static_cast<uint64_t>(st.st_size) < h.data_offset + h.data_bytes)
        throw Error(ErrorCode::io_error, label + " is truncated: " + std::to_string(st.st_size) + " bytes for a " +
                                             h.shape.to_string() + " array");
    return h;
}

}  // namespace shmpool
