// One-line log records "<time> shmpoold[<pid>] <level>: <text>" to stderr, a log file or
// syslog. A single write(2) per record, so lines from the daemon and its workers never interleave.
#include "common/log.h"

#include <fcntl.h>
#include <signal.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "common/error.h"

namespace shmpool {
namespace {

enum class Sink { stderr_fd, file, syslog };

LogLevel g_min_level = LogLevel::info;
Sink g_sink = Sink::stderr_fd;
char g_file_path[4096] = {};  // a fixed buffer: read by the async-signal-safe reopen
int g_echo_fd = -1;

int open_log(const char* path) { return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640); }

int syslog_priority(LogLevel l) {
    switch (l) {
        case LogLevel::debug: return LOG_DEBUG;
        case LogLevel::info: return LOG_INFO;
        case LogLevel::warn: return LOG_WARNING;
        case LogLevel::error: return LOG_ERR;
    }
    return LOG_NOTICE;
}

std::string record(LogLevel level, std::string_view text) {
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
    return line;
}

void on_sighup(int) {
    int saved = errno;
    reopen_log_file();
    errno = saved;
}

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
    std::string line = record(level, text);
    ssize_t w = 0;
    if (g_echo_fd >= 0 && level >= LogLevel::warn) w = write(g_echo_fd, line.data(), line.size());
    if (g_sink == Sink::syslog) syslog(syslog_priority(level), "%.*s", int(text.size()), text.data());
    else w = write(STDERR_FILENO, line.data(), line.size());
    (void)w;  // nowhere left to report a failed log write
}

void log_to_file(const std::string& path) {
    if (path.empty() || path.size() >= sizeof g_file_path)
        throw Error(ErrorCode::io_error, "log file path '" + path + "' is empty or too long");
    int fd = open_log(path.c_str());
    if (fd < 0) throw Error(ErrorCode::io_error, sys_error_text("open", "opening log file '" + path + "'", errno));
    if (dup2(fd, STDERR_FILENO) < 0) {
        int err = errno;
        close(fd);
        throw Error(ErrorCode::io_error, sys_error_text("dup2", "logging to '" + path + "'", err));
    }
    close(fd);
    std::memcpy(g_file_path, path.c_str(), path.size() + 1);
    g_sink = Sink::file;
}

void log_to_syslog() {
    openlog("shmpoold", LOG_PID, LOG_DAEMON);
    g_sink = Sink::syslog;
}

bool logging_to_file() { return g_sink == Sink::file; }

bool reopen_log_file() {
    if (g_sink != Sink::file) return false;
    int fd = open_log(g_file_path);
    if (fd < 0) return false;
    bool ok = dup2(fd, STDERR_FILENO) >= 0;
    close(fd);
    return ok;
}

void start_log_echo(int fd) { g_echo_fd = fd; }

void end_log_echo() {
    if (g_echo_fd >= 0) close(g_echo_fd);
    g_echo_fd = -1;
}

void log_after_fork() {
    g_echo_fd = -1;  // the child does not own it (and closes descriptors it does not need)
    if (g_sink == Sink::syslog) closelog();  // reconnects on the next record
    if (g_sink == Sink::file) signal(SIGHUP, on_sighup);
}

}  // namespace shmpool
