// A connected AF_UNIX stream socket that sends and receives newline-terminated lines.
// Every syscall retries on EINTR and loops over partial transfers; errors become ConnectError.
#include "client/line_socket.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "client/client_errors.h"
#include "common/fd_passing.h"

namespace shmpool {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxFdsPerRead = 4;  // the daemon passes one per reply line

std::string connect_failure(const std::string& path, int err) {
    std::string text = "cannot connect to " + path + ": " + std::strerror(err);
    if (err == ENOENT || err == ECONNREFUSED) text += " (is shmpoold running?)";
    return text;
}

int connect_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path))
        throw ConnectError("cannot connect to " + path + ": socket path is empty or too long");
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw ConnectError(connect_failure(path, errno));
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EISCONN) {
        int err = errno;
        ::close(fd);
        throw ConnectError(connect_failure(path, err));
    }
    return fd;
}

}  // namespace

LineSocket::LineSocket(std::string path, size_t max_line)
    : fd_(connect_unix(path)), path_(std::move(path)), max_line_(max_line) {}

LineSocket::~LineSocket() { close_fd(); }

LineSocket::LineSocket(LineSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      max_line_(other.max_line_),
      buffer_(std::move(other.buffer_)),
      scanned_(std::exchange(other.scanned_, 0)),
      fds_(std::move(other.fds_)) {}

LineSocket& LineSocket::operator=(LineSocket&& other) noexcept {
    if (this != &other) {
        close_fd();
        fd_ = std::exchange(other.fd_, -1);
        path_ = std::move(other.path_);
        max_line_ = other.max_line_;
        buffer_ = std::move(other.buffer_);
        scanned_ = std::exchange(other.scanned_, 0);
        fds_ = std::move(other.fds_);
    }
    return *this;
}

void LineSocket::close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void LineSocket::write_line(std::string_view line, int pass_fd) {
    std::string framed;
    framed.reserve(line.size() + 1);
    framed.append(line).push_back('\n');
    size_t sent = 0;
    while (pass_fd >= 0) {  // the descriptor goes with the first bytes, exactly once
        ssize_t n = send_with_fd(fd_, framed.data(), framed.size(), pass_fd);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ConnectError("connection to " + path_ + " lost: " + std::strerror(errno));
        sent = static_cast<size_t>(n);
        pass_fd = -1;
    }
    while (sent < framed.size()) {
        ssize_t n = ::send(fd_, framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ConnectError("connection to " + path_ + " lost: " + std::strerror(errno));
        sent += static_cast<size_t>(n);
    }
}

// Reads what is there; descriptors the daemon passed (with a reply's first bytes) queue in fds_.
bool LineSocket::fill() {
    char chunk[kReadChunk];
    for (;;) {
        ssize_t n = receive_with_fds(fd_, chunk, sizeof(chunk), kMaxFdsPerRead,
                                     [this](int fd) { fds_.emplace_back(fd); });
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ConnectError("connection to " + path_ + " lost: " + std::strerror(errno));
        buffer_.append(chunk, static_cast<size_t>(n));
        return n > 0;
    }
}

UniqueFd LineSocket::take_fd() {
    if (fds_.empty()) return UniqueFd();
    UniqueFd fd = std::move(fds_.front());
    fds_.pop_front();
    return fd;
}

std::string LineSocket::read_line() {
    for (;;) {
        size_t end = buffer_.find('\n', scanned_);
        if (end != std::string::npos) {
            std::string line = buffer_.substr(0, end);
            buffer_.erase(0, end + 1);
            scanned_ = 0;
            return line;
        }
        scanned_ = buffer_.size();
        if (buffer_.size() > max_line_)
            throw ConnectError("daemon sent a line longer than " + std::to_string(max_line_) + " bytes");
        if (fd_ < 0 || !fill()) throw ConnectError("daemon closed the connection");
    }
}

}  // namespace shmpool
