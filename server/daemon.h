// shmpoold's one process-wide object: owns the event loop, the instance lock, the control
// segment, datasets, scheduler, workers and listener, and runs the start and stop sequences.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <utility>  // before Asio under -std=c++20 with g++ 12
#include <boost/asio.hpp>

#include "common/protocol.h"
#include "common/segment.h"
#include "server/datasets/dataset_store.h"
#include "server/instance_lock.h"
#include "server/jobs/job_timers.h"
#include "server/datasets/path_policy.h"
#include "server/api/access_policy.h"
#include "server/api/peer_access.h"
#include "server/jobs/scheduler.h"
#include "server/api/session.h"
#include "server/systemd.h"
#include "server/worker_pool.h"

namespace shmpool {

struct DaemonOptions {
    std::string instance = "default";
    std::string socket;  // empty: default_socket_path(instance)
    uint32_t workers = 0;  // 0: online CPUs
    bool foreground = false;
    size_t max_line = kDefaultMaxLine;
    uint64_t max_dataset_bytes = 1ull << 40;
    uint32_t max_attempts = 3;
    bool test_kernels = false;  // enable kernels that crash on purpose (fault tests)
    std::string kernel_dir;     // load kernel plugins (*.so) from here before the workers fork
    uint64_t max_shm_bytes = 0;          // all datasets of the instance (0: what /dev/shm holds)
    uint64_t max_ranges_per_worker = 0;  // recycle a worker after this many ranges (0: never)
    uint64_t worker_memory_limit = 0;    // bytes of private memory per worker (0: none)
    uint64_t spare_bytes = 2ull << 30;   // deleted datasets' segments kept for reuse (0: none)
    std::chrono::milliseconds spare_idle{30000};  // before an unused spare segment is released
    std::chrono::milliseconds cancel_grace{2000};  // before a worker stuck on an ended job is killed
    std::chrono::milliseconds shutdown_timeout{10000};
    std::chrono::milliseconds worker_stop_grace{2000};
    // Security and limits (docs/security.md).
    std::string allow_users, allow_groups;  // comma lists; the daemon's own uid and root always may connect
    std::string admin_users, admin_groups;  // comma lists; the daemon's own uid and root always are admins
    std::string code_users, code_groups;    // who else may run Python code (the daemon's uid and root always may)
    std::vector<std::string> allow_dirs;    // directories dataset.put/save may use by path (none: no paths)
    unsigned socket_mode = 0660;
    unsigned segment_mode = 0600;
    uint32_t max_connections = 512;
    uint32_t max_requests_per_connection = 64;  // unanswered at once (0: no limit)
    uint64_t max_datasets = 4096;
    uint64_t max_datasets_per_uid = 0;   // datasets one client uid may hold (0: no limit)
    uint64_t max_shm_bytes_per_uid = 0;  // bytes of datasets one client uid may hold (0: no limit)
    uint64_t max_output_bytes = 0;  // bytes of one job's output (0: only max_dataset_bytes)
    uint64_t max_ranges = 1ull << 24;
    std::chrono::milliseconds idle_timeout{30000};  // for a partial request line
};

class Router;

class Daemon {
public:
    explicit Daemon(DaemonOptions options);
    ~Daemon();
    // Runs until stopped; returns the process exit code. `ready` is called once serving.
    int run(const std::function<void()>& ready);

    // For request handlers.
    const DaemonOptions& options() const { return opts_; }
    Scheduler& scheduler() { return *scheduler_; }
    DatasetStore& store() { return *store_; }
    WorkerPool& pool() { return *pool_; }
    JobTimers& timers() { return *timers_; }
    const PathPolicy& paths() const { return *paths_; }
    const AccessPolicy& access() const { return *access_; }
    bool shutting_down() const { return shutting_down_; }
    void begin_shutdown(const std::string& why);

private:
    void create_control_segment();
    void listen();
    bool adopt_activated_socket();  // systemd socket activation
    std::string service_status() const;  // STATUS= for systemd
    void accept_next();
    void admit(Session::Socket socket);
    size_t open_sessions();
    void watch_signals();
    void reopen_log();
    void watch_completions();
    void on_completions();
    void drain_then_stop();
    void stop_workers();
    void stop_when_flushed(Job::Clock::time_point deadline);
    void finish();

    DaemonOptions opts_;
    boost::asio::io_context io_;
    std::unique_ptr<InstanceLock> lock_;
    Segment control_segment_;
    ctl::Header* control_ = nullptr;
    int notify_fd_ = -1;
    std::unique_ptr<DatasetStore> store_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<WorkerPool> pool_;
    std::unique_ptr<JobTimers> timers_;
    std::unique_ptr<Router> router_;
    std::unique_ptr<ServiceNotifier> notifier_;
    std::unique_ptr<PeerPolicy> peers_;
    std::unique_ptr<AccessPolicy> access_;
    std::unique_ptr<PathPolicy> paths_;
    boost::asio::signal_set signals_;
    std::optional<boost::asio::posix::stream_descriptor> notify_;
    std::optional<boost::asio::local::stream_protocol::acceptor> acceptor_;
    std::map<uint64_t, std::weak_ptr<Session>> sessions_;
    boost::asio::steady_timer drain_timer_;
    bool shutting_down_ = false;
    bool owns_socket_file_ = true;  // false when systemd passed the socket: systemd removes it
    bool workers_stopping_ = false;
    Job::Clock::time_point drain_deadline_{};
    int exit_code_ = 0;
};

}  // namespace shmpool
