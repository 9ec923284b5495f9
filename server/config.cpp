// shmpoold's settings: one option table serving both the command line and the INI config
// file (flags override the file), and errors that name the file's line or the flag.
#include "server/config.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>
#include <vector>

#include <boost/algorithm/string/trim.hpp>
#include <boost/program_options.hpp>

#include "common/control.h"
#include "common/error.h"
#include "common/names.h"

namespace po = boost::program_options;

namespace shmpool {

namespace {

// Boost fills %canonical_option% with the key (or flag) being parsed.
po::error_with_option_name bad_value(const std::string& text, const std::string& expected) {
    return po::error_with_option_name("bad value '" + text + "' for '%canonical_option%' (expected " + expected + ")");
}

}  // namespace

// Value parsers Boost.Program_options finds by argument-dependent lookup.
void validate(boost::any& out, const std::vector<std::string>& tokens, LogLevel*, int) {
    po::validators::check_first_occurrence(out);
    const std::string& text = po::validators::get_single_string(tokens);
    std::optional<LogLevel> level = parse_log_level(text);
    if (!level) throw bad_value(text, "debug, info, warn or error");
    out = *level;
}

void validate(boost::any& out, const std::vector<std::string>& tokens, Seconds*, int) {
    po::validators::check_first_occurrence(out);
    const std::string& text = po::validators::get_single_string(tokens);
    size_t used = 0;
    double value = -1;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || !(value >= 0) || value > 1e9)
        throw bad_value(text, "seconds, a number >= 0");
    out = Seconds{value};
}

void validate(boost::any& out, const std::vector<std::string>& tokens, FileMode*, int) {
    po::validators::check_first_occurrence(out);
    const std::string& text = po::validators::get_single_string(tokens);
    size_t used = 0;
    unsigned long mode = 01000;
    try {
        mode = std::stoul(text, &used, 8);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || mode > 0777) throw bad_value(text, "an octal mode up to 0777");
    out = FileMode{static_cast<unsigned>(mode)};
}

namespace {

std::string to_text(const std::string& v) { return v; }
std::string to_text(FileMode v) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", v.value);
    return text;
}
std::string to_text(bool v) { return v ? "true" : "false"; }
std::string to_text(LogLevel v) { return level_name(v); }
std::string to_text(Seconds v) {
    std::ostringstream out;
    out << v.value;
    return out.str();
}
std::string to_text(const std::vector<std::string>& v) {  // for list settings
    std::string out;
    for (const auto& item : v) out += (out.empty() ? "" : " ") + item;
    return out;
}
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>, std::string> to_text(T v) {
    return std::to_string(v);
}

// The settings a flag or a config file line can set. Each add() is one setting: its key
// (the flag without "--", the file's key), where its value goes, and its help. The current
// value of the target is the default.
class SettingsTable {
public:
    explicit SettingsTable(po::options_description& desc) : desc_(desc) {}

    template <class T>
    void add(const char* key, T& target, const char* help) {
        if constexpr (std::is_same_v<T, bool>) {
            desc_.add_options()(key, po::bool_switch(&target), help);
        } else {
            desc_.add_options()(key, po::value(&target)->default_value(target, to_text(target)), help);
        }
        if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) unsigned_keys_.insert(key);
        shown_.emplace_back(key, [&target] { return to_text(target); });
    }

    // lexical_cast turns "-1" into a huge unsigned number: refuse a sign on unsigned keys.
    bool refuses_sign(const std::string& key) const { return unsigned_keys_.count(key) > 0; }

    std::string describe() const {
        std::string out;
        for (const auto& [key, show] : shown_) out += key + " = " + show() + "\n";
        return out;
    }

private:
    po::options_description& desc_;
    std::set<std::string> unsigned_keys_;
    std::vector<std::pair<std::string, std::function<std::string()>>> shown_;
};

