// The daemon's worker processes as a slot table (pid, state, restarts): prefork, reap on
// SIGCHLD, respawn with bounded backoff, and stop (TERM, then KILL after a grace period).
#include "server/worker_pool.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "worker/worker_loop.h"

namespace shmpool {
namespace {

constexpr auto kQuickDeath = std::chrono::seconds(1);  // a death this soon, with no range served, is "quick"
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
constexpr int kWorkerNotifyFd = 3;

// In the child: undo everything the daemon's event loop installed (DESIGN "fork() with Asio").
void reset_signals() {
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

void keep_only_notify_fd(int notify_fd) {
    if (notify_fd != kWorkerNotifyFd && dup2(notify_fd, kWorkerNotifyFd) < 0) _exit(120);
    close_range(kWorkerNotifyFd + 1, ~0U, 0);
}

}  // namespace

std::string describe_exit(int status) {
    if (WIFSIGNALED(status))
        return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

WorkerPool::WorkerPool(boost::asio::io_context& io, ctl::Header* control, uint32_t n_workers, int notify_fd,
                       std::string instance, Scheduler& scheduler)
    : io_(io),
      control_(control),
      notify_fd_(notify_fd),
      instance_(std::move(instance)),
      scheduler_(scheduler),
      daemon_pid_(getpid()),
      slots_(n_workers),
      kill_timer_(io) {
    for (auto& s : slots_) s.respawn_timer = std::make_unique<boost::asio::steady_timer>(io);
}

void WorkerPool::start_all() {
    for (uint32_t i = 0; i < slots_.size(); ++i) spawn(i);
}

void WorkerPool::spawn(uint32_t slot) {
    control_->workers()[slot].reset();
    pid_t pid = fork();
    if (pid < 0) {
        log_error(sys_error_text("fork", "starting worker " + std::to_string(slot), errno));
        schedule_respawn(slot);
        return;
    }
    if (pid == 0) become_worker(slot);
    Slot& s = slots_[slot];
    s.pid = pid;
    s.state = State::running;
    s.spawned = std::chrono::steady_clock::now();
    log_info("worker " + std::to_string(slot) + " started as pid " + std::to_string(pid));
    scheduler_.worker_up(slot);
}

void WorkerPool::become_worker(uint32_t slot) {
    reset_signals();
    log_after_fork();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != daemon_pid_) _exit(0);  // the daemon died before PDEATHSIG was armed
    std::string title = "shmpool-w" + std::to_string(slot);
    prctl(PR_SET_NAME, title.c_str());
    keep_only_notify_fd(notify_fd_);
    if (memory_limit_) {
        rlimit lim{memory_limit_, memory_limit_};
        setrlimit(RLIMIT_DATA, &lim);
    }
    for (const char* var : {"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}) unsetenv(var);
    WorkerContext ctx{control_, slot, kWorkerNotifyFd, daemon_pid_, instance_};
    worker_main(ctx);
}

void WorkerPool::reap() {
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        for (uint32_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].pid == pid && (slots_[i].state == State::running || slots_[i].state == State::stopping))
                on_exit(i, status);
    }
}

void WorkerPool::on_exit(uint32_t slot, int status) {
    Slot& s = slots_[slot];
    std::string how = describe_exit(status);
    s.pid = 0;
    bool planned = s.recycling;
    bool served = scheduler_.ranges_since_start(slot) > 0;
    s.recycling = false;
    scheduler_.worker_down(slot, how, !planned && !stopping_);
    if (stopping_) {
        s.state = State::empty;
        finish_stop_if_done();
        return;
    }
    if (planned) {
        log_info("worker " + std::to_string(slot) + " recycled after its range quota");
        spawn(slot);
        return;
    }
    log_warn("worker " + std::to_string(slot) + " " + how + "; starting a replacement");
    s.restarts += 1;
    bool quick = !served && std::chrono::steady_clock::now() - s.spawned < kQuickDeath;
    s.quick_deaths = quick ? s.quick_deaths + 1 : 0;
    schedule_respawn(slot);
}

// A worker that keeps dying at once, before serving any range, is restarted after 10 ms,
// 20 ms, ... up to 1 s, so a crash loop cannot fork-bomb the machine; one that served a range
// or lived a while is replaced at once.
void WorkerPool::schedule_respawn(uint32_t slot) {
    Slot& s = slots_[slot];
    s.state = State::respawn_wait;
    if (s.quick_deaths <= 1) {
        spawn(slot);
        return;
    }
    auto delay = std::min(kMaxBackoff, std::chrono::milliseconds(10L << std::min(s.quick_deaths - 2, 10u)));
    s.respawn_timer->expires_after(delay);
    s.respawn_timer->async_wait([this, slot](const boost::system::error_code& ec) {
        if (!ec && !stopping_ && slots_[slot].state == State::respawn_wait) spawn(slot);
    });
}

void WorkerPool::recycle(uint32_t slot) {
    Slot& s = slots_[slot];
    if (s.state != State::running) return;
    s.recycling = true;
    kill(s.pid, SIGTERM);
}

void WorkerPool::kill_worker(uint32_t slot, const std::string& why) {
    Slot& s = slots_[slot];
    if (s.state != State::running) return;
    log_warn("killing worker " + std::to_string(slot) + " (pid " + std::to_string(s.pid) + "): " + why);
    kill(s.pid, SIGKILL);
}

void WorkerPool::signal_all(int sig) {
    for (auto& s : slots_)
        if (s.state == State::running) kill(s.pid, sig);
}

void WorkerPool::stop_all(std::chrono::milliseconds grace, std::function<void()> done) {
    stopping_ = true;
    on_stopped_ = std::move(done);
    for (auto& s : slots_) {
        s.respawn_timer->cancel();
        if (s.state == State::running) {
            s.state = State::stopping;
            kill(s.pid, SIGTERM);
        } else {
            s.state = State::empty;
        }
    }
    kill_timer_.expires_after(grace);
    kill_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) kill_remaining();
    });
    finish_stop_if_done();
}

void WorkerPool::kill_remaining() {
    for (auto& s : slots_)
        if (s.state == State::stopping) {
            log_warn("worker pid " + std::to_string(s.pid) + " ignored SIGTERM; sending SIGKILL");
            kill(s.pid, SIGKILL);
        }
}

void WorkerPool::finish_stop_if_done() {
    if (!stopping_ || alive() > 0 || !on_stopped_) return;
    kill_timer_.cancel();
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
}

uint32_t WorkerPool::alive() const {
    uint32_t n = 0;
    for (const auto& s : slots_) n += s.state == State::running || s.state == State::stopping;
    return n;
}

nlohmann::json WorkerPool::describe() const {
    nlohmann::json out = nlohmann::json::array();
    for (uint32_t i = 0; i < slots_.size(); ++i) {
        const Slot& s = slots_[i];
        nlohmann::json w = scheduler_.worker_activity(i);
        const char* state = s.state == State::running ? (w["job"].is_null() ? "idle" : "busy")
                            : s.state == State::stopping ? "stopping"
                                                         : "starting";
        w["slot"] = i;
        w["pid"] = s.pid ? nlohmann::json(s.pid) : nlohmann::json(nullptr);
        w["state"] = state;
        w["restarts"] = s.restarts;
        out.push_back(std::move(w));
    }
    return out;
}

}  // namespace shmpool
