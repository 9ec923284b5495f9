// The live progress line of `shmpool run`/`wait`: a bar, done/total, percent, the rate since
// the first running event, and the time left at that rate.
#include "client/progress_bar.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace shmpool::cli {

std::string duration_text(std::optional<double> seconds) {
    if (!seconds || !std::isfinite(*seconds) || *seconds < 0) return "-";
    char buf[64];
    double s = *seconds;
    if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%d min %d s", int(s / 60), int(std::fmod(s, 60)));
    else std::snprintf(buf, sizeof buf, "%d h %d min", int(s / 3600), int(std::fmod(s, 3600) / 60));
    return buf;
}

std::string ProgressBar::line(const nlohmann::json& event, double now_s) {
    uint64_t done = event.value("ranges_done", uint64_t{0}), total = event.value("ranges", uint64_t{0});
    std::string state = event.value("state", std::string("?"));
    std::ostringstream out;
    out << "job " << event.value("job", uint64_t{0});
    if (state == "waiting" || state == "queued") {
        out << (state == "waiting" ? " waiting for its inputs to be written" : " queued");
        return out.str();
    }
    if (state == "running" && !first_s_) first_s_ = now_s, first_done_ = done;
    double fraction = total ? double(std::min(done, total)) / double(total) : 0.0;
    size_t filled = static_cast<size_t>(fraction * double(bar_width_));
    double elapsed = first_s_ ? now_s - *first_s_ : 0.0;
    std::optional<double> rate, eta;
    if (elapsed > 0 && done > first_done_) rate = double(done - first_done_) / elapsed;
    if (rate) eta = double(total - std::min(done, total)) / *rate;
    if (state != "running") eta = 0.0;
    out << " [" << std::string(filled, '#') << std::string(bar_width_ - filled, '-') << "] " << done << "/" << total
        << " " << std::fixed << std::setprecision(1) << 100.0 * fraction << "% ";
    if (rate) out << std::llround(*rate);
    else out << "-";
    out << " ranges/s ETA " << duration_text(eta);
    return out.str();
}

}  // namespace shmpool::cli