// THE option table: every daemon setting, one line each. Add new settings here.
void declare_settings(SettingsTable& t, DaemonSettings& s) {
    DaemonOptions& d = s.daemon;
    t.add("instance", d.instance, "instance name (prefixes its segments)");
    t.add("socket", d.socket, "socket path (empty: $XDG_RUNTIME_DIR/shmpool/INSTANCE.sock, /run/shmpool for root)");
    t.add("workers", d.workers, "worker processes (0: online CPUs)");
    t.add("kernel-dir", d.kernel_dir, "load kernel plugins (*.so) from DIR (see docs/plugins.md)");
    t.add("max-line", d.max_line, "maximum request line in bytes");
    t.add("max-dataset-bytes", d.max_dataset_bytes, "bytes of one dataset or job output");
    t.add("max-shm-bytes", d.max_shm_bytes, "bytes all datasets may hold (0: no quota)");
    t.add("max-attempts", d.max_attempts, "times a range may kill its worker before its job fails");
    t.add("max-ranges-per-worker", d.max_ranges_per_worker, "replace a worker after this many ranges (0: never)");
    t.add("worker-memory-limit", d.worker_memory_limit, "bytes of private memory per worker, RLIMIT_DATA (0: none)");
    t.add("spare-bytes", d.spare_bytes, "bytes of deleted datasets' segments kept, with their pages, for the next job outputs of their size (0: none)");
    t.add("spare-idle", s.spare_idle, "seconds an unused spare segment is kept");
    t.add("shutdown-timeout", s.shutdown_timeout, "seconds running jobs get to finish on stop");
    t.add("cancel-grace", s.cancel_grace, "seconds a worker may keep running a range of an ended job before it is killed");
    t.add("worker-stop-grace", s.worker_stop_grace, "seconds a worker gets after SIGTERM on stop before SIGKILL");
    t.add("log-level", s.log_level, "debug, info, warn or error");
    t.add("log-file", s.log_file, "append log records to FILE, reopened on SIGHUP (empty: stderr in the foreground, syslog when daemonized)");
    t.add("enable-test-kernels", d.test_kernels, "accept the `fault` kernel (fault tests only)");
    // Security and limits (docs/security.md).
    t.add("allow-users", d.allow_users, "comma list of users (names or uids) that may connect, besides the daemon's own uid and root");
    t.add("allow-groups", d.allow_groups, "comma list of groups (names or gids) whose members may connect");
    t.add("admin-users", d.admin_users, "comma list of users (names or uids) that may use admin verbs and any dataset or job, besides the daemon's own uid and root");
    t.add("admin-groups", d.admin_groups, "comma list of groups (names or gids) whose members are admins");
    t.add("code-users", d.code_users, "comma list of users (names or uids) that may run Python code on the workers, besides the daemon's own uid and root");
    t.add("code-groups", d.code_groups, "comma list of groups (names or gids) whose members may run Python code");
    t.add("allow-dir", d.allow_dirs, "directory dataset.put/save may use by path (repeat; none: no file paths)");
    t.add("socket-mode", s.socket_mode, "octal mode of the socket file");
    t.add("segment-mode", s.segment_mode, "octal mode of dataset segments in /dev/shm");
    t.add("max-connections", d.max_connections, "clients served at once");
    t.add("max-requests-per-connection", d.max_requests_per_connection, "requests of one connection not yet answered at once (0: no limit)");
    t.add("max-datasets", d.max_datasets, "datasets the instance may hold (0: no limit)");
    t.add("max-datasets-per-uid", d.max_datasets_per_uid, "datasets one client uid may hold (0: no limit)");
    t.add("max-shm-bytes-per-uid", d.max_shm_bytes_per_uid, "bytes of datasets one client uid may hold (0: no limit)");
    t.add("max-output-bytes", d.max_output_bytes, "bytes of one job's output (0: only max-dataset-bytes)");
    t.add("max-ranges", d.max_ranges, "ranges one job may be split into");
    t.add("idle-timeout", s.idle_timeout, "seconds a partial request line may wait for its end (0: forever)");
}

// Flags that only make sense on the command line.
struct CommandLineOnly {
    std::string config_file;
    std::string check_config_file;
    bool foreground = false;
    bool cleanup = false;
    bool keep_socket = false;
};

