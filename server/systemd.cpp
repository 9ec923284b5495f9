// shmpoold's side of systemd: the notify protocol (READY=1, STATUS=, STOPPING=1) and socket
// activation (a listening Unix socket passed as LISTEN_FDS). Both are no-ops without systemd.
#include "server/systemd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "common/log.h"

namespace shmpool {
namespace {

constexpr auto kStatusPeriod = std::chrono::seconds(1);

}  // namespace

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io, std::function<std::string()> status)
    : enabled_(std::getenv("NOTIFY_SOCKET") != nullptr), status_(std::move(status)), timer_(io) {}

void ServiceNotifier::ready() {
    if (!enabled_) return;
    last_status_ = status_();
    send("READY=1\nMAINPID=" + std::to_string(getpid()) + "\nSTATUS=" + last_status_);
    schedule_status();
}

void ServiceNotifier::stopping() {
    if (!enabled_ || stopping_) return;
    stopping_ = true;
    timer_.cancel();
    send("STOPPING=1\nSTATUS=stopping: " + status_());
}

void ServiceNotifier::schedule_status() {
    timer_.expires_after(kStatusPeriod);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_) return;
        std::string now = status_();
        if (now != last_status_) {
            last_status_ = now;
            send("STATUS=" + now);
        }
        schedule_status();
    });
}

void ServiceNotifier::send(const std::string& message) {
    int r = sd_notify(0, message.c_str());
    if (r < 0) log_warn(sys_error_text("sd_notify", "telling systemd '" + message.substr(0, message.find('\n')) + "'", -r));
}

std::optional<ActivatedSocket> take_activated_socket() {
    int n = sd_listen_fds(1);
    if (n < 0) throw Error(ErrorCode::io_error, sys_error_text("sd_listen_fds", "taking systemd's sockets", -n));
    if (n == 0) return std::nullopt;
    if (n > 1)
        throw Error(ErrorCode::io_error,
                    "systemd passed " + std::to_string(n) + " sockets; shmpoold takes one (one ListenStream=)");
    int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0)
        throw Error(ErrorCode::io_error, "the socket systemd passed is not a listening Unix stream socket");
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw Error(ErrorCode::io_error, sys_error_text("getsockname", "reading systemd's socket path", errno));
    size_t path_len = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    std::string path(addr.sun_path, strnlen(addr.sun_path, path_len));
    return ActivatedSocket{fd, path};
}

}  // namespace shmpool
