// One client connection: reads request lines (bounded), hands each to the router, and writes
// replies in order with at most one write in flight. Lifetime held by shared_from_this.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <utility>  // before Asio under -std=c++20 with g++ 12
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

namespace shmpool {

class Session : public std::enable_shared_from_this<Session> {
public:
    using Socket = boost::asio::local::stream_protocol::socket;
    using LineHandler = std::function<void(const std::shared_ptr<Session>&, std::string_view line)>;
    using TooLongHandler = std::function<void(const std::shared_ptr<Session>&)>;
    using CloseHandler = std::function<void(uint64_t session_id)>;

    Session(Socket socket, size_t max_line, LineHandler on_line, TooLongHandler on_too_long, CloseHandler on_close);
    void start() { read_next(); }
    void send(const nlohmann::json& message);
    // Sends an event line that replaces an unsent one with the same `coalesce_key`, so a slow
    // reader holds at most one pending event per key (e.g. the latest progress of a job).
    void send_event(const nlohmann::json& event, const std::string& coalesce_key);
    boost::asio::any_io_executor executor() { return socket_.get_executor(); }
    // Stops reading; closes once every queued reply is written.
    void close_after_flush();
    void close();
    bool is_open() const { return socket_.is_open(); }
    uint64_t id() const { return id_; }

private:
    static constexpr size_t kHighWater = 16 << 20;  // queued reply bytes before reading pauses

    void read_next();
    void on_read(const boost::system::error_code& ec, size_t n);
    void write_next();
    void enqueue(std::string line, std::string coalesce_key);

    struct Outgoing {
        std::string line;
        std::string coalesce_key;  // empty: a reply, never replaced
    };

    Socket socket_;
    size_t max_line_;
    LineHandler on_line_;
    TooLongHandler on_too_long_;
    CloseHandler on_close_;
    std::string in_;
    std::deque<Outgoing> out_;
    size_t out_bytes_ = 0;
    bool writing_ = false, reading_ = false, closing_ = false;
    uint64_t id_;
};

}  // namespace shmpool
