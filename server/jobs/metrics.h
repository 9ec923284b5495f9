// The scheduler's counters for the `stats` verb: jobs by outcome, ranges run/requeued/duplicated,
// and a histogram of job latency (submit to end) over fixed buckets. Pure: no clock of its own.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace shmpool {

// Seconds from submit to end, counted in fixed buckets (upper bounds, inclusive), as Prometheus
// histograms are: to_json() gives cumulative counts ending in +Inf == count.
class LatencyHistogram {
public:
    static constexpr std::array<double, 12> kBounds = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                                       1.0,   5.0,   10.0, 60.0, 300.0, 3600.0};
    void observe(double seconds);
    uint64_t count() const { return count_; }
    double sum() const { return sum_; }
    // {"buckets": [{"le": 0.001, "count": c}, ..., {"le": "+Inf", "count": n}], "sum": s, "count": n}
    nlohmann::json to_json() const;

private:
    std::array<uint64_t, kBounds.size() + 1> per_bucket_{};  // last: above every bound
    double sum_ = 0;
    uint64_t count_ = 0;
};

struct SchedulerMetrics {
    using Clock = std::chrono::steady_clock;

    Clock::time_point started = Clock::now();
    uint64_t jobs_submitted = 0, jobs_done = 0, jobs_failed = 0, jobs_cancelled = 0, jobs_timed_out = 0;
    uint64_t ranges_run = 0, ranges_requeued = 0, duplicate_completions = 0;
    LatencyHistogram job_latency_s;
};

}  // namespace shmpool
