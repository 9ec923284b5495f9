// shmpoold's entry point: settings (server/config.cpp), --cleanup of a dead instance, or
// daemonizing (the parent exits once the daemon serves), then Daemon::run. Exit 0 after a
// clean stop, 1 when it cannot start (or clean up), 2 for bad flags or a bad config file.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "common/error.h"
#include "common/log.h"
#include "server/config.h"
#include "server/daemon.h"
#include "server/instance_cleanup.h"
#include "worker/kernels/simd/path.h"

using namespace shmpool;

namespace {

// Forks; the parent waits until the child reports it serves (exit 0) or fails (exit 1).
// Returns the write end of the readiness pipe in the child.
int daemonize() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) _exit(1);
    pid_t pid = fork();
    if (pid < 0) _exit(1);
    if (pid > 0) {
        close(fds[1]);
        char ok = 0;
        _exit(read(fds[0], &ok, 1) == 1 ? 0 : 1);
    }
    close(fds[0]);
    setsid();
    return fds[1];
}

void redirect(int target_fd, int flags) {
    int null_fd = open("/dev/null", flags | O_CLOEXEC);
    if (null_fd >= 0) dup2(null_fd, target_fd), close(null_fd);
}

// Points the standard descriptors where a service's belong, before any worker forks (they
// inherit them): stdin and stdout at /dev/null; records to the log file, or to syslog when
// daemonized (stderr at /dev/null). Until ready, records are also copied to the caller's
// stderr, so start-up errors still reach the terminal. Throws Error for an unusable log file.
void route_log(const DaemonSettings& s) {
    bool daemonized = !s.daemon.foreground;
    if (!daemonized && s.log_file.empty()) return;
    start_log_echo(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
    if (daemonized) redirect(STDIN_FILENO, O_RDONLY), redirect(STDOUT_FILENO, O_WRONLY);
    if (!s.log_file.empty()) return log_to_file(s.log_file);
    redirect(STDERR_FILENO, O_WRONLY);
    log_to_syslog();
}

int run_daemon(const DaemonSettings& settings) {
    int ready_fd = settings.daemon.foreground ? -1 : daemonize();
    try {
        route_log(settings);
        // SHMPOOL_CPU is read here, once: the workers fork with the choice made
        log_info(std::string("SIMD path ") + kernels::path_name(kernels::simd_path()));
        Daemon daemon(settings.daemon);
        return daemon.run([ready_fd] {
            end_log_echo();  // before the parent exits: the caller's pipe is then released
            if (ready_fd < 0) return;
            char ok = 1;
            if (write(ready_fd, &ok, 1) != 1) log_warn("could not tell the launching shell that the daemon is ready");
            close(ready_fd);
        });
    } catch (const std::exception& e) {
        log_error(std::string("cannot start: ") + e.what());
        return 1;
    }
}

int run_cleanup(const DaemonSettings& s) {
    try {
        auto removed = cleanup_instance(CleanupRequest{s.daemon.instance, s.daemon.socket, s.keep_socket});
        for (const auto& path : removed) std::cout << "removed " << path << "\n";
        std::cout << "instance '" << s.daemon.instance << "': removed " << removed.size() << " leftover"
                  << (removed.size() == 1 ? "" : "s") << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "shmpoold: cannot clean up instance '" << s.daemon.instance << "': " << e.what() << "\n";
        return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    LoadedSettings loaded;
    try {
        loaded = load_settings(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "shmpoold: " << e.what() << " (see --help)\n";
        return 2;
    }
    switch (loaded.action) {
        case SettingsAction::help: std::cout << loaded.help; return 0;
        case SettingsAction::version: std::cout << "shmpoold " SHMPOOL_VERSION "\n"; return 0;
        case SettingsAction::check_config:
            std::cout << "# " << loaded.settings.config_file << " is valid; effective settings:\n"
                      << describe_settings(loaded.settings);
            return 0;
        case SettingsAction::cleanup: return run_cleanup(loaded.settings);
        case SettingsAction::run: break;
    }
    set_log_level(loaded.settings.log_level);
    return run_daemon(loaded.settings);
}
