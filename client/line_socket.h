// A connected AF_UNIX stream socket that sends and receives newline-terminated lines.
// The framing layer under Client: partial reads/writes, EINTR and the line limit live here.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "common/unique_fd.h"

namespace shmpool {

class LineSocket {
public:
    // Connects (blocking, SOCK_CLOEXEC). Throws ConnectError naming the path and errno text.
    LineSocket(std::string path, size_t max_line);
    ~LineSocket();
    LineSocket(LineSocket&& other) noexcept;
    LineSocket& operator=(LineSocket&& other) noexcept;
    LineSocket(const LineSocket&) = delete;
    LineSocket& operator=(const LineSocket&) = delete;

    const std::string& path() const { return path_; }
    // Sends `line` plus '\n'; with `pass_fd` >= 0 that descriptor travels with the line's first
    // bytes (SCM_RIGHTS). Throws ConnectError if the connection is lost.
    void write_line(std::string_view line, int pass_fd = -1);
    // The next line without its '\n'. Throws ConnectError on EOF, error or a line over max_line.
    std::string read_line();
    // The oldest descriptor the daemon passed and nobody took yet (empty: none). A descriptor
    // arrives with its line's first bytes, so it is here once that line has been read.
    UniqueFd take_fd();

private:
    bool fill();  // reads more bytes into buffer_; false on EOF
    void close_fd();

    int fd_ = -1;
    std::string path_;
    size_t max_line_;
    std::string buffer_;
    size_t scanned_ = 0;  // bytes of buffer_ known to hold no '\n'
    std::deque<UniqueFd> fds_;  // passed by the daemon, in the order they came
};

}  // namespace shmpool
