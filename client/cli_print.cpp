// Human-readable output of the shmpool CLI: aligned tables, key: value lines, one-line jobs.
// Tolerant of missing fields ("-") so a newer daemon's replies still print.
#include "client/cli_print.h"

#include "client/prometheus.h"

#include <unistd.h>

#include <algorithm>
#include <iomanip>
#include <map>
#include <sstream>
#include <string_view>
#include <vector>

namespace shmpool::cli {
namespace {

using Json = nlohmann::json;
using Row = std::vector<std::string>;

const Json& member(const Json& obj, const char* key) {
    static const Json null;
    return obj.is_object() && obj.contains(key) ? obj[key] : null;
}

// A scalar as text: strings bare, null as "-", arrays joined by `sep`.
std::string text(const Json& v, const char* sep = ",") {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (!v.is_array()) return v.dump();
    std::string joined;
    for (const Json& item : v) joined += (joined.empty() ? "" : sep) + text(item, sep);
    return joined.empty() ? "-" : joined;
}

std::string field(const Json& obj, const char* key) { return text(member(obj, key)); }
std::string shape(const Json& obj) { return text(member(obj, "shape"), "x"); }

double number(const Json& obj, const char* key) {
    const Json& v = member(obj, key);
    return v.is_number() ? v.get<double>() : 0.0;
}

std::string seconds(double s) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(3) << s << " s";
    return out.str();
}

// Columns padded to their widest cell; the last column is not padded.
void print_table(std::ostream& out, const Row& header, const std::vector<Row>& rows) {
    std::vector<size_t> width(header.size(), 0);
    auto widen = [&](const Row& row) {
        for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
    };
    widen(header);
    for (const Row& row : rows) widen(row);
    auto line = [&](const Row& row) {
        for (size_t c = 0; c < row.size() && c < width.size(); ++c)
            out << (c + 1 < row.size() ? row[c] + std::string(width[c] - row[c].size() + 2, ' ') : row[c]);
        out << "\n";
    };
    line(header);
    for (const Row& row : rows) line(row);
}

std::vector<Row> rows_of(const Json& items, Row (*row)(const Json&)) {
    std::vector<Row> rows;
    if (items.is_array())
        for (const Json& item : items) rows.push_back(row(item));
    return rows;
}

std::string dataset_summary(const Json& info) {
    return field(info, "name") + " " + field(info, "dtype") + " " + shape(info);
}

}  // namespace

std::string job_line(const Json& job) {
    std::string state = field(job, "state");
    std::ostringstream out;
    out << "job " << field(job, "job") << " " << field(job, "kernel") << " " << state << ": ";
    if (state == "done")
        out << field(job, "ranges") << " ranges in " << seconds(number(job, "run_s"));
    else
        out << field(job, "ranges_done") << "/" << field(job, "ranges") << " ranges, " << seconds(number(job, "run_s"));
    if (number(job, "ranges_requeued") > 0) out << " (" << field(job, "ranges_requeued") << " requeued)";
    if (member(job, "output").is_object()) out << " -> " << dataset_summary(member(job, "output"));
    if (!member(job, "value").is_null()) out << ", value " << member(job, "value").dump();
    const Json& error = member(job, "error");
    if (error.is_object()) out << ": " << field(error, "code") << ": " << field(error, "message");
    return out.str();
}

