// Segments of deleted datasets kept with their pages, and renamed to the next job output that
// fits them: a fresh tmpfs page costs more to allocate and zero than a kernel spends writing it.
#include "server/datasets/spare_segments.h"

#include <algorithm>

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/segment.h"

namespace shmpool {

SpareSegments::SpareSegments(boost::asio::io_context& io, std::string instance, ctl::Header* control,
                             SpareLimits limits)
    : instance_(std::move(instance)), control_(control), limits_(limits), expiry_(io) {}

std::string SpareSegments::spare_name(uint64_t backing) const {
    return instance_prefix(instance_) + "spare" + std::to_string(backing);
}

bool SpareSegments::keep(const std::string& name, uint64_t backing, uint64_t capacity) {
    if (closed_ || capacity == 0 || capacity > limits_.max_bytes) return false;
    shrink_to(limits_.max_bytes - capacity);
    try {
        Segment::rename(name, spare_name(backing));
    } catch (const Error& e) {
        log_warn(std::string("keeping a spare segment: ") + e.what());
        return false;
    }
    spares_.push_back({backing, capacity, std::chrono::steady_clock::now()});
    held_bytes_ += capacity;
    log_debug("kept " + name + " as spare " + spare_name(backing) + " (" + std::to_string(capacity) + " bytes)");
    arm_expiry();
    return true;
}

std::optional<SpareSegments::Spare> SpareSegments::take(uint64_t bytes, const std::string& name) {
    auto best = spares_.end();
    for (auto it = spares_.begin(); it != spares_.end(); ++it) {
        bool fits = it->capacity >= bytes && it->capacity - bytes <= it->capacity / 8;
        if (fits && (best == spares_.end() || it->capacity < best->capacity)) best = it;
    }
    if (best == spares_.end()) return std::nullopt;
    Spare spare = *best;
    spares_.erase(best);
    held_bytes_ -= spare.capacity;
    try {
        Segment::rename(spare_name(spare.backing), name);
    } catch (const Error& e) {
        log_warn(std::string("reusing a spare segment: ") + e.what());
        release(spare, "its rename failed");
        return std::nullopt;
    }
    // Cut to the new dataset's size: no byte of the dataset it held stays past the new one's
    // end, where a client given the segment (dataset.open) could read it.
    try {
        if (spare.capacity > bytes) Segment::truncate(name, bytes);
    } catch (const Error& e) {
        log_warn(std::string("reusing a spare segment: ") + e.what());
        Segment::remove(name);
        return std::nullopt;
    }
    spare.capacity = bytes;
    ++reused_;
    log_debug("spare " + spare_name(spare.backing) + " reused as " + name);
    return spare;
}

void SpareSegments::shrink_to(uint64_t bytes) {
    uint64_t held = held_bytes();
    while (held > bytes && !spares_.empty()) held -= release_oldest("to make room");
}

void SpareSegments::close() {
    closed_ = true;
    shrink_to(0);
    expiry_.cancel();
}

uint64_t SpareSegments::release_oldest(const char* why) {
    Spare oldest = spares_.front();
    spares_.erase(spares_.begin());
    held_bytes_ -= oldest.capacity;
    release(oldest, why);
    return oldest.capacity;
}

void SpareSegments::release(const Spare& spare, const char* why) {
    std::string name = spare_name(spare.backing);
    if (!Segment::remove(name)) log_warn("spare segment " + name + " was already gone");
    ctl::log_removed_segment(control_, spare.backing);
    log_debug("released spare " + name + " (" + why + ")");
}

// One timer for the oldest spare; each expiry releases what has idled max_idle and re-arms.
void SpareSegments::arm_expiry() {
    if (expiry_armed_ || spares_.empty()) return;
    expiry_armed_ = true;
    expiry_.expires_at(spares_.front().kept_at + limits_.max_idle);
    expiry_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;  // cancelled: this object may be gone
        expiry_armed_ = false;
        expire();
    });
}

void SpareSegments::expire() {
    auto now = std::chrono::steady_clock::now();
    while (!spares_.empty() && now - spares_.front().kept_at >= limits_.max_idle) release_oldest("unused too long");
    arm_expiry();
}

}  // namespace shmpool
