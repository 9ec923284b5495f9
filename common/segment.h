// One POSIX shared-memory object, created or opened by name and mapped (Boost.Interprocess).
// Creation is mode 0600 and fully allocated, so a full /dev/shm is an error, never a SIGBUS.
#pragma once

#include <cstdint>
#include <string>

#include <boost/interprocess/mapped_region.hpp>

namespace shmpool {

class Segment {
public:
    Segment() = default;
    // Creates `name` (must not exist) of `bytes` bytes, mapped read-write. Allocated now, or,
    // with `allocate` false, only checked against /dev/shm's free space: its writers then
    // allocate their own parts in parallel (populate_writable), off the daemon's loop.
    // Throws Error(no_space) when /dev/shm cannot hold it, Error(io_error) otherwise.
    static Segment create(const std::string& name, uint64_t bytes, bool allocate = true, unsigned mode = 0600);
    // Opens an existing object; `bytes` 0 maps all of it. Throws Error(io_error).
    static Segment open(const std::string& name, bool writable, uint64_t bytes = 0);
    // A read-only descriptor of an existing object (O_RDONLY, close-on-exec), for a client to
    // map: it cannot map it writable. Throws Error(io_error).
    static int open_read_only(const std::string& name);
    // Removes the name; mappings stay valid until unmapped. False if it did not exist.
    static bool remove(const std::string& name);
    // Renames an object (its mappings and pages stay); `to` must not exist. Throws Error(io_error).
    static void rename(const std::string& from, const std::string& to);
    // Size of an existing object, or throws Error(io_error).
    static uint64_t size_of(const std::string& name);
    // Sets an existing object's size (shrinking frees the pages past it). Throws Error(io_error).
    static void truncate(const std::string& name, uint64_t bytes);

    // Allocates and maps the pages of [offset, offset + bytes) for writing, in one call rather
    // than a fault per page. Error(no_space) when /dev/shm is full (instead of a SIGBUS later).
    void populate_writable(uint64_t offset, uint64_t bytes) const;

    void* data() const { return region_.get_address(); }
    uint64_t size() const { return region_.get_size(); }
    explicit operator bool() const { return region_.get_size() != 0; }

private:
    explicit Segment(boost::interprocess::mapped_region region) : region_(std::move(region)) {}
    boost::interprocess::mapped_region region_;
};

}  // namespace shmpool
