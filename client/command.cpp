// The shmpool CLI's argument parsing: global options, then a command from command_specs().
// Connection options (--instance, --socket, --json) are accepted after the command as well.
#include "client/command.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "client/client.h"
#include "client/command_specs.h"
#include "common/error.h"

#ifndef SHMPOOL_VERSION
#define SHMPOOL_VERSION "unknown"
#endif

namespace po = boost::program_options;

namespace shmpool::cli {
namespace {

// No abbreviated option names: they would make the split before the command ambiguous.
constexpr int kStyle = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

po::options_description connection_options() {
    po::options_description d("global options");
    d.add_options()
        ("instance", po::value<std::string>()->value_name("NAME"), "talk to this instance (default: default)")
        ("socket", po::value<std::string>()->value_name("PATH"), "talk to the daemon at this socket path")
        ("json", po::bool_switch(), "print the daemon's reply object as is, on one line");
    return d;
}

po::options_description global_options() {
    po::options_description d = connection_options();
    d.add_options()("help,h", "show this help")("version", "print the version");
    return d;
}

// True for "--socket" (a global option whose value is the next word), false for "--socket=x".
bool takes_next_word(const std::string& word) {
    if (word.rfind("--", 0) != 0 || word.find('=') != std::string::npos) return false;
    static const po::options_description global = global_options();
    const po::option_description* option = global.find_nothrow(word.substr(2), false);
    return option && option->semantic()->max_tokens() > 0;
}

// Index of the command word: the first word that is neither an option nor an option's value.
size_t command_index(const std::vector<std::string>& args) {
    size_t i = 0;
    while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') i += takes_next_word(args[i]) ? 2 : 1;
    return std::min(i, args.size());
}

po::variables_map parse_words(const std::vector<std::string>& words, const po::options_description& options,
                              const po::positional_options_description& positional) {
    po::variables_map vm;
    po::store(po::command_line_parser(words).options(options).positional(positional).style(kStyle).run(), vm);
    return vm;
}

std::string global_help() {
    std::ostringstream out;
    out << "usage: shmpool [--instance NAME | --socket PATH] [--json] COMMAND [ARGS]\n"
        << "Client of shmpoold: datasets in shared memory and parallel kernels over them.\n\ncommands:\n";
    for (const CommandSpec& spec : command_specs())
        out << "  " << spec.name << std::string(std::max<size_t>(10, spec.name.size() + 2) - spec.name.size(), ' ')
            << spec.summary << "\n";
    out << "\n" << global_options() << "\n'shmpool COMMAND --help' shows a command's arguments and an example.\n"
        << "exit status: 0 ok, 1 the daemon answered with an error, 2 usage error, 3 cannot connect\n";
    return out.str();
}

po::options_description visible_options(const CommandSpec& spec) {
    po::options_description d("options");
    if (spec.options) spec.options(d);
    d.add_options()("help,h", "show this help");
    return d;
}

std::string command_help(const CommandSpec& spec) {
    std::ostringstream out;
    out << "usage: shmpool [GLOBAL OPTIONS] " << spec.name << (spec.synopsis.empty() ? "" : " ") << spec.synopsis
        << "\n" << spec.summary << ".\n\n" << visible_options(spec) << "\nexample";
    std::string example(spec.example);
    out << (example.find('\n') == std::string::npos ? ":\n" : "s:\n");
    std::istringstream lines(example);
    for (std::string line; std::getline(lines, line);) out << "  " << line << "\n";
    out << "\nglobal options (--instance, --socket, --json): see 'shmpool --help'.\n";
    return out.str();
}

Command text_command(Action action, std::string name, std::string text) {
    Command cmd;
    cmd.action = action;
    cmd.name = std::move(name);
    cmd.text = std::move(text);
    return cmd;
}

// A connection option's value, from before or after the command word (not both).
std::optional<std::string> connection_value(const po::variables_map& global, const po::variables_map& local,
                                            const char* key) {
    if (global.count(key) && local.count(key)) throw UsageError(std::string("--") + key + " is given twice");
    if (global.count(key)) return global[key].as<std::string>();
    if (local.count(key)) return local[key].as<std::string>();
    return std::nullopt;
}

bool json_flag(const po::variables_map& vm) { return vm.count("json") && vm["json"].as<bool>(); }

void set_connection(Command& cmd, const po::variables_map& global, const po::variables_map& local) {
    std::optional<std::string> socket = connection_value(global, local, "socket");
    std::optional<std::string> instance = connection_value(global, local, "instance");
    if (socket && instance) throw UsageError("give --instance or --socket, not both");
    try {
        cmd.socket = Client::socket_for(socket, instance);
    } catch (const Error& e) {
        throw UsageError(std::string("--instance: ") + e.what());
    }
    cmd.output = json_flag(global) || json_flag(local) ? Output::json : Output::human;
}

void check_positionals(const CommandSpec& spec, const po::variables_map& vm) {
    for (const Positional& p : spec.positionals)
        if (p.required && !vm.count(p.key)) throw UsageError(std::string("missing ") + p.label);
}

// Runs `step`, marking any usage error it raises as concerning `spec`'s command.
template <class Step>
auto for_command(const CommandSpec& spec, Step step) {
    try {
        return step();
    } catch (const po::error& e) {
        throw UsageError(e.what(), std::string(spec.name));
    } catch (const UsageError& e) {
        throw UsageError(e.what(), std::string(spec.name));
    }
}

po::variables_map parse_command_words(const CommandSpec& spec, const std::vector<std::string>& words) {
    po::options_description options = visible_options(spec), hidden;
    po::positional_options_description positional;
    for (const Positional& p : spec.positionals) {
        hidden.add_options()(p.key, po::value<std::string>());
        positional.add(p.key, 1);
    }
    options.add(hidden).add(connection_options());
    return parse_words(words, options, positional);
}

nlohmann::json build_request(const CommandSpec& spec, po::variables_map& vm) {
    po::notify(vm);
    check_positionals(spec, vm);
    return spec.build(Args(vm));
}

Command parse_request(const CommandSpec& spec, const std::vector<std::string>& words,
                      const po::variables_map& global) {
    po::variables_map vm = for_command(spec, [&] { return parse_command_words(spec, words); });
    if (vm.count("help") || global.count("help"))
        return text_command(Action::help, std::string(spec.name), command_help(spec));
    if (spec.offline) {
        std::string text = for_command(spec, [&] {
            po::notify(vm);
            check_positionals(spec, vm);
            return spec.offline(Args(vm));
        });
        return text_command(Action::print, std::string(spec.name), std::move(text));
    }
    Command cmd;
    cmd.name = spec.name;
    cmd.request = for_command(spec, [&] { return build_request(spec, vm); });
    if (spec.settings) cmd.settings = for_command(spec, [&] { return spec.settings(Args(vm)); });
    if (vm.count("fd-from")) cmd.fd_from = vm["fd-from"].as<std::string>();
    // put --shm: the CLI opens the object itself and passes it, as --fd-from (docs/security.md)
    if (vm.count("shm")) {
        const std::string& shm = vm["shm"].as<std::string>();
        cmd.fd_from = "/dev/shm/" + shm.substr(shm.starts_with('/') ? 1 : 0);
    }
    set_connection(cmd, global, vm);
    return cmd;
}

Command parse_global_only(const po::variables_map& global) {
    if (global.count("version")) return text_command(Action::version, "", "shmpool " SHMPOOL_VERSION "\n");
    if (global.count("help")) return text_command(Action::help, "", global_help());
    throw UsageError("no command given");
}

}  // namespace

Command parse_command(const std::vector<std::string>& args) {
    size_t at = command_index(args);
    po::variables_map global;
    try {
        std::vector<std::string> words(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(at));
        global = parse_words(words, global_options(), {});
        po::notify(global);
    } catch (const po::error& e) {
        throw UsageError(e.what());
    }
    if (at == args.size() || global.count("version")) return parse_global_only(global);
    const CommandSpec* spec = find_command(args[at]);
    if (!spec) throw UsageError("unknown command '" + args[at] + "'");
    return parse_request(*spec, {args.begin() + static_cast<std::ptrdiff_t>(at) + 1, args.end()}, global);
}

}  // namespace shmpool::cli
