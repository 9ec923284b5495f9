// `shmpoold --cleanup`: removes what a dead daemon of an instance left behind (its segments,
// spares, socket file and lock), refusing while a live daemon holds the instance's lock.
#pragma once

#include <string>
#include <vector>

namespace shmpool {

struct CleanupRequest {
    std::string instance;
    std::string socket;        // empty: default_socket_path(instance)
    bool keep_socket = false;  // systemd's socket unit owns the socket file
};

// Takes the instance lock (throws Error(io_error) naming the live daemon's pid if it is held),
// removes every /dev/shm object of the instance, the socket file if nothing listens on it, and
// the lock file. Returns what it removed, as paths.
std::vector<std::string> cleanup_instance(const CleanupRequest& request);

}  // namespace shmpool
