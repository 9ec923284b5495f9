// The scheduler's counters for the `stats` verb and the job latency histogram's bucketing.
// Buckets are kept per bucket and made cumulative only when described.
#include "server/jobs/metrics.h"

#include <algorithm>

namespace shmpool {

void LatencyHistogram::observe(double seconds) {
    if (!(seconds >= 0)) seconds = 0;  // a clock oddity or NaN never makes a negative latency
    auto bound = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);  // first bound >= seconds
    per_bucket_[static_cast<size_t>(bound - kBounds.begin())] += 1;
    sum_ += seconds;
    count_ += 1;
}

nlohmann::json LatencyHistogram::to_json() const {
    nlohmann::json buckets = nlohmann::json::array();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += per_bucket_[i];
        buckets.push_back({{"le", kBounds[i]}, {"count", cumulative}});
    }
    buckets.push_back({{"le", "+Inf"}, {"count", cumulative + per_bucket_.back()}});
    return {{"buckets", buckets}, {"sum", sum_}, {"count", count_}};
}

}  // namespace shmpool
