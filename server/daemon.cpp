// shmpoold's one process-wide object: owns the event loop, the instance lock, the control
// segment, datasets, scheduler, workers and listener, and runs the start and stop sequences.
#include "server/daemon.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/log.h"
#include "common/names.h"
#include "server/api/router.h"
#include "worker/plugin_loader.h"

namespace shmpool {
namespace {

constexpr auto kSessionFlushWait = std::chrono::milliseconds(1000);
constexpr auto kDrainPoll = std::chrono::milliseconds(10);

uint32_t online_cpus() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<uint32_t>(n) : 1;
}

// An existing socket file is stale unless a daemon still answers on it.
void remove_stale_socket(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return;
    if (!S_ISSOCK(st.st_mode)) throw Error(ErrorCode::io_error, "'" + path + "' exists and is not a socket");
    boost::asio::io_context probe_io;
    boost::asio::local::stream_protocol::socket probe(probe_io);
    boost::system::error_code ec;
    probe.connect(boost::asio::local::stream_protocol::endpoint(path), ec);
    if (!ec) throw Error(ErrorCode::io_error, "socket '" + path + "' is in use by another daemon");
    unlink(path.c_str());
    log_info("removed stale socket " + path);
}

// Answers a connection that is not admitted with one error line, then closes it. The
// socket's buffer is empty, so the non-blocking send of one short line does not fail for room.
void refuse(Session::Socket& socket, ErrorCode code, const std::string& message) {
    std::string line = reply_error(nullptr, code, message).dump() + "\n";
    ssize_t sent = send(socket.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)sent;  // the peer may be gone already; it is refused either way
    boost::system::error_code ignored;
    socket.shutdown(Session::Socket::shutdown_both, ignored);
    socket.close(ignored);
}

std::string peer_text(const PeerCred& peer) {
    return "pid " + std::to_string(peer.pid) + " uid " + std::to_string(peer.uid) + " gid " + std::to_string(peer.gid);
}

// Registers the plugins' kernels; a refused plugin is logged and the daemon starts anyway.
void load_kernel_plugins(const std::string& dir) {
    PluginLoadReport report = load_plugins(dir);
    for (const auto& line : report.loaded) log_info(line);
    for (const auto& line : report.refused) log_warn(line);
}

}  // namespace

Daemon::Daemon(DaemonOptions options) : opts_(std::move(options)), signals_(io_), drain_timer_(io_) {
    check_instance_name(opts_.instance);
    if (opts_.socket.empty()) opts_.socket = default_socket_path(opts_.instance);
    if (opts_.workers == 0) opts_.workers = online_cpus();
    if (opts_.workers > ctl::kMaxWorkers)
        throw Error(ErrorCode::bad_request, "at most " + std::to_string(ctl::kMaxWorkers) + " workers");
    peers_ = std::make_unique<PeerPolicy>(opts_.allow_users, opts_.allow_groups);
    access_ = std::make_unique<AccessPolicy>(opts_.admin_users, opts_.admin_groups, opts_.code_users, opts_.code_groups);
    paths_ = std::make_unique<PathPolicy>(opts_.allow_dirs);
}

Daemon::~Daemon() {
    if (notify_fd_ >= 0) close(notify_fd_);
}

int Daemon::run(const std::function<void()>& ready) {
    lock_ = std::make_unique<InstanceLock>(opts_.instance);
    for (const auto& name : remove_instance_segments(opts_.instance))
        log_warn("removed stale segment /dev/shm/" + name + " left by an earlier daemon of this instance");
    create_control_segment();
    notify_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (notify_fd_ < 0) throw Error(ErrorCode::io_error, sys_error_text("eventfd", "starting", errno));
    store_ = std::make_unique<DatasetStore>(opts_.instance, control_);
    SchedulerLimits limits;
    limits.max_attempts = opts_.max_attempts;
    limits.max_dataset_bytes = opts_.max_dataset_bytes;
    limits.max_output_bytes = opts_.max_output_bytes;
    limits.max_ranges = opts_.max_ranges;
    limits.test_kernels = opts_.test_kernels;
    scheduler_ = std::make_unique<Scheduler>(control_, opts_.workers, *store_, limits);
    scheduler_->set_instance(opts_.instance);
    pool_ = std::make_unique<WorkerPool>(io_, control_, opts_.workers, notify_fd_, opts_.instance, *scheduler_);
    timers_ = std::make_unique<JobTimers>(io_, *scheduler_, *pool_, opts_.cancel_grace);
    scheduler_->set_end_hook([this](Job& job) { timers_->on_job_end(job); });
    scheduler_->set_recycle(opts_.max_ranges_per_worker, [this](uint32_t slot) { pool_->recycle(slot); });
    pool_->set_memory_limit(opts_.worker_memory_limit);
    store_->set_quota(opts_.max_shm_bytes);
    store_->set_max_datasets(opts_.max_datasets);
    store_->set_uid_limits(opts_.max_datasets_per_uid, opts_.max_shm_bytes_per_uid);
    store_->set_segment_mode(opts_.segment_mode);
    if (opts_.spare_bytes)
        store_->set_spares(std::make_shared<SpareSegments>(io_, opts_.instance, control_,
                                                           SpareLimits{opts_.spare_bytes, opts_.spare_idle}));
    router_ = std::make_unique<Router>(*this);
    notifier_ = std::make_unique<ServiceNotifier>(io_, [this] { return service_status(); });
    signal(SIGPIPE, SIG_IGN);
    watch_signals();  // before the first fork, so no SIGCHLD is missed
    if (!opts_.kernel_dir.empty()) load_kernel_plugins(opts_.kernel_dir);  // workers inherit the kernels
    pool_->start_all();
    watch_completions();
    listen();
    log_info("serving instance '" + opts_.instance + "' on " + opts_.socket + " with " +
             std::to_string(opts_.workers) + " workers");
    log_info("connections allowed from " + peers_->describe() + "; " + std::to_string(paths_->dirs().size()) +
             " directories allowed for file paths");
    notifier_->ready();
    ready();
    io_.run();
    finish();
    return exit_code_;
}

