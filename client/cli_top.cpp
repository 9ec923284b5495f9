// `shmpool top`: two samples of `stats` --interval apart give the throughput (ranges/s); each
// frame shows it with the workers (what the scheduler handed each) and the jobs not ended.
#include "client/cli_top.h"

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "client/cli_print.h"

namespace shmpool::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
    nlohmann::json stats, workers;
    Clock::time_point at;
};

Sample take_sample(Client& client) {
    nlohmann::json stats = client.stats();
    return {stats, client.workers()["workers"], Clock::now()};
}

std::optional<double> throughput(const Sample& before, const Sample& after) {
    double seconds = std::chrono::duration<double>(after.at - before.at).count();
    if (seconds <= 0) return std::nullopt;
    auto run = [](const Sample& s) { return s.stats["ranges"].value("run", 0.0); };
    return (run(after) - run(before)) / seconds;
}

void show(const Command& cmd, const Sample& s, std::optional<double> rate, bool clear_screen) {
    if (cmd.output == Output::json) {
        nlohmann::json frame = {{"stats", s.stats}, {"workers", s.workers}, {"ranges_per_s", nullptr}};
        if (rate) frame["ranges_per_s"] = *rate;
        std::cout << frame.dump() << std::endl;
        return;
    }
    if (clear_screen) std::cout << "\033[H\033[2J";
    print_top_frame(std::cout, s.stats, s.workers, rate);
    std::cout << (clear_screen ? "" : "\n") << std::flush;
}

}  // namespace

int run_top(Client& client, const Command& cmd) {
    auto interval = std::chrono::milliseconds(cmd.settings.value("interval_ms", 1000));
    bool once = cmd.settings.value("once", false);
    bool clear_screen = !once && cmd.output == Output::human && isatty(STDOUT_FILENO);
    Sample previous = take_sample(client);
    if (!once) show(cmd, previous, std::nullopt, clear_screen);
    for (;;) {
        std::this_thread::sleep_for(interval);
        Sample current = take_sample(client);
        show(cmd, current, throughput(previous, current), clear_screen);
        if (once) return 0;
        previous = std::move(current);
    }
}

}  // namespace shmpool::cli
