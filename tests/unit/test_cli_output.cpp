// Unit tests of the CLI's pure pieces added for live use: the stats/top/completion command
// lines, the progress bar line, the Prometheus text of a stats result, the bash completion.
#include <catch2/catch.hpp>

#include <iterator>
#include <set>
#include <cctype>
#include <cstdlib>
#include <sstream>

#include "client/command.h"
#include "client/command_specs.h"
#include "client/completion.h"
#include "client/progress_bar.h"
#include "client/prometheus.h"

using nlohmann::json;
using namespace shmpool::cli;

namespace {

json progress(uint64_t done, uint64_t total, const char* state = "running") {
    return {{"id", 1}, {"event", "progress"}, {"job", 7}, {"state", state}, {"ranges_done", done}, {"ranges", total}};
}

// Joins pieces (g++ 12 warns falsely on chains of std::string operator+ at -O3).
std::string cat(std::initializer_list<std::string_view> pieces) {
    std::string out;
    for (std::string_view p : pieces) out.append(p);
    return out;
}

// The exposition grammar for our samples: NAME[{label="value"}] VALUE (no std::regex: g++ 12
// warns falsely on it under ASan).
bool is_sample_line(const std::string& line) {
    auto name_char = [](char c, bool first) {
        return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
               (!first && std::isdigit(static_cast<unsigned char>(c)));
    };
    size_t i = 0;
    while (i < line.size() && name_char(line[i], i == 0)) ++i;
    if (i == 0) return false;
    if (i < line.size() && line[i] == '{') {
        size_t eq = line.find("=\"", i), close = line.find("\"}", i);
        if (eq == std::string::npos || close == std::string::npos || eq < i + 2 || close < eq) return false;
        i = close + 2;
    }
    if (i >= line.size() || line[i] != ' ') return false;
    std::string value = line.substr(i + 1);
    if (value == "+Inf" || value == "-Inf" || value == "NaN") return true;
    char* end = nullptr;
    std::strtod(value.c_str(), &end);
    return !value.empty() && end == value.c_str() + value.size() && value.find_first_of(" \t") == std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

}  // namespace

TEST_CASE("stats, top and completion parse to their requests and settings", "[cli]") {
    Command stats = parse_command({"stats", "--prometheus"});
    CHECK(stats.request == json{{"verb", "stats"}});
    CHECK(stats.settings["prometheus"] == true);
    CHECK(parse_command({"stats"}).settings["prometheus"] == false);

    Command top = parse_command({"--json", "top", "--once", "--interval", "250"});
    CHECK(top.request == json{{"verb", "stats"}});
    CHECK(top.settings == json{{"interval_ms", 250}, {"once", true}});
    CHECK(top.output == Output::json);
    CHECK(parse_command({"top"}).settings == json{{"interval_ms", 1000}, {"once", false}});
    for (const char* bad : {"5", "x", "-1", "99999999"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_command({"top", "--interval", bad}), UsageError);
    }

    Command completion = parse_command({"completion", "bash"});
    CHECK(completion.action == Action::print);
    CHECK(completion.text == bash_completion());
    CHECK_THROWS_AS(parse_command({"completion", "fish"}), UsageError);
    CHECK_THROWS_AS(parse_command({"completion"}), UsageError);
}

TEST_CASE("the bash completion lists every command of the table and each one's options", "[cli]") {
    std::string script = bash_completion();
    size_t list_at = script.find("'') words=\"");
    REQUIRE(list_at != std::string::npos);
    std::istringstream list(script.substr(list_at + 11, script.find('"', list_at + 11) - list_at - 11));
    std::set<std::string> listed{std::istream_iterator<std::string>(list), std::istream_iterator<std::string>()};
    for (const CommandSpec& spec : command_specs()) {
        CAPTURE(spec.name);
        CHECK(script.find(cat({"        ", spec.name, ") words=\""})) != std::string::npos);
        CHECK(listed.count(std::string(spec.name)) == 1);  // offered after `shmpool `
    }
    CHECK(listed.count("--json") == 1);
    CHECK(script.find("run) words=\"--in --param --out --chunk --detach ") != std::string::npos);
    CHECK(script.find("complete -F _shmpool shmpool") != std::string::npos);
}

TEST_CASE("the progress line shows done/total, percent, rate and ETA", "[cli]") {
    ProgressBar bar(10);
    CHECK(bar.line(progress(0, 200, "waiting"), 0.0) == "job 7 waiting for its inputs to be written");
    CHECK(bar.line(progress(0, 200), 1.0) == "job 7 [----------] 0/200 0.0% - ranges/s ETA -");
    CHECK(bar.line(progress(50, 200), 2.0) == "job 7 [##--------] 50/200 25.0% 50 ranges/s ETA 3.0 s");
    CHECK(bar.line(progress(100, 200), 3.0) == "job 7 [#####-----] 100/200 50.0% 50 ranges/s ETA 2.0 s");
    CHECK(bar.line(progress(200, 200, "done"), 5.0) == "job 7 [##########] 200/200 100.0% 50 ranges/s ETA 0.0 s");
    CHECK(duration_text(std::nullopt) == "-");
    CHECK(duration_text(-1.0) == "-");
    CHECK(duration_text(185.0) == "3 min 5 s");
    CHECK(duration_text(3725.0) == "1 h 2 min");
}

TEST_CASE("the Prometheus text has HELP and TYPE per family and a cumulative histogram", "[cli]") {
    json stats = {{"uptime_s", 12.5},
                  {"jobs", {{"submitted", 4}, {"done", 3}, {"cancelled", 1}, {"running", 0}}},
                  {"ranges", {{"run", 30}, {"requeued", 2}, {"duplicates", 0}}},
                  {"datasets", {{"count", 1}, {"bytes", 96}}},
                  {"workers", {{"count", 2}, {"alive", 2}, {"restarts", 1}}},
                  {"job_latency_s",
                   {{"buckets", {{{"le", 0.001}, {"count", 1}}, {{"le", 0.7}, {"count", 3}}, {{"le", "+Inf"}, {"count", 4}}}},
                    {"sum", 7.25},
                    {"count", 4}}}};
    std::string text = prometheus_text(stats);
    auto lines = lines_of(text);
    std::set<std::string> typed;
    for (size_t i = 0; i < lines.size(); ++i) {
        CAPTURE(lines[i]);
        if (lines[i].rfind("# HELP ", 0) == 0) {
            REQUIRE(i + 1 < lines.size());
            std::string name = lines[i].substr(7, lines[i].find(' ', 7) - 7);
            CHECK(lines[i + 1].rfind(cat({"# TYPE ", name, " "}), 0) == 0);
        } else if (lines[i].rfind("# TYPE ", 0) == 0) {
            std::string name = lines[i].substr(7, lines[i].find(' ', 7) - 7);
            CHECK(typed.insert(name).second);
            if (lines[i].ends_with(" counter")) CHECK(name.ends_with("_total"));
        } else {
            CHECK(is_sample_line(lines[i]));
        }
    }
    CHECK(text.find("shmpool_jobs_submitted_total 4\n") != std::string::npos);
    CHECK(text.find("shmpool_jobs_ended_total{state=\"failed\"} 0\n") != std::string::npos);  // missing: 0
    CHECK(text.find("shmpool_worker_restarts_total 1\n") != std::string::npos);
    CHECK(text.find("shmpool_uptime_seconds 12.5\n") != std::string::npos);
    CHECK(text.find("shmpool_job_latency_seconds_bucket{le=\"0.001\"} 1\n"
                    "shmpool_job_latency_seconds_bucket{le=\"0.7\"} 3\n"
                    "shmpool_job_latency_seconds_bucket{le=\"+Inf\"} 4\n"
                    "shmpool_job_latency_seconds_sum 7.25\n"
                    "shmpool_job_latency_seconds_count 4\n") != std::string::npos);
    // An empty result still gives a well-formed histogram ending in +Inf.
    CHECK_FALSE(is_sample_line("shmpool x 1"));  // the checker itself rejects what is not a sample
    CHECK_FALSE(is_sample_line("shmpool_x{le=1} 1"));
    CHECK_FALSE(is_sample_line("shmpool_x 1.5s"));
    CHECK(prometheus_text(json::object()).find("shmpool_job_latency_seconds_bucket{le=\"+Inf\"} 0\n") !=
          std::string::npos);
}
