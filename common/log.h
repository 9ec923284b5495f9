// One-line log records "<time> shmpoold[<pid>] <level>: <text>", to stderr (the terminal, or
// the journal under systemd), to a --log-file (reopened on SIGHUP), or to syslog.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shmpool {

enum class LogLevel { debug, info, warn, error };

void log_line(LogLevel level, std::string_view text);
void set_log_level(LogLevel min_level);
const char* level_name(LogLevel level);                          // "debug", "info", "warn", "error"
std::optional<LogLevel> parse_log_level(std::string_view name);  // the inverse; nullopt if unknown
inline void log_info(std::string_view t) { log_line(LogLevel::info, t); }
inline void log_warn(std::string_view t) { log_line(LogLevel::warn, t); }
inline void log_error(std::string_view t) { log_line(LogLevel::error, t); }
inline void log_debug(std::string_view t) { log_line(LogLevel::debug, t); }

// Where records go (default: stderr). log_to_file opens `path` for appending onto stderr's
// descriptor, so processes forked later write to it too; throws Error(io_error).
void log_to_file(const std::string& path);
// syslog(3), facility daemon, ident "shmpoold" with the pid: the journal or syslogd.
void log_to_syslog();
bool logging_to_file();
// Reopens the log file at its path (after logrotate moved it). Async-signal-safe (a worker's
// SIGHUP handler calls it); false when it could not, and the old file stays in use.
bool reopen_log_file();

// Until a daemonized shmpoold is ready, warnings and errors are also copied to the launching
// shell's stderr, kept as a private descriptor `fd`; end_log_echo() closes it.
void start_log_echo(int fd);
void end_log_echo();

// In a freshly forked child: no echo, no inherited syslog connection, and with a log file a
// SIGHUP handler that reopens it (the daemon forwards its SIGHUP to the workers).
void log_after_fork();

}  // namespace shmpool
