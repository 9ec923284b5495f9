// The shmpool command-line tool: parse argv, send one request to shmpoold, print the reply.
// Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error, 3 connection trouble.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli_print.h"
#include "client/client.h"
#include "client/cli_top.h"
#include "client/command.h"
#include "client/progress_bar.h"
#include "common/error.h"

namespace {

using namespace shmpool;
using namespace shmpool::cli;

constexpr int kExitOk = 0;
constexpr int kExitRemote = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnect = 3;

// Errors are printed on one line, whatever the message holds.
std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

int usage_failure(const UsageError& e) {
    std::string command = e.command().empty() ? "" : e.command() + " ";
    std::string where = e.command().empty() ? "" : e.command() + ": ";
    std::cerr << "shmpool: " << where << one_line(e.what()) << " (see 'shmpool " << command << "--help')\n";
    return kExitUsage;
}

int show_reply(const Command& cmd, const nlohmann::json& reply) {
    if (cmd.output == Output::json) std::cout << reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    nlohmann::json result;
    try {
        result = reply_result(reply);
    } catch (const RemoteError& e) {
        std::cerr << "shmpool: " << e.code() << ": " << one_line(e.what()) << "\n";
        return kExitRemote;
    }
    if (cmd.output == Output::human) print_human(std::cout, cmd, result);
    return kExitOk;
}

// A request that waits for a job (run without --detach, wait).
bool waits_for_job(const nlohmann::json& request) {
    std::string verb = request.value("verb", "");
    return verb == "job.wait" || (verb == "job.submit" && request.value("wait", false));
}

// On a terminal, a waiting request asks for progress events and draws them on stderr, one
// line redrawn in place and erased before the reply is printed. Elsewhere nothing changes.
nlohmann::json request_with_progress(Client& client, nlohmann::json request, int pass_fd) {
    if (!waits_for_job(request) || !isatty(STDERR_FILENO)) return client.request(std::move(request), pass_fd);
    request["progress"] = true;
    ProgressBar bar;
    auto start = std::chrono::steady_clock::now();
    client.on_event([&](const nlohmann::json& event) {
        if (event.value("event", "") != "progress") return;
        double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cerr << "\r" << bar.line(event, now) << "\033[K" << std::flush;
    });
    nlohmann::json reply = client.request(std::move(request), pass_fd);
    std::cerr << "\r\033[K" << std::flush;
    return reply;
}

int send_and_show(const Command& cmd, int pass_fd) {
    try {
        Client client(cmd.socket);
        if (cmd.name == "top") return run_top(client, cmd);
        return show_reply(cmd, request_with_progress(client, cmd.request, pass_fd));
    } catch (const ConnectError& e) {
        std::cerr << "shmpool: " << one_line(e.what()) << "\n";
        return kExitConnect;
    } catch (const RemoteError& e) {  // top's own requests
        std::cerr << "shmpool: " << e.code() << ": " << one_line(e.what()) << "\n";
        return kExitRemote;
    }
}

// `put --fd-from FILE` opens FILE here, with the user's own rights, and passes the open file.
int execute(const Command& cmd) {
    int fd = -1;
    if (!cmd.fd_from.empty() && (fd = open(cmd.fd_from.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
        std::cerr << "shmpool: " << cmd.name << ": "
                  << sys_error_text("open", "opening '" + cmd.fd_from + "' to pass it", errno) << "\n";
        return kExitUsage;
    }
    int status = send_and_show(cmd, fd);
    if (fd >= 0) close(fd);
    return status;
}

int run(const std::vector<std::string>& args) {
    Command cmd;
    try {
        cmd = parse_command(args);
    } catch (const UsageError& e) {
        return usage_failure(e);
    }
    if (cmd.action != Action::request) {
        std::cout << cmd.text;
        return kExitOk;
    }
    return execute(cmd);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "shmpool: " << one_line(e.what()) << "\n";
        return kExitConnect;
    }
}
