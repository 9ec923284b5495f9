// The `stats` verb's result in the Prometheus text exposition format (version 0.0.4), for
// `shmpool stats --prometheus` (e.g. node_exporter's textfile collector).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace shmpool::cli {

// # HELP / # TYPE lines and samples: counters end in _total, gauges do not, and
// shmpool_job_latency_seconds is a histogram (_bucket{le=...} cumulative to +Inf, _sum, _count).
// Missing fields count as 0, so an older daemon's reply still gives a well-formed text.
std::string prometheus_text(const nlohmann::json& stats);

}  // namespace shmpool::cli