void Daemon::create_control_segment() {
    std::string name = control_segment_name(opts_.instance);
    control_segment_ = Segment::create(name, ctl::control_bytes(opts_.workers));
    control_ = ctl::init_control(control_segment_.data(), opts_.workers);
    control_->daemon_sleeping.store(1);
}

void Daemon::listen() {
    if (adopt_activated_socket()) return;
    std::filesystem::path dir = std::filesystem::path(opts_.socket).parent_path();
    if (!dir.empty() && !std::filesystem::exists(dir)) {
        std::filesystem::create_directories(dir);
        chmod(dir.c_str(), 0750);
    }
    remove_stale_socket(opts_.socket);
    acceptor_.emplace(io_);
    acceptor_->open();
    mode_t old_mask = umask(0777 & ~opts_.socket_mode);
    boost::system::error_code ec;
    acceptor_->bind(boost::asio::local::stream_protocol::endpoint(opts_.socket), ec);
    umask(old_mask);
    if (ec) throw Error(ErrorCode::io_error, "bind() failed while listening on '" + opts_.socket + "': " + ec.message());
    chmod(opts_.socket.c_str(), opts_.socket_mode);
    acceptor_->listen(SOMAXCONN);
    accept_next();
}

bool Daemon::adopt_activated_socket() {
    std::optional<ActivatedSocket> activated = take_activated_socket();
    if (!activated) return false;
    acceptor_.emplace(io_, boost::asio::local::stream_protocol(), activated->fd);
    opts_.socket = activated->path;
    owns_socket_file_ = false;
    log_info("listening on the socket systemd passed: " + activated->path);
    accept_next();
    return true;
}

std::string Daemon::service_status() const {
    nlohmann::json jobs = scheduler_->stats();
    return std::to_string(pool_->alive()) + "/" + std::to_string(opts_.workers) + " workers; jobs: " +
           std::to_string(jobs["jobs_running"].get<size_t>()) + " running, " +
           std::to_string(jobs["jobs_queued"].get<size_t>()) + " queued, " +
           std::to_string(jobs["jobs_total"].get<uint64_t>()) + " submitted";
}

void Daemon::accept_next() {
    acceptor_->async_accept([this](const boost::system::error_code& ec, Session::Socket socket) {
        if (ec) {
            if (acceptor_ && acceptor_->is_open() && ec != boost::asio::error::operation_aborted) accept_next();
            return;
        }
        admit(std::move(socket));
        accept_next();
    });
}

size_t Daemon::open_sessions() {
    std::erase_if(sessions_, [](const auto& kv) { return kv.second.expired(); });
    size_t open = 0;
    for (auto& kv : sessions_)
        if (auto s = kv.second.lock()) open += s->is_open();
    return open;
}

// Checks the peer (allow_users / allow_groups) and the connection limit, then serves it.
void Daemon::admit(Session::Socket socket) {
    PeerCred peer;
    try {
        peer = peer_credentials(socket.native_handle());
    } catch (const Error& e) {
        log_warn(std::string("refused a connection: ") + e.what());
        return refuse(socket, ErrorCode::peer_not_allowed, "the daemon could not tell who is connecting");
    }
    if (!peers_->allows(peer)) {
        log_warn("refused connection from " + peer_text(peer) + ": not in allow-users or allow-groups");
        return refuse(socket, ErrorCode::peer_not_allowed, "uid " + std::to_string(peer.uid) + " may not use this daemon");
    }
    if (open_sessions() >= opts_.max_connections) {
        log_warn("refused connection from " + peer_text(peer) + ": max_connections reached");
        return refuse(socket, ErrorCode::too_many_connections,
                      "the daemon already serves " + std::to_string(opts_.max_connections) + " connections");
    }
    auto session = std::make_shared<Session>(
        std::move(socket), opts_.max_line,
        [this](const std::shared_ptr<Session>& s, std::string_view line) { router_->on_line(s, line); },
        [this](const std::shared_ptr<Session>& s) { router_->on_line_too_long(s); },
        [this](uint64_t id) {
            if (scheduler_) scheduler_->cancel_jobs_of_session(id);
        });
    session->set_idle_timeout(opts_.idle_timeout);
    session->set_peer(peer);
    log_info("accepted connection " + std::to_string(session->id()) + " from " + peer_text(peer));
    sessions_.emplace(session->id(), session);
    session->start();
}