namespace {

void print_ping(std::ostream& out, const Command&, const Json& r) {
    out << "pong: shmpoold " << field(r, "version") << ", instance " << field(r, "instance") << ", pid "
        << field(r, "pid") << "\n";
}

Row worker_row(const Json& w) {
    const Json& range = member(w, "range");
    std::string span = range.is_array() && range.size() == 2 ? text(range[0]) + "-" + text(range[1]) : "-";
    return {field(w, "slot"), field(w, "pid"),         field(w, "state"),   field(w, "job"),
            span,             field(w, "ranges_done"), field(w, "restarts")};
}

void print_workers_table(std::ostream& out, const Json& workers) {
    print_table(out, {"SLOT", "PID", "STATE", "JOB", "RANGE", "DONE", "RESTARTS"}, rows_of(workers, worker_row));
}

void print_workers(std::ostream& out, const Command&, const Json& r) { print_workers_table(out, member(r, "workers")); }

std::string percent(const Json& job) {
    double total = number(job, "ranges");
    std::ostringstream text;
    text << std::fixed << std::setprecision(1) << (total > 0 ? 100.0 * number(job, "ranges_done") / total : 0.0)
         << "%";
    return text.str();
}

Row active_job_row(const Json& j) {
    return {field(j, "job"), field(j, "kernel"), field(j, "state"),
            field(j, "ranges_done") + "/" + field(j, "ranges"), percent(j), seconds(number(j, "run_s"))};
}

// "3 submitted, 2 done, ..." from an object's fields, in the given order.
std::string counts(const Json& obj, std::initializer_list<const char*> keys) {
    std::string joined;
    for (const char* key : keys) joined += (joined.empty() ? "" : ", ") + field(obj, key) + " " + key;
    return joined;
}

// "39 jobs, mean 0.467 s; <=0.001 s: 3, <=0.5 s: 30, ..." (buckets that gained jobs only).
std::string latency_text(const Json& hist) {
    double count = number(hist, "count");
    std::ostringstream out;
    out << field(hist, "count") << " jobs";
    if (count > 0) out << ", mean " << seconds(number(hist, "sum") / count);
    double previous = 0;
    const char* sep = "; ";
    if (member(hist, "buckets").is_array())
        for (const Json& b : member(hist, "buckets")) {
            double c = number(b, "count");
            if (c == previous) continue;
            out << sep << "<=" << field(b, "le") << " s: " << c - previous;
            previous = c, sep = ", ";
        }
    return out.str();
}

void print_stats(std::ostream& out, const Command& cmd, const Json& r) {
    if (member(cmd.settings, "prometheus") == true) {
        out << prometheus_text(r);
        return;
    }
    const Json& jobs = member(r, "jobs");
    out << "uptime:      " << seconds(number(r, "uptime_s")) << "\n"
        << "jobs:        " << counts(jobs, {"submitted", "done", "failed", "cancelled", "timed_out"}) << "; "
        << counts(jobs, {"running", "queued", "waiting"}) << "\n"
        << "ranges:      " << counts(member(r, "ranges"), {"run", "requeued", "duplicates"}) << "\n"
        << "datasets:    " << field(member(r, "datasets"), "count") << " holding "
        << field(member(r, "datasets"), "bytes") << " bytes; spares: " << field(member(r, "datasets"), "spares")
        << " holding " << field(member(r, "datasets"), "spare_bytes") << " bytes, "
        << field(member(r, "datasets"), "spares_reused") << " reused\n"
        << "workers:     " << counts(member(r, "workers"), {"alive", "restarts"}) << "\n"
        << "job latency: " << latency_text(member(r, "job_latency_s")) << "\n";
}

std::string keys(const Json& obj) {
    std::string joined;
    if (obj.is_object())
        for (const auto& [key, value] : obj.items()) joined += (joined.empty() ? "" : ",") + key;
    return obj.is_object() ? (joined.empty() ? "-" : joined) : text(obj);
}

Row kernel_row(const Json& k) {
    return {field(k, "name"), field(k, "roles"), keys(member(k, "params")), field(k, "simd"), field(k, "description")};
}

// The table, then the SIMD path the workers run (runtime CPU dispatch) and how it was chosen.
void print_kernels(std::ostream& out, const Command&, const Json& r) {
    print_table(out, {"KERNEL", "INPUTS", "PARAMS", "SIMD", "DESCRIPTION"}, rows_of(member(r, "kernels"), kernel_row));
    const Json& simd = member(r, "simd");
    if (simd.is_null()) return;
    const Json& forced = member(simd, "forced_by");
    out << "\nSIMD path: " << field(simd, "path") << " (" << (forced.is_null() ? "the best" : text(forced))
        << " of available " << text(member(simd, "available"), ", ") << ")\n";
}

// Another uid's dataset (shared with this one) by the name that reaches it: "<uid>/<name>".
Row dataset_row(const Json& d) {
    bool mine = field(d, "owner_uid") == std::to_string(getuid()) || !member(d, "ref").is_string();
    return {field(d, mine ? "name" : "ref"), field(d, "dtype"),   shape(d),
            field(d, "bytes"),                field(d, "sealed"), field(d, "segment")};
}

void print_list(std::ostream& out, const Command&, const Json& r) {
    const Json& datasets = member(r, "datasets");
    if (datasets.empty()) out << "no datasets\n";
    else print_table(out, {"NAME", "DTYPE", "SHAPE", "BYTES", "SEALED", "SEGMENT"}, rows_of(datasets, dataset_row));
}

// "key: value" lines, aligned; the protocol's fields in their documented order, then any others.
void print_info(std::ostream& out, const Command&, const Json& r) {
    static const std::vector<std::string> order = {"name", "dtype", "shape", "bytes", "segment", "sealed"};
    std::vector<std::string> names(order.begin(), order.end());
    if (r.is_object())
        for (const auto& [key, value] : r.items())
            if (std::find(order.begin(), order.end(), key) == order.end()) names.push_back(key);
    size_t width = 0;
    for (const std::string& key : names) width = std::max(width, key.size());
    for (const std::string& key : names)
        out << key << ":" << std::string(width - key.size() + 1, ' ')
            << (key == "shape" ? shape(r) : field(r, key.c_str())) << "\n";
}

void print_put(std::ostream& out, const Command&, const Json& r) {
    out << "stored " << dataset_summary(r) << " (" << field(r, "bytes") << " bytes)\n";
}

void print_shutdown(std::ostream& out, const Command&, const Json&) { out << "shmpoold is stopping\n"; }

void print_removed(std::ostream& out, const Command&, const Json& r) { out << "deleted " << field(r, "deleted") << "\n"; }

// share / unshare: who besides its owner (and the admins) may now read the dataset.
void print_shares(std::ostream& out, const Command&, const Json& r) {
    const Json& shares = member(r, "shares");
    std::string who;
    auto add = [&who](const std::string& item) { who += (who.empty() ? "" : ", ") + item; };
    for (const Json& uid : member(shares, "users")) add("uid " + uid.dump());
    for (const Json& gid : member(shares, "groups")) add("gid " + gid.dump());
    if (member(shares, "all") == true) add("every allowed user");
    out << field(r, "name") << ": " << (who.empty() ? "private (its owner and the admins)" : "readable by " + who)
        << "\n";
}

void print_saved(std::ostream& out, const Command& cmd, const Json& r) {
    out << "saved " << field(cmd.request, "name") << " to " << field(r, "file") << " (" << field(r, "bytes")
        << " bytes)\n";
}

void print_job(std::ostream& out, const Command&, const Json& r) { out << job_line(r) << "\n"; }

// A detached run prints only the job id, for JOB=$(shmpool run ... --detach).
void print_run(std::ostream& out, const Command& cmd, const Json& r) {
    if (member(cmd.request, "wait") == false) out << field(r, "job") << "\n";
    else print_job(out, cmd, r);
}

using Printer = void (*)(std::ostream&, const Command&, const Json&);

const std::map<std::string_view, Printer>& printers() {
    static const std::map<std::string_view, Printer> table = {
        {"ping", print_ping},   {"workers", print_workers}, {"kernels", print_kernels}, {"shutdown", print_shutdown},
        {"put", print_put},     {"ls", print_list},         {"info", print_info},       {"rm", print_removed},
        {"save", print_saved},  {"run", print_run},         {"status", print_job},      {"wait", print_job},
        {"cancel", print_job},  {"stats", print_stats},     {"share", print_shares},    {"unshare", print_shares},
    };
    return table;
}

}  // namespace

void print_top_frame(std::ostream& out, const Json& stats, const Json& workers, std::optional<double> ranges_per_s) {
    const Json& jobs = member(stats, "jobs");
    const Json& w = member(stats, "workers");
    std::ostringstream rate;
    if (ranges_per_s) rate << std::fixed << std::setprecision(1) << *ranges_per_s;
    else rate << "-";
    out << "shmpoold up " << seconds(number(stats, "uptime_s")) << " | workers " << field(w, "alive") << "/"
        << field(w, "count") << ", " << field(w, "restarts") << " restarts | jobs "
        << counts(jobs, {"running", "queued", "waiting"}) << " | " << rate.str() << " ranges/s\n\n";
    print_workers_table(out, workers);
    const Json& active = member(stats, "active_jobs");
    out << "\n";
    if (active.empty()) out << "no jobs running\n";
    else print_table(out, {"JOB", "KERNEL", "STATE", "RANGES", "DONE", "RUN"}, rows_of(active, active_job_row));
}

void print_human(std::ostream& out, const Command& cmd, const Json& result) {
    auto it = printers().find(cmd.name);
    if (it != printers().end()) it->second(out, cmd, result);
    else out << result.dump(2) << "\n";
}

}  // namespace shmpool::cli
