// The shmpool CLI's argument parsing: argv -> Command (request JSON, output mode, socket).
// Pure (no daemon, no output) so tests/unit/test_cli_args.cpp can check every command.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace shmpool::cli {

// A bad command line. command() is the CLI command it concerns ("" for global options).
class UsageError : public std::runtime_error {
public:
    explicit UsageError(const std::string& message, std::string command = "")
        : std::runtime_error(message), command_(std::move(command)) {}
    const std::string& command() const { return command_; }

private:
    std::string command_;
};

enum class Action { request, help, version, print };  // print: `text`, no daemon (e.g. completion)
enum class Output { human, json };

struct Command {
    Action action = Action::request;
    std::string name;        // the CLI command, e.g. "run"; "" for global help and --version
    nlohmann::json request;  // {"verb": ..., arguments} without id (Action::request only)
    nlohmann::json settings = nlohmann::json::object();  // the CLI's own options, never sent (top --interval)
    Output output = Output::human;
    std::string socket;      // socket path to connect to (Action::request only)
    std::string fd_from;     // a file the CLI opens and passes with the request (put --fd-from, --shm)
    std::string text;        // what to print (Action::help, Action::version, Action::print)
};

// `args` is argv without argv[0]. Throws UsageError.
Command parse_command(const std::vector<std::string>& args);

}  // namespace shmpool::cli