void declare_command_line_only(po::options_description& desc, CommandLineOnly& c) {
    desc.add_options()("help,h", "show this help and exit")("version", "show the version and exit")(
        "config", po::value(&c.config_file), "read settings from this INI file (flags override it; default: none)")(
        "check-config", po::value(&c.check_config_file),
        "validate FILE with the flags, print the effective settings and exit (0 valid, 2 not)")(
        "foreground", po::bool_switch(&c.foreground), "stay in the foreground (for systemd and tests)")(
        "cleanup", po::bool_switch(&c.cleanup),
        "remove what a dead daemon of --instance left (segments, spares, socket, lock), report it and exit; "
        "refused while a daemon serves the instance")(
        "keep-socket", po::bool_switch(&c.keep_socket), "with --cleanup: leave the socket file (systemd's socket unit owns it)");
}

// Maps each key of a config file to the line that sets it (the last one, where a repeated
// key is refused), mirroring Boost's parser: '#' starts a comment, "[section]" prefixes the
// keys after it with "section.". A line that is not "key = value" is an error here.
class KeyLines {
public:
    KeyLines(const std::string& path, const std::string& text) : path_(path) {
        std::istringstream in(text);
        std::string line, prefix;
        for (int number = 1; std::getline(in, line); ++number) {
            std::string s = boost::algorithm::trim_copy(line.substr(0, line.find('#')));
            if (s.empty()) continue;
            if (s.front() == '[' && s.back() == ']') {
                prefix = boost::algorithm::trim_copy(s.substr(1, s.size() - 2)) + ".";
                continue;
            }
            size_t eq = s.find('=');
            if (eq == std::string::npos || boost::algorithm::trim_copy(s.substr(0, eq)).empty())
                throw SettingsError(at(number) + "expected 'key = value', got '" + s + "'");
            lines_[prefix + boost::algorithm::trim_copy(s.substr(0, eq))] = number;
        }
    }

    // "FILE:LINE: " of a key, or "FILE: " if the key is not in the file.
    std::string where(const std::string& key) const {
        auto it = lines_.find(key);
        return at(it == lines_.end() ? 0 : it->second);
    }

private:
    std::string at(int line) const { return path_ + (line ? ":" + std::to_string(line) : "") + ": "; }

