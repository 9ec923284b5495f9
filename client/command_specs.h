// The table of CLI commands: synopsis, help, example, options, and how each builds its request.
// Internal to the CLI's parser (client/command.cpp); one entry per command, no other list.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

namespace shmpool::cli {

// Read access to a command's parsed options; missing required values are UsageErrors.
class Args {
public:
    explicit Args(const boost::program_options::variables_map& vm) : vm_(vm) {}
    std::string str(const char* key) const;
    std::optional<std::string> opt(const char* key) const;
    std::vector<std::string> list(const char* key) const;
    bool flag(const char* key) const;

private:
    const boost::program_options::variables_map& vm_;
};

// A positional argument, stored under `key`; `label` is how usage text names it.
struct Positional {
    const char* key;
    const char* label;
    bool required = true;
};

struct CommandSpec {
    std::string_view name;
    std::string_view synopsis;  // after "shmpool NAME "
    std::string_view summary;
    std::string_view example;   // one or more command lines, '\n'-separated
    std::vector<Positional> positionals;
    void (*options)(boost::program_options::options_description&) = nullptr;
    nlohmann::json (*build)(const Args&) = nullptr;  // the request; throws UsageError
    nlohmann::json (*settings)(const Args&) = nullptr;  // the CLI's own options (Command::settings)
    std::string (*offline)(const Args&) = nullptr;      // set: prints this, needs no daemon
};

const std::vector<CommandSpec>& command_specs();
const CommandSpec* find_command(std::string_view name);

}  // namespace shmpool::cli
