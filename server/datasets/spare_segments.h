// Segments of deleted datasets kept with their pages, and renamed to the next job output that
// fits them: a fresh tmpfs page costs more to allocate and zero than a kernel spends writing it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/control.h"

namespace shmpool {

struct SpareLimits {
    uint64_t max_bytes = 0;                 // bytes of spares kept at once (0: keep none)
    std::chrono::milliseconds max_idle{0};  // a spare unused this long is released
};

class SpareSegments {
public:
    struct Spare {
        uint64_t backing = 0;   // the segment's first number: what workers key their mappings by
        uint64_t capacity = 0;  // the segment's size in bytes
        std::chrono::steady_clock::time_point kept_at;
    };

    SpareSegments(boost::asio::io_context& io, std::string instance, ctl::Header* control, SpareLimits limits);
    ~SpareSegments() { close(); }
    SpareSegments(const SpareSegments&) = delete;
    SpareSegments& operator=(const SpareSegments&) = delete;

    // Takes over the segment `name` of a deleted sealed dataset, renamed to its spare name.
    // False (the caller removes it) when closed, or when it would not fit in max_bytes even
    // after the oldest spares are released.
    bool keep(const std::string& name, uint64_t backing, uint64_t capacity);
    // The smallest spare that holds `bytes` with at most an eighth of it unused, renamed to
    // `name`; none when no spare fits (or its rename fails, which is logged).
    std::optional<Spare> take(uint64_t bytes, const std::string& name);
    // Releases spares, oldest first, until at most `bytes` are held.
    void shrink_to(uint64_t bytes);
    // Releases every spare; keep() refuses from now on (daemon shutdown).
    void close();

    uint64_t held_bytes() const { return held_bytes_; }
    size_t count() const { return spares_.size(); }
    uint64_t reused() const { return reused_; }  // spares taken since start

private:
    std::string spare_name(uint64_t backing) const;
    void release(const Spare& spare, const char* why);  // unlinks it; workers drop their mappings
    uint64_t release_oldest(const char* why);           // of a non-empty list; returns its capacity
    void arm_expiry();
    void expire();

    std::string instance_;
    ctl::Header* control_;
    SpareLimits limits_;
    bool closed_ = false;
    uint64_t reused_ = 0;
    std::vector<Spare> spares_;  // oldest first
    uint64_t held_bytes_ = 0;    // the sum of spares_' capacities
    boost::asio::steady_timer expiry_;
    bool expiry_armed_ = false;
};

}  // namespace shmpool