    std::string path_;
    std::map<std::string, int> lines_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw SettingsError(path + ": cannot read the config file: " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Strips the leading dashes Boost puts on an option's name in its errors.
std::string key_of(const po::error_with_option_name& e) {
    std::string name = e.get_option_name();
    size_t start = name.find_first_not_of('-');
    return start == std::string::npos ? name : name.substr(start);
}

void refuse_signs(const po::parsed_options& parsed, const SettingsTable& table,
                  const std::function<std::string(const std::string&)>& where) {
    for (const auto& opt : parsed.options)
        for (const auto& token : opt.value)
            if (table.refuses_sign(opt.string_key) && boost::algorithm::trim_copy(token).starts_with('-'))
                throw SettingsError(where(opt.string_key) + "bad value '" + token + "' for '" + opt.string_key +
                                    "' (expected a number >= 0)");
}

// Stores one source's options; a Boost error is rethrown naming the source (and line).
void store_source(const po::parsed_options& parsed, po::variables_map& vm, const SettingsTable& table,
                  const std::function<std::string(const std::string&)>& where) {
    refuse_signs(parsed, table, where);
    try {
        po::store(parsed, vm);
    } catch (const po::error_with_option_name& e) {
        throw SettingsError(where(key_of(e)) + e.what());
    } catch (const po::error& e) {
        throw SettingsError(where("") + e.what());
    }
}

// Checks that need more than the value's type.
void check_values(const DaemonSettings& s, const std::function<std::string(const std::string&)>& where) {
    try {
        check_instance_name(s.daemon.instance);
    } catch (const Error& e) {
        throw SettingsError(where("instance") + "bad value for 'instance': " + e.what());
    }
    if (s.daemon.workers > ctl::kMaxWorkers)
        throw SettingsError(where("workers") + "bad value for 'workers': at most " + std::to_string(ctl::kMaxWorkers));
    if (s.daemon.max_line < 64) throw SettingsError(where("max-line") + "bad value for 'max-line': at least 64 bytes");
    if (s.daemon.max_attempts == 0) throw SettingsError(where("max-attempts") + "bad value for 'max-attempts': at least 1");
}

}  // namespace

LoadedSettings load_settings(int argc, const char* const argv[]) {
    LoadedSettings loaded;
    DaemonSettings& s = loaded.settings;
    CommandLineOnly cli;
    po::options_description only("Command line only");
    declare_command_line_only(only, cli);
    po::options_description settings("Settings (flags, or 'key = value' lines in the --config file)");
    SettingsTable table(settings);
    declare_settings(table, s);
    po::options_description all("Usage: shmpoold [options]\n\nA local job server: preforked workers, "
                                "shared-memory datasets, JSON over a Unix socket");
    all.add(only).add(settings);

    po::variables_map vm;
    auto on_command_line = [](const std::string&) { return std::string("command line: "); };
    po::parsed_options flags = [&] {
        try {
            return po::parse_command_line(argc, argv, all);
        } catch (const po::error& e) {
            throw SettingsError(std::string("command line: ") + e.what());
        }
    }();
    store_source(flags, vm, table, on_command_line);
    std::set<std::string> flag_keys;
    for (const auto& opt : flags.options) flag_keys.insert(opt.string_key);

    std::string file = vm.count("check-config") ? vm["check-config"].as<std::string>()
                       : vm.count("config")     ? vm["config"].as<std::string>()
                                                : "";
    if (vm.count("check-config") && vm.count("config"))
        throw SettingsError("command line: give the file to --check-config only, not also --config");
    std::optional<KeyLines> lines;
    if (!file.empty()) {
        std::string text = read_file(file);
        lines.emplace(file, text);
        std::istringstream in(text);
        po::parsed_options from_file = [&] {
            try {
                return po::parse_config_file(in, settings, false);
            } catch (const po::error_with_option_name& e) {
                throw SettingsError(lines->where(key_of(e)) + e.what());
            } catch (const po::error& e) {
                throw SettingsError(file + ": " + e.what());
            }
        }();
        store_source(from_file, vm, table, [&](const std::string& key) { return lines->where(key); });
    }
    try {
        po::notify(vm);
    } catch (const po::error& e) {
        throw SettingsError(std::string("settings: ") + e.what());
    }
    check_values(s, [&](const std::string& key) {
        return flag_keys.count(key) || !lines ? on_command_line(key) : lines->where(key);
    });

    s.config_file = file;
    s.daemon.foreground = cli.foreground;
    s.keep_socket = cli.keep_socket;
    if (cli.keep_socket && !cli.cleanup) throw SettingsError("command line: --keep-socket goes with --cleanup");
    s.daemon.shutdown_timeout = s.shutdown_timeout.ms();
    s.daemon.cancel_grace = s.cancel_grace.ms();
    s.daemon.worker_stop_grace = s.worker_stop_grace.ms();
    s.daemon.idle_timeout = s.idle_timeout.ms();
    s.daemon.spare_idle = s.spare_idle.ms();
    s.daemon.socket_mode = s.socket_mode.value;
    s.daemon.segment_mode = s.segment_mode.value;
    if (vm.count("help")) {
        std::ostringstream help;
        help << all << "\nExample:\n  shmpoold --instance demo --workers 2 --foreground\n";
        loaded.help = help.str();
        loaded.action = SettingsAction::help;
    } else if (vm.count("version")) {
        loaded.action = SettingsAction::version;
    } else if (vm.count("check-config")) {
        loaded.action = SettingsAction::check_config;
    } else if (cli.cleanup) {
        loaded.action = SettingsAction::cleanup;
    }
    return loaded;
}

std::string describe_settings(const DaemonSettings& settings) {
    DaemonSettings copy = settings;
    po::options_description desc;
    SettingsTable table(desc);
    declare_settings(table, copy);
    return table.describe();
}

}  // namespace shmpool
