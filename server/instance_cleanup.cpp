// `shmpoold --cleanup`: removes what a dead daemon of an instance left behind (its segments,
// spares, socket file and lock), refusing while a live daemon holds the instance's lock.
#include "server/instance_cleanup.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/names.h"
#include "common/unique_fd.h"
#include "server/instance_lock.h"

namespace shmpool {
namespace {

// True when `path` is a socket file no process listens on (connect() is refused).
bool is_stale_socket(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) throw Error(ErrorCode::io_error, sys_error_text("socket", "probing '" + path + "'", errno));
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return false;
    return errno == ECONNREFUSED;
}

}  // namespace

std::vector<std::string> cleanup_instance(const CleanupRequest& request) {
    check_instance_name(request.instance);
    std::string lock_path = lock_file_path(request.instance);
    bool had_lock_file = access(lock_path.c_str(), F_OK) == 0;
    std::vector<std::string> removed;
    {
        InstanceLock lock(request.instance);  // throws while a daemon serves the instance
        for (const auto& name : remove_instance_segments(request.instance)) removed.push_back("/dev/shm/" + name);
        std::string socket = request.socket.empty() ? default_socket_path(request.instance) : request.socket;
        if (!request.keep_socket && is_stale_socket(socket) && unlink(socket.c_str()) == 0) removed.push_back(socket);
    }  // the lock's destructor unlinks the lock file
    if (had_lock_file) removed.push_back(lock_path);
    return removed;
}

}  // namespace shmpool
