// shmpoold's side of systemd: the notify protocol (READY=1, STATUS=, STOPPING=1) and socket
// activation (a listening Unix socket passed as LISTEN_FDS). Both are no-ops without systemd.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <utility>  // before Asio under -std=c++20 with g++ 12
#include <boost/asio.hpp>

namespace shmpool {

// Sends sd_notify messages when NOTIFY_SOCKET is set. After ready(), polls `status` once a
// second and sends STATUS= only when its text changed (so at most one message a second).
class ServiceNotifier {
public:
    ServiceNotifier(boost::asio::io_context& io, std::function<std::string()> status);

    void ready();     // READY=1, MAINPID= and the first STATUS=; starts the status updates
    void stopping();  // STOPPING=1 and a last STATUS=; stops the updates

private:
    void schedule_status();
    void send(const std::string& message);

    bool enabled_;
    bool stopping_ = false;
    std::function<std::string()> status_;
    std::string last_status_;
    boost::asio::steady_timer timer_;
};

// The socket systemd passed (LISTEN_FDS, for this pid), taken out of the environment.
struct ActivatedSocket {
    int fd = -1;       // a listening AF_UNIX SOCK_STREAM socket, close-on-exec
    std::string path;  // its bound path
};

// nullopt when systemd passed nothing. Throws Error(io_error) when it passed more than one
// descriptor or one that is not a listening Unix stream socket.
std::optional<ActivatedSocket> take_activated_socket();

}  // namespace shmpool
