// One client connection: reads request lines (bounded), hands each to the router, and writes
// replies in order with at most one write in flight. Lifetime held by shared_from_this.
#include "server/session.h"

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
      id_(g_next_session_id++) {}

void Session::read_next() {
    if (reading_ || closing_ || !socket_.is_open() || out_bytes_ > kHighWater) return;
    reading_ = true;
    boost::asio::async_read_until(
        socket_, boost::asio::dynamic_buffer(in_, max_line_ + 1), '\n',
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Session::on_read(const boost::system::error_code& ec, size_t n) {
    reading_ = false;
    if (ec == boost::asio::error::not_found) {  // no newline within max_line bytes
        on_too_long_(shared_from_this());
        close_after_flush();
        return;
    }
    if (ec) {
        close();
        return;
    }
    std::string line = in_.substr(0, n - 1);
    in_.erase(0, n);  // more lines may already follow in the buffer
    if (!line.empty() && line.back() == '\r') line.pop_back();
    on_line_(shared_from_this(), line);
    read_next();
}

namespace {
std::string json_line(const nlohmann::json& message) {
    std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    return line;
}
}  // namespace

void Session::send(const nlohmann::json& message) { enqueue(json_line(message), {}); }

void Session::send_event(const nlohmann::json& event, const std::string& coalesce_key) {
    enqueue(json_line(event), coalesce_key);
}

void Session::enqueue(std::string line, std::string coalesce_key) {
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
    out_.push_back({std::move(line), std::move(coalesce_key)});
    write_next();
}

void Session::write_next() {
    if (writing_ || out_.empty() || !socket_.is_open()) return;
    writing_ = true;
    boost::asio::async_write(socket_, boost::asio::buffer(out_.front().line),
                             [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                                 self->writing_ = false;
                                 if (ec) {
                                     self->close();
                                     return;
                                 }
                                 self->out_bytes_ -= self->out_.front().line.size();
                                 self->out_.pop_front();
                                 if (self->out_.empty() && self->closing_) {
                                     self->close();
                                     return;
                                 }
                                 self->write_next();
                                 self->read_next();
                             });
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
}

}  // namespace shmpool