void Daemon::watch_signals() {
    signals_.add(SIGCHLD);
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    if (logging_to_file()) signals_.add(SIGHUP);  // else SIGHUP keeps its default action
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            reopen_log();
        } else if (sig == SIGCHLD) {
            pool_->reap();
            // A worker killed between taking the wake-up token (daemon_sleeping 1 -> 0) and
            // writing the eventfd took the token with it: no other worker would ever ring
            // again. Recover deliberately: drain and hand out a fresh token.
            on_completions();
        } else
            begin_shutdown(std::string("received ") + strsignal(sig));
        watch_signals();
    });
}

// logrotate moved the log file: reopen it here and in every worker.
void Daemon::reopen_log() {
    if (!reopen_log_file()) log_error("reopening the log file failed: still writing to the old one");
    pool_->signal_all(SIGHUP);
    log_info("reopened the log file (SIGHUP)");
}

void Daemon::watch_completions() {
    if (!notify_) notify_.emplace(io_, notify_fd_);
    notify_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                        [this](const boost::system::error_code& ec) {
                            if (ec) return;
                            on_completions();
                            watch_completions();
                        });
}

// Drain, then ask the workers to ring again, then drain what raced with that request.
void Daemon::on_completions() {
    uint64_t count;
    while (read(notify_fd_, &count, sizeof count) > 0) {
    }
    scheduler_->drain_completions();
    control_->daemon_sleeping.store(1, std::memory_order_seq_cst);
    scheduler_->drain_completions();
}

void Daemon::begin_shutdown(const std::string& why) {
    if (shutting_down_) return;
    shutting_down_ = true;
    log_info("stopping (" + why + "): no new work; draining jobs for up to " +
             std::to_string(opts_.shutdown_timeout.count()) + " ms");
    boost::system::error_code ignored;
    if (acceptor_) acceptor_->close(ignored);
    if (owns_socket_file_) unlink(opts_.socket.c_str());
    notifier_->stopping();
    drain_deadline_ = Job::Clock::now() + opts_.shutdown_timeout;
    drain_then_stop();
}

// Waits for running jobs to end, checking every kDrainPoll, and cancels what is left at the
// shutdown timeout. Polling is fine here: it happens once, while the daemon stops.
void Daemon::drain_then_stop() {
    if (scheduler_->idle() || Job::Clock::now() >= drain_deadline_) {
        scheduler_->cancel_all(ErrorCode::shutting_down, "the daemon stopped before the job finished");
        stop_workers();
        return;
    }
    drain_timer_.expires_after(kDrainPoll);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) drain_then_stop();
    });
}

void Daemon::stop_workers() {
    if (workers_stopping_) return;
    workers_stopping_ = true;
    drain_timer_.cancel();
    pool_->stop_all(opts_.worker_stop_grace, [this] {
        log_info("all workers reaped");
        for (auto& kv : sessions_)
            if (auto s = kv.second.lock()) s->close_after_flush();
        stop_when_flushed(Job::Clock::now() + kSessionFlushWait);
    });
}

// Stops the loop once every client has been sent its final replies (or after a bound).
void Daemon::stop_when_flushed(Job::Clock::time_point deadline) {
    bool open = false;
    for (auto& kv : sessions_)
        if (auto s = kv.second.lock()) open = open || s->is_open();
    if (!open || Job::Clock::now() >= deadline) {
        io_.stop();
        return;
    }
    drain_timer_.expires_after(kDrainPoll);
    drain_timer_.async_wait([this, deadline](const boost::system::error_code&) { stop_when_flushed(deadline); });
}

void Daemon::finish() {
    for (auto& kv : sessions_)
        if (auto s = kv.second.lock()) s->close();
    router_.reset();
    timers_.reset();
    pool_.reset();
    scheduler_.reset();  // jobs release their datasets
    store_.reset();      // unlinks every dataset segment
    control_segment_ = Segment();
    Segment::remove(control_segment_name(opts_.instance));
    for (const auto& name : remove_instance_segments(opts_.instance))
        log_error("internal: segment /dev/shm/" + name + " outlived its owner; removed at exit");
    lock_.reset();
    log_info("stopped");
}

}  // namespace shmpool
