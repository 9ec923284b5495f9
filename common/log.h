// One-line log records on stderr: "<time> shmpoold[<pid>] <level>: <text>".
// Under systemd stderr goes to the journal; by hand it goes to the terminal.
#pragma once

#include <optional>
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

}  // namespace shmpool
