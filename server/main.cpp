// shmpoold's entry point: settings (server/config.cpp), optional daemonizing (the parent exits
// once the daemon serves), then Daemon::run. Exit 0 after a clean stop, 1 when it cannot
// start, 2 for bad flags or a bad config file.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "common/error.h"
#include "common/log.h"
#include "server/config.h"
#include "server/daemon.h"
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
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO), close(null_fd);
    return fds[1];
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
        case SettingsAction::run: break;
    }
    set_log_level(loaded.settings.log_level);
    const DaemonOptions& options = loaded.settings.daemon;
    int ready_fd = -1;
    if (!options.foreground) ready_fd = daemonize();
    try {
        // SHMPOOL_CPU is read here, once: the workers fork with the choice made
        log_info(std::string("SIMD path ") + kernels::path_name(kernels::simd_path()));
        Daemon daemon(options);
        return daemon.run([ready_fd] {
            if (ready_fd < 0) return;
            char ok = 1;
            if (write(ready_fd, &ok, 1) != 1) log_warn("could not tell the launching shell that the daemon is ready");
            close(ready_fd);
        });
    } catch (const Error& e) {
        log_error(std::string("cannot start: ") + e.what());
        return 1;
    } catch (const std::exception& e) {
        log_error(std::string("cannot start: ") + e.what());
        return 1;
    }
}
