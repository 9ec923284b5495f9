// One POSIX shared-memory object, created or opened by name and mapped (Boost.Interprocess).
// Creation is mode 0600 and fully allocated, so a full /dev/shm is an error, never a SIGBUS.
#include "common/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>

#include <boost/interprocess/shared_memory_object.hpp>

#include "common/error.h"

namespace shmpool {
namespace bip = boost::interprocess;

namespace {

bip::permissions with_mode(unsigned mode) {
    bip::permissions p;
    p.set_permissions(mode);
    return p;
}

[[noreturn]] void throw_interprocess(const bip::interprocess_exception& e, const std::string& what,
                                     const std::string& name) {
    int err = e.get_native_error();
    ErrorCode code = (err == ENOSPC || err == ENOMEM) ? ErrorCode::no_space : ErrorCode::io_error;
    throw Error(code, what + " shared-memory object '" + name + "': " + e.what());
}

void allocate_fully(int fd, uint64_t bytes, const std::string& name) {
    int err = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (err == 0) return;
    ErrorCode code = (err == ENOSPC || err == EFBIG) ? ErrorCode::no_space : ErrorCode::io_error;
    throw Error(code, sys_error_text("posix_fallocate", "allocating " + std::to_string(bytes) +
                                                            " bytes for '" + name + "'", err));
}

void check_free_space(uint64_t bytes, const std::string& name) {
    struct statvfs vfs {};
    if (statvfs("/dev/shm", &vfs) != 0) return;  // no answer: the writers' populate still guards
    uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (bytes > free_bytes)
        throw Error(ErrorCode::no_space, "'" + name + "' needs " + std::to_string(bytes) + " bytes; /dev/shm has " +
                                             std::to_string(free_bytes) + " free");
}

}  // namespace

Segment Segment::create(const std::string& name, uint64_t bytes, bool allocate, unsigned mode) {
    if (!allocate) check_free_space(bytes, name);
    try {
        bip::shared_memory_object shm(bip::create_only, name.c_str(), bip::read_write, with_mode(mode));
        try {
            shm.truncate(static_cast<bip::offset_t>(bytes));
            if (allocate) allocate_fully(shm.get_mapping_handle().handle, bytes, name);
            return Segment(bip::mapped_region(shm, bip::read_write, 0, bytes));
        } catch (...) {
            bip::shared_memory_object::remove(name.c_str());
            throw;
        }
    } catch (const bip::interprocess_exception& e) {
        throw_interprocess(e, "cannot create", name);
    }
}

Segment Segment::open(const std::string& name, bool writable, uint64_t bytes) {
    try {
        bip::mode_t mode = writable ? bip::read_write : bip::read_only;
        bip::shared_memory_object shm(bip::open_only, name.c_str(), mode);
        return Segment(bip::mapped_region(shm, mode, 0, bytes));
    } catch (const bip::interprocess_exception& e) {
        throw_interprocess(e, "cannot open", name);
    }
}

int Segment::open_read_only(const std::string& name) {
    int fd = shm_open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0) throw Error(ErrorCode::io_error, sys_error_text("shm_open", "opening '" + name + "' read-only", errno));
    return fd;
}

void Segment::populate_writable(uint64_t offset, uint64_t bytes) const {
    static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    uint64_t first = offset / page * page, last = std::min<uint64_t>(size(), offset + bytes);
    if (last <= first) return;
    if (madvise(static_cast<char*>(data()) + first, last - first, MADV_POPULATE_WRITE) == 0) return;
    int err = errno;
    if (err == EINVAL || err == ENOSYS) return;  // an older kernel: pages fault in one by one
    throw Error(err == EFAULT || err == ENOMEM ? ErrorCode::no_space : ErrorCode::io_error,
                sys_error_text("madvise", "allocating output pages", err));
}

bool Segment::remove(const std::string& name) { return bip::shared_memory_object::remove(name.c_str()); }

void Segment::rename(const std::string& from, const std::string& to) {
    // glibc's shm_open (and so Boost.Interprocess) keeps POSIX shm objects in /dev/shm.
    std::string src = "/dev/shm/" + from, dst = "/dev/shm/" + to;
    if (renameat2(AT_FDCWD, src.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) != 0)
        throw Error(ErrorCode::io_error, sys_error_text("renameat2", "renaming '" + from + "' to '" + to + "'", errno));
}

uint64_t Segment::size_of(const std::string& name) {
    try {
        bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_only);
        bip::offset_t size = 0;
        shm.get_size(size);
        return static_cast<uint64_t>(size);
    } catch (const bip::interprocess_exception& e) {
        throw_interprocess(e, "cannot open", name);
    }
}

void Segment::truncate(const std::string& name, uint64_t bytes) {
    try {
        bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
        shm.truncate(static_cast<bip::offset_t>(bytes));
    } catch (const bip::interprocess_exception& e) {
        throw_interprocess(e, "cannot resize", name);
    }
}

}  // namespace shmpool
