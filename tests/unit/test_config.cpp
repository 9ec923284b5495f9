// Unit tests of shmpoold's settings (server/config.h): flags and the INI file through one
// table, flags override the file, and errors that name the file's line.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "server/config.h"

using shmpool::LoadedSettings;
using shmpool::SettingsAction;
using shmpool::SettingsError;

namespace {

// A config file in the temp dir, removed when the test ends.
class ConfigFile {
public:
    explicit ConfigFile(const std::string& text)
        : path_((std::filesystem::temp_directory_path() /
                 ("shmpool-config-" + std::to_string(getpid()) + "-" + std::to_string(counter_++) + ".conf"))
                    .string()) {
        std::ofstream(path_) << text;
    }
    ~ConfigFile() { std::filesystem::remove(path_); }
    const std::string& path() const { return path_; }

private:
    static inline int counter_ = 0;
    std::string path_;
};

LoadedSettings load(std::vector<std::string> args) {
    args.insert(args.begin(), "shmpoold");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return shmpool::load_settings(static_cast<int>(argv.size()), argv.data());
}

// The SettingsError's message; fails the test if loading succeeds.
std::string error_of(std::vector<std::string> args) {
    try {
        load(std::move(args));
    } catch (const SettingsError& e) {
        return e.what();
    }
    FAIL("expected a SettingsError");
    return "";
}

}  // namespace

TEST_CASE("defaults without flags or file") {
    LoadedSettings s = load({});
    CHECK(s.action == SettingsAction::run);
    CHECK(s.settings.daemon.instance == "default");
    CHECK(s.settings.daemon.workers == 0);
    CHECK(s.settings.daemon.shutdown_timeout == std::chrono::milliseconds(10000));
    CHECK(s.settings.config_file.empty());
}

TEST_CASE("the file sets values and flags override it") {
    ConfigFile f("# comment\ninstance = fromfile\nworkers = 3   # trailing comment\n"
                 "shutdown-timeout = 2.5\nlog-level = debug\nenable-test-kernels = true\n");
    LoadedSettings s = load({"--config", f.path(), "--workers", "5"});
    CHECK(s.settings.daemon.instance == "fromfile");
    CHECK(s.settings.daemon.workers == 5);
    CHECK(s.settings.daemon.shutdown_timeout == std::chrono::milliseconds(2500));
    CHECK(s.settings.log_level == shmpool::LogLevel::debug);
    CHECK(s.settings.daemon.test_kernels);
    CHECK(s.settings.config_file == f.path());
}

TEST_CASE("an unknown key is an error naming its line") {
    ConfigFile f("workers = 2\n\n# x\nwrkers = 3\n");
    std::string e = error_of({"--config", f.path()});
    CHECK(e.starts_with(f.path() + ":4: "));
    CHECK(e.find("wrkers") != std::string::npos);
}

TEST_CASE("a bad value is an error naming its line") {
    for (const char* line : {"workers = many", "workers = -1", "max-line = 12", "log-level = loud",
                             "shutdown-timeout = -2", "instance = a/b", "workers = 9999"}) {
        ConfigFile f(std::string("max-attempts = 2\n") + line + "\n");
        std::string e = error_of({"--config", f.path()});
        INFO(line << " -> " << e);
        CHECK(e.starts_with(f.path() + ":2: "));
        std::string key = std::string(line).substr(0, std::string(line).find(' '));
        CHECK(e.find(key) != std::string::npos);
    }
}

TEST_CASE("a line that is not key = value, or a key set twice, names its line") {
    ConfigFile junk("workers = 2\njunk\n");
    CHECK(error_of({"--config", junk.path()}).starts_with(junk.path() + ":2: "));
    ConfigFile twice("workers = 2\nmax-line = 100\nworkers = 3\n");
    CHECK(error_of({"--config", twice.path()}).starts_with(twice.path() + ":3: "));
}

TEST_CASE("a bad flag says it comes from the command line") {
    CHECK(error_of({"--workers", "x"}).starts_with("command line: "));
    CHECK(error_of({"--bogus"}).starts_with("command line: "));
    CHECK(error_of({"--config", "/nonexistent/shmpoold.conf"}).find("/nonexistent/shmpoold.conf") == 0);
}

TEST_CASE("a bad flag value is blamed on the command line even when the file sets the key") {
    ConfigFile f("workers = 2\n");
    CHECK(error_of({"--config", f.path(), "--workers", "999"}).starts_with("command line: "));
}

TEST_CASE("--check-config prints every key = value, and its output is a valid file") {
    ConfigFile f("workers = 3\ncancel-grace = 0.5\n");
    LoadedSettings s = load({"--check-config", f.path(), "--max-attempts", "7"});
    CHECK(s.action == SettingsAction::check_config);
    std::string text = shmpool::describe_settings(s.settings);
    CHECK(text.find("workers = 3\n") != std::string::npos);
    CHECK(text.find("cancel-grace = 0.5\n") != std::string::npos);
    CHECK(text.find("max-attempts = 7\n") != std::string::npos);
    CHECK(text.find("log-level = info\n") != std::string::npos);
    ConfigFile again(text);
    CHECK(shmpool::describe_settings(load({"--config", again.path()}).settings) == text);
}
