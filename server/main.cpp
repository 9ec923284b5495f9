// shmpoold's entry point: command-line flags, optional daemonizing (the parent exits once
// the daemon serves), then Daemon::run. Exit 0 after a clean stop, 1 when it cannot start.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include <boost/program_options.hpp>

#include "common/error.h"
#include "common/log.h"
#include "server/daemon.h"

namespace po = boost::program_options;
using namespace shmpool;

namespace {

struct Flags {
    DaemonOptions daemon;
    bool exit_now = false;
};

// "0640" -> 0640; only permission bits, never set-id or sticky bits.
unsigned parse_mode(const std::string& text, const char* flag) {
    size_t end = 0;
    unsigned long mode = std::stoul(text, &end, 8);
    if (end != text.size() || mode > 0777) throw std::invalid_argument(std::string("--") + flag + " wants an octal mode up to 0777");
    return static_cast<unsigned>(mode);
}

Flags parse_flags(int argc, char** argv) {
    Flags f;
    double shutdown_timeout_s = 10, cancel_grace_s = 2;
    std::string log_level = "info";
    po::options_description desc("Usage: shmpoold [options]\n\nA local job server: preforked workers, shared-memory "
                                 "datasets, JSON over a Unix socket.\n\nOptions");
    desc.add_options()("help,h", "show this help and exit")("version", "show the version and exit")(
        "instance", po::value(&f.daemon.instance)->default_value("default"), "instance name (prefixes its segments)")(
        "socket", po::value(&f.daemon.socket), "socket path (default $XDG_RUNTIME_DIR/shmpool/INSTANCE.sock, /run/shmpool for root)")(
        "workers", po::value(&f.daemon.workers)->default_value(0), "worker processes (0: online CPUs)")(
        "foreground", po::bool_switch(&f.daemon.foreground), "stay in the foreground (for systemd and tests)")(
        "max-line", po::value(&f.daemon.max_line)->default_value(kDefaultMaxLine), "maximum request line in bytes")(
        "max-attempts", po::value(&f.daemon.max_attempts)->default_value(3),
        "times a range may kill its worker before its job fails")(
        "shutdown-timeout", po::value(&shutdown_timeout_s)->default_value(10), "seconds running jobs get to finish on stop")(
        "cancel-grace", po::value(&cancel_grace_s)->default_value(2),
        "seconds a worker may keep running a range of an ended job before it is killed")(
        "max-shm-bytes", po::value(&f.daemon.max_shm_bytes)->default_value(0), "bytes all datasets may hold (0: no quota)")(
        "max-ranges-per-worker", po::value(&f.daemon.max_ranges_per_worker)->default_value(0),
        "replace a worker after this many ranges (0: never)")(
        "worker-memory-limit", po::value(&f.daemon.worker_memory_limit)->default_value(0),
        "bytes of private memory per worker, RLIMIT_DATA (0: none)")(
        "enable-test-kernels", po::bool_switch(&f.daemon.test_kernels), "accept the `fault` kernel (fault tests only)")(
        "kernel-dir", po::value(&f.daemon.kernel_dir), "load kernel plugins (*.so) from DIR (see docs/plugins.md)")(
        "log-level", po::value(&log_level)->default_value("info"), "debug, info, warn or error");
    // Security and limits (docs/security.md): one block, one option per line.
    std::string socket_mode = "0660", segment_mode = "0600";
    double idle_timeout_s = 30;
    desc.add_options()
        ("allow-users", po::value(&f.daemon.allow_users), "comma list of users (names or uids) that may connect, besides the daemon's own uid and root")
        ("allow-groups", po::value(&f.daemon.allow_groups), "comma list of groups (names or gids) whose members may connect")
        ("allow-dir", po::value(&f.daemon.allow_dirs)->composing(), "directory dataset.put/save may use by path (repeat; none: no file paths)")
        ("socket-mode", po::value(&socket_mode)->default_value("0660"), "octal mode of the socket file")
        ("segment-mode", po::value(&segment_mode)->default_value("0600"), "octal mode of dataset segments in /dev/shm")
        ("max-connections", po::value(&f.daemon.max_connections)->default_value(512), "clients served at once")
        ("max-datasets", po::value(&f.daemon.max_datasets)->default_value(4096), "datasets the instance may hold (0: no limit)")
        ("max-dataset-bytes", po::value(&f.daemon.max_dataset_bytes)->default_value(1ull << 40), "bytes of one dataset or job output")
        ("max-ranges", po::value(&f.daemon.max_ranges)->default_value(1ull << 24), "ranges one job may be split into")
        ("idle-timeout", po::value(&idle_timeout_s)->default_value(30), "seconds a partial request line may wait for its end (0: forever)");
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help")) {
        std::cout << desc << "\nExample:\n  shmpoold --instance demo --workers 2 --foreground\n";
        f.exit_now = true;
    } else if (vm.count("version")) {
        std::cout << "shmpoold " SHMPOOL_VERSION "\n";
        f.exit_now = true;
    }
    f.daemon.socket_mode = parse_mode(socket_mode, "socket-mode");
    f.daemon.segment_mode = parse_mode(segment_mode, "segment-mode");
    f.daemon.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(idle_timeout_s * 1000));
    f.daemon.shutdown_timeout = std::chrono::milliseconds(static_cast<int64_t>(shutdown_timeout_s * 1000));
    f.daemon.cancel_grace = std::chrono::milliseconds(static_cast<int64_t>(cancel_grace_s * 1000));
    set_log_level(log_level == "debug" ? LogLevel::debug : log_level == "warn" ? LogLevel::warn
                  : log_level == "error" ? LogLevel::error : LogLevel::info);
    return f;
}

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
    Flags flags;
    try {
        flags = parse_flags(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "shmpoold: " << e.what() << " (see --help)\n";
        return 2;
    }
    if (flags.exit_now) return 0;
    int ready_fd = -1;
    if (!flags.daemon.foreground) ready_fd = daemonize();
    try {
        Daemon daemon(flags.daemon);
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
