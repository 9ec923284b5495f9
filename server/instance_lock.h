// One daemon per instance: an flock'ed lock file in /dev/shm that dies with its holder,
// and the sweep of whatever a SIGKILLed earlier daemon of the instance left behind.
#pragma once

#include <string>
#include <vector>

namespace shmpool {

class InstanceLock {
public:
    // Throws Error(io_error) naming the running daemon's pid if the instance is taken.
    explicit InstanceLock(const std::string& instance);
    ~InstanceLock();
    InstanceLock(const InstanceLock&) = delete;
    InstanceLock& operator=(const InstanceLock&) = delete;

    int fd() const { return fd_; }

private:
    std::string path_;
    int fd_ = -1;
};

// Removes every /dev/shm object of `instance` except its lock; returns what it removed.
std::vector<std::string> remove_instance_segments(const std::string& instance);

}  // namespace shmpool
