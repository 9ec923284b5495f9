// One daemon per instance: an flock'ed lock file in /dev/shm that dies with its holder,
// and the sweep of whatever a SIGKILLed earlier daemon of the instance left behind.
#include "server/instance_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/error.h"
#include "common/names.h"
#include "common/segment.h"

namespace shmpool {
namespace {

std::string read_pid(int fd) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
}

// True when `fd` is still the file at `path` (not one a stopping daemon just unlinked).
bool is_current_file(int fd, const std::string& path) {
    struct stat by_fd {}, by_path {};
    return fstat(fd, &by_fd) == 0 && stat(path.c_str(), &by_path) == 0 && by_fd.st_ino == by_path.st_ino &&
           by_fd.st_dev == by_path.st_dev;
}

}  // namespace

InstanceLock::InstanceLock(const std::string& instance) : path_(lock_file_path(instance)) {
    for (;;) {
        fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) throw Error(ErrorCode::io_error, sys_error_text("open", "creating lock file " + path_, errno));
        if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            std::string pid = read_pid(fd_);
            close(fd_);
            if (err == EWOULDBLOCK)
                throw Error(ErrorCode::io_error, "instance '" + instance + "' is already served by shmpoold pid " + pid);
            throw Error(ErrorCode::io_error, sys_error_text("flock", "locking " + path_, err));
        }
        if (is_current_file(fd_, path_)) break;
        close(fd_);  // lost a race with a daemon removing its lock: take the new file
    }
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
        throw Error(ErrorCode::io_error, sys_error_text("write", "recording pid in " + path_, errno));
}

InstanceLock::~InstanceLock() {
    unlink(path_.c_str());  // while still holding the lock, so no newcomer locks a dead file
    close(fd_);
}

std::vector<std::string> remove_instance_segments(const std::string& instance) {
    std::string prefix = instance_prefix(instance);
    std::string lock_name = prefix + "lock";
    std::vector<std::string> removed;
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/dev/shm"), closedir);
    if (!dir) return removed;
    while (dirent* e = readdir(dir.get())) {
        std::string name = e->d_name;
        if (name.rfind(prefix, 0) == 0 && name != lock_name && Segment::remove(name)) removed.push_back(name);
    }
    return removed;
}

}  // namespace shmpool
