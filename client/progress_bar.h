// The live progress line of `shmpool run`/`wait` on a terminal: built from the daemon's progress
// events (docs/protocol.md), with the rate measured here and an ETA from it. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace shmpool::cli {

class ProgressBar {
public:
    explicit ProgressBar(size_t bar_width = 30) : bar_width_(bar_width) {}
    // The line for a progress event received at `now_s` (any monotonic clock, in seconds):
    // "job 7 rbf [#####-----] 512/4096 12.5% 1234 ranges/s ETA 2.9 s".
    std::string line(const nlohmann::json& event, double now_s);

private:
    size_t bar_width_;
    std::optional<double> first_s_;  // first event seen while running, and its count
    uint64_t first_done_ = 0;
};

// "2.9 s", "3 min 5 s", "1 h 2 min"; "-" when unknown.
std::string duration_text(std::optional<double> seconds);

}  // namespace shmpool::cli
