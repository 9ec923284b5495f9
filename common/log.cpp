// One-line log records on stderr: "<time> shmpoold[<pid>] <level>: <text>".
// A single write(2) per record, so lines from the daemon and its workers never interleave.
#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace shmpool {
namespace {

LogLevel g_min_level = LogLevel::info;

}  // namespace

const char* level_name(LogLevel l) {
    switch (l) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
    }
    return "?";
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
    for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error})
        if (name == level_name(l)) return l;
    return std::nullopt;
}

void set_log_level(LogLevel min_level) { g_min_level = min_level; }

void log_line(LogLevel level, std::string_view text) {
    if (level < g_min_level) return;
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm parts{};
    gmtime_r(&ts.tv_sec, &parts);
    char prefix[96];
    int n = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ shmpoold[%d] %s: ",
                          parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
                          parts.tm_sec, ts.tv_nsec / 1000000, static_cast<int>(getpid()), level_name(level));
    std::string line(prefix, static_cast<size_t>(n));
    line.append(text);
    line.push_back('\n');
    ssize_t w = write(STDERR_FILENO, line.data(), line.size());
    (void)w;  // nowhere left to report a failed log write
}

}  // namespace shmpool
