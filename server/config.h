// shmpoold's settings: one option table serving both the command line and the INI config
// file (flags override the file), and errors that name the file's line or the flag.
#pragma once

#include <stdexcept>
#include <string>

#include "common/log.h"
#include "server/daemon.h"

namespace shmpool {

// A duration written in seconds (a non-negative decimal number) in flags and the file.
struct Seconds {
    double value = 0;
    std::chrono::milliseconds ms() const { return std::chrono::milliseconds(static_cast<int64_t>(value * 1000)); }
};

// A file mode written in octal ("0660"): permission bits only, no set-id or sticky bits.
struct FileMode {
    unsigned value = 0;
};

struct DaemonSettings {
    DaemonOptions daemon;  // what the Daemon is built from (durations copied from below)
    Seconds shutdown_timeout{10};
    Seconds cancel_grace{2};
    Seconds worker_stop_grace{2};
    Seconds idle_timeout{30};
    Seconds spare_idle{30};
    FileMode socket_mode{0660};
    FileMode segment_mode{0600};
    LogLevel log_level = LogLevel::info;
    std::string log_file;     // empty: stderr in the foreground, syslog when daemonized
    bool keep_socket = false; // --cleanup: leave the socket file (systemd's socket unit owns it)
    std::string config_file;  // the file read (--config or --check-config); empty: none
};

enum class SettingsAction { run, help, version, check_config, cleanup };

struct LoadedSettings {
    SettingsAction action = SettingsAction::run;
    DaemonSettings settings;
    std::string help;  // the --help text
};

// A bad flag, an unreadable file, an unknown key or a bad value. The message starts with
// where it is: "FILE:LINE: " for the config file, "command line: " for a flag.
class SettingsError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses the flags, then the config file they name (a key set by a flag keeps the flag's
// value), then checks the values. Throws SettingsError.
LoadedSettings load_settings(int argc, const char* const argv[]);

// Every file setting as "key = value", one a line, in table order: --check-config's output,
// itself a valid config file.
std::string describe_settings(const DaemonSettings& settings);

}  // namespace shmpool
