// One client connection: reads request lines (bounded) and the descriptors passed with them
// (SCM_RIGHTS, so it owns its read path: recvmsg, never a plain read that would drop them).
#include "server/api/session.h"

#include "common/fd_passing.h"
#include "common/protocol.h"

#include <unistd.h>

#include <cerrno>

namespace shmpool {
namespace {
uint64_t g_next_session_id = 1;
}

Session::Session(Socket socket, size_t max_line, LineHandler on_line, TooLongHandler on_too_long,
                 CloseHandler on_close)
    : socket_(std::move(socket)),
      max_line_(max_line),
      on_line_(std::move(on_line)),
      on_too_long_(std::move(on_too_long)),
      on_close_(std::move(on_close)),
      id_(g_next_session_id++),
      idle_timer_(socket_.get_executor()) {}

Session::~Session() {
    for (int fd : fds_) ::close(fd);
}

void Session::read_next() {
    if (reading_ || !deliver_lines()) return;
    reading_ = true;
    arm_idle_timer();
    socket_.async_wait(Socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

// Hands every complete buffered line to the router while replies stay under the high-water
// mark; the handed lines leave the buffer in one erase. False: stop reading for now.
bool Session::deliver_lines() {
    size_t start = 0;
    bool read_more = false;
    while (!closing_ && socket_.is_open() && out_bytes_ <= kHighWater) {
        size_t newline = in_.find('\n', start);
        size_t length = (newline == std::string::npos ? in_.size() : newline) - start;
        if (length > max_line_) {
            on_too_long_(shared_from_this());
            close_after_flush();
            break;
        }
        if (newline == std::string::npos) {
            read_more = true;
            break;
        }
        std::string line = in_.substr(start, length);
        start = newline + 1;
        partial_seen_ = 0;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        on_line_(shared_from_this(), line);
    }
    in_.erase(0, start);
    return read_more;
}

void Session::on_readable(const boost::system::error_code& ec) {
    reading_ = false;
    if (ec || !socket_.is_open()) return close();
    ssize_t n = receive_some();
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return close();
    read_next();
}

// Reads what is there; passed descriptors are kept for the requests that name them, and
// beyond kMaxPendingFds they are closed.
ssize_t Session::receive_some() {
    char data[kReadChunk];
    ssize_t n = receive_with_fds(socket_.native_handle(), data, sizeof data, kMaxPendingFds,
                                 [this](int fd) {
                                     if (fds_.size() < kMaxPendingFds)
                                         fds_.push_back(fd);
                                     else
                                         ::close(fd);
                                 },
                                 MSG_DONTWAIT);
    if (n > 0) in_.append(data, static_cast<size_t>(n));
    return n;
}

int Session::take_fd() {
    if (fds_.empty()) return -1;
    int fd = fds_.front();
    fds_.pop_front();
    return fd;
}

std::shared_ptr<void> Session::open_request() {
    ++requests_open_;
    return std::shared_ptr<void>(nullptr, [weak = weak_from_this()](void*) {
        if (auto self = weak.lock()) --self->requests_open_;
    });
}

namespace {
std::string json_line(const nlohmann::json& message) {
    std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    return line;
}
}  // namespace

void Session::send(const nlohmann::json& message) { enqueue(json_line(message), {}); }

void Session::send_with_fd(const nlohmann::json& message, UniqueFd fd) {
    if (!socket_.is_open()) return;
    ++fds_unsent_;
    enqueue(json_line(message), {}, std::move(fd));
}

void Session::send_event(const nlohmann::json& event, const std::string& coalesce_key) {
    enqueue(json_line(event), coalesce_key);
}

void Session::enqueue(std::string line, std::string coalesce_key, UniqueFd fd) {
    if (!socket_.is_open()) return;
    if (!coalesce_key.empty()) {
        // The front entry may be mid-write; any later one with the same key is replaced in place.
        for (size_t i = writing_ ? 1 : 0; i < out_.size(); ++i) {
            if (out_[i].coalesce_key != coalesce_key) continue;
            out_bytes_ = out_bytes_ - out_[i].line.size() + line.size();
            out_[i].line = std::move(line);
            return;
        }
    }
    out_bytes_ += line.size();
    out_.push_back({std::move(line), std::move(coalesce_key), std::move(fd)});
    write_next();
}

// One write in flight: the front line, with its descriptor (if any) on its first bytes.
void Session::write_next() {
    if (writing_ || out_.empty() || !socket_.is_open()) return;
    writing_ = true;
    if (out_.front().fd)
        write_front_with_fd();
    else
        write_front_from(0);
}

void Session::write_front_from(size_t offset) {
    boost::asio::async_write(socket_, boost::asio::buffer(out_.front().line) + offset,
                             [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                                 self->on_front_written(ec);
                             });
}

// Asio cannot attach a descriptor, so the line's first bytes go by sendmsg (waiting for room
// without blocking); the rest, if the socket took only part, by the usual async_write.
void Session::write_front_with_fd() {
    Outgoing& front = out_.front();
    ssize_t n = shmpool::send_with_fd(socket_.native_handle(), front.line.data(), front.line.size(), front.fd.get(),
                             MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        socket_.async_wait(Socket::wait_write, [self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec && !self->socket_.is_open()) return self->on_front_written(boost::asio::error::eof);
            if (ec) return self->on_front_written(ec);
            self->write_front_with_fd();
        });
        return;
    }
    if (n < 0) return on_front_written(boost::system::error_code(errno, boost::system::system_category()));
    front.fd.reset();  // the client holds its own copy now
    --fds_unsent_;
    write_front_from(static_cast<size_t>(n));
}

void Session::on_front_written(const boost::system::error_code& ec) {
    writing_ = false;
    if (ec) return close();
    out_bytes_ -= out_.front().line.size();
    out_.pop_front();
    if (out_.empty() && closing_) return close();
    write_next();
    read_next();
}

void Session::close_after_flush() {
    closing_ = true;
    if (!writing_ && out_.empty()) close();
}

void Session::close() {
    if (!socket_.is_open()) return;
    if (auto on_close = std::move(on_close_)) on_close(id_);
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    out_.clear();
    out_bytes_ = 0;
    fds_unsent_ = 0;
    idle_timer_.cancel();
    for (int fd : fds_) ::close(fd);
    fds_.clear();
}

// --- partial-line timeout: every tick, a partial line that was already there at the previous
// tick (and is still not a line) closes the connection. Idle connections with no bytes stay.
void Session::arm_idle_timer() {
    if (idle_armed_ || idle_timeout_.count() <= 0) return;
    idle_armed_ = true;
    idle_timer_.expires_after(idle_timeout_);
    idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        self->idle_armed_ = false;
        if (!ec) self->on_idle_timer();
    });
}

void Session::on_idle_timer() {
    if (!socket_.is_open() || closing_) return;
    size_t partial = reading_ ? in_.size() : 0;
    if (partial > 0 && partial_seen_ > 0) {
        send(reply_error(nullptr, ErrorCode::idle_timeout,
                         "a request line stayed incomplete for over " + std::to_string(idle_timeout_.count()) +
                             " ms; closing the connection"));
        close_after_flush();
        return;
    }
    partial_seen_ = partial;
    arm_idle_timer();
}

}  // namespace shmpool
