// The `stats` result as Prometheus text: one family per metric, written through one helper
// so every family has its HELP and TYPE lines and samples follow the exposition grammar.
#include "client/prometheus.h"

#include <cmath>
#include <sstream>
#include <string>
#include <string_view>

namespace shmpool::cli {
namespace {

using Json = nlohmann::json;

double number_at(const Json& obj, std::initializer_list<const char*> path) {
    const Json* at = &obj;
    for (const char* key : path) {
        if (!at->is_object() || !at->contains(key)) return 0;
        at = &(*at)[key];
    }
    return at->is_number() ? at->get<double>() : 0;
}

// Prometheus values: integers without a fraction, others with full precision, +Inf spelled so.
std::string value_text(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    for (int digits : {15, 17}) {  // the shortest of these that reads back as v
        std::ostringstream out;
        out.precision(digits);
        out << v;
        if (digits == 17 || std::stod(out.str()) == v) return out.str();
    }
    return "NaN";  // not reached
}

class Writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    }
    void sample(std::string_view name, double v, std::string_view labels = {}) {
        out_ << name;
        if (!labels.empty()) out_ << "{" << labels << "}";
        out_ << " " << value_text(v) << "\n";
    }
    void one(std::string_view name, std::string_view type, std::string_view help, double v) {
        family(name, type, help);
        sample(name, v);
    }
    std::string text() const { return out_.str(); }

private:
    std::ostringstream out_;
};

void job_families(Writer& w, const Json& s) {
    w.one("shmpool_jobs_submitted_total", "counter", "Jobs submitted, including the daemon's own copy jobs.",
          number_at(s, {"jobs", "submitted"}));
    w.family("shmpool_jobs_ended_total", "counter", "Jobs ended, by final state.");
    for (const char* state : {"done", "failed", "cancelled", "timed_out"})
        w.sample("shmpool_jobs_ended_total", number_at(s, {"jobs", state}), std::string("state=\"") + state + "\"");
    w.family("shmpool_jobs", "gauge", "Jobs not ended, by state.");
    for (const char* state : {"running", "queued", "waiting"})
        w.sample("shmpool_jobs", number_at(s, {"jobs", state}), std::string("state=\"") + state + "\"");
}

void range_and_resource_families(Writer& w, const Json& s) {
    w.one("shmpool_ranges_run_total", "counter", "Range completions accounted.", number_at(s, {"ranges", "run"}));
    w.one("shmpool_ranges_requeued_total", "counter", "Ranges handed out again after their worker died.",
          number_at(s, {"ranges", "requeued"}));
    w.one("shmpool_duplicate_completions_total", "counter", "Completions of ranges already accounted (ignored).",
          number_at(s, {"ranges", "duplicates"}));
    w.one("shmpool_datasets", "gauge", "Datasets held.", number_at(s, {"datasets", "count"}));
    w.one("shmpool_dataset_bytes", "gauge", "Bytes of shared memory held by datasets.",
          number_at(s, {"datasets", "bytes"}));
    w.one("shmpool_spare_bytes", "gauge", "Bytes of deleted datasets' segments kept for reuse.",
          number_at(s, {"datasets", "spare_bytes"}));
    w.one("shmpool_spares_reused_total", "counter", "Job outputs written into a kept segment.",
          number_at(s, {"datasets", "spares_reused"}));
    w.one("shmpool_workers", "gauge", "Worker processes alive.", number_at(s, {"workers", "alive"}));
    w.one("shmpool_worker_restarts_total", "counter", "Worker processes replaced after they died.",
          number_at(s, {"workers", "restarts"}));
    w.one("shmpool_uptime_seconds", "gauge", "Seconds since the daemon started.", number_at(s, {"uptime_s"}));
}

void latency_family(Writer& w, const Json& s) {
    const char* name = "shmpool_job_latency_seconds";
    w.family(name, "histogram", "Seconds from job submission to its end.");
    const Json hist = s.is_object() && s.contains("job_latency_s") ? s["job_latency_s"] : Json::object();
    double count = number_at(hist, {"count"});
    bool has_inf = false;
    if (hist.contains("buckets") && hist["buckets"].is_array())
        for (const Json& b : hist["buckets"]) {
            bool inf = b.value("le", Json()).is_string();
            has_inf = has_inf || inf;
            double le = inf ? INFINITY : number_at(b, {"le"});
            w.sample(std::string(name) + "_bucket", number_at(b, {"count"}), "le=\"" + value_text(le) + "\"");
        }
    if (!has_inf) w.sample(std::string(name) + "_bucket", count, "le=\"+Inf\"");
    w.sample(std::string(name) + "_sum", number_at(hist, {"sum"}));
    w.sample(std::string(name) + "_count", count);
}

}  // namespace

std::string prometheus_text(const Json& stats) {
    Writer w;
    job_families(w, stats);
    range_and_resource_families(w, stats);
    latency_family(w, stats);
    return w.text();
}

}  // namespace shmpool::cli
