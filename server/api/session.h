// One client connection: reads request lines (bounded) and the descriptors passed with them
// (SCM_RIGHTS), hands each line to the router, and writes replies in order, one write at a time.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <sys/socket.h>

#include <utility>  // before Asio under -std=c++20 with g++ 12
#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "server/api/peer_access.h"

namespace shmpool {

class Session : public std::enable_shared_from_this<Session> {
public:
    using Socket = boost::asio::local::stream_protocol::socket;
    using LineHandler = std::function<void(const std::shared_ptr<Session>&, std::string_view line)>;
    using TooLongHandler = std::function<void(const std::shared_ptr<Session>&)>;
    using CloseHandler = std::function<void(uint64_t session_id)>;

    Session(Socket socket, size_t max_line, LineHandler on_line, TooLongHandler on_too_long, CloseHandler on_close);
    ~Session();
    void start() { read_next(); }
    void send(const nlohmann::json& message);
    // Sends `message` with `fd` passed on its first bytes (SCM_RIGHTS); closed once sent.
    void send_with_fd(const nlohmann::json& message, UniqueFd fd);
    // Replies with a descriptor queued and not sent yet: each holds an open descriptor, so a
    // client that never reads is capped at kMaxUnsentFds (the daemon's descriptors are finite).
    size_t fds_unsent() const { return fds_unsent_; }
    static constexpr size_t kMaxUnsentFds = 8;
    // Sends an event line that replaces an unsent one with the same `coalesce_key`, so a slow
    // reader holds at most one pending event per key (e.g. the latest progress of a job).
    void send_event(const nlohmann::json& event, const std::string& coalesce_key);
    boost::asio::any_io_executor executor() { return socket_.get_executor(); }
    // Stops reading; closes once every queued reply is written.
    void close_after_flush();
    void close();
    bool is_open() const { return socket_.is_open(); }
    uint64_t id() const { return id_; }
    // The oldest descriptor the client passed and no request has taken yet (-1: none); the
    // caller owns it. Pending descriptors are closed with the connection.
    int take_fd();
    // Slowloris bound: a partial line must complete within one to two of these (0: none).
    void set_idle_timeout(std::chrono::milliseconds timeout) { idle_timeout_ = timeout; }
    // The client's uid (SO_PEERCRED at accept): what it creates counts against this uid's quota.
    void set_peer(const PeerCred& peer) { peer_ = peer; }
    uid_t peer_uid() const { return peer_.uid; }
    const PeerCred& peer() const { return peer_; }
    // Requests of this connection not yet answered: a request holds the token until every
    // copy of its Call is gone (answered now, or its job-end callback has run).
    size_t requests_open() const { return requests_open_; }
    std::shared_ptr<void> open_request();

private:
    static constexpr size_t kHighWater = 16 << 20;  // queued reply bytes before reading pauses
    static constexpr size_t kReadChunk = 64 << 10;  // bytes per recvmsg
    static constexpr size_t kMaxPendingFds = 8;     // passed descriptors not yet taken by a request

    void read_next();
    bool deliver_lines();  // false when the connection must stop reading
    void on_readable(const boost::system::error_code& ec);
    ssize_t receive_some();  // recvmsg: bytes into in_, descriptors into fds_
    void write_next();
    void write_front_from(size_t offset);
    void write_front_with_fd();
    void on_front_written(const boost::system::error_code& ec);
    void enqueue(std::string line, std::string coalesce_key, UniqueFd fd = UniqueFd());
    // --- partial-line timeout (security, docs/security.md)
    void arm_idle_timer();
    void on_idle_timer();

    struct Outgoing {
        std::string line;
        std::string coalesce_key;  // empty: a reply, never replaced
        UniqueFd fd;               // passed with the line's first bytes, then closed
    };

    Socket socket_;
    size_t max_line_;
    LineHandler on_line_;
    TooLongHandler on_too_long_;
    CloseHandler on_close_;
    std::string in_;
    std::deque<int> fds_;
    std::deque<Outgoing> out_;
    size_t out_bytes_ = 0;
    size_t fds_unsent_ = 0;
    bool writing_ = false, reading_ = false, closing_ = false;
    uint64_t id_;
    PeerCred peer_;  // SO_PEERCRED at accept
    // --- partial-line timeout
    std::chrono::milliseconds idle_timeout_{0};
    boost::asio::steady_timer idle_timer_;
    bool idle_armed_ = false;
    size_t partial_seen_ = 0;  // bytes of a partial line at the last tick (0: none)
    size_t requests_open_ = 0;
};

}  // namespace shmpool
