// Runs a plugin kernel's plan callback in a short-lived forked child, so a plan that crashes,
// hangs or corrupts memory fails one submit instead of the daemon that called it.
#include "worker/plugin_plan.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace shmpool {
namespace {

enum class Outcome { replied, closed, timed_out };

// In the child: no signal handler of the daemon may run here (they would write to the
// daemon's self-pipe), and the child dies with the daemon. Never returns.
[[noreturn]] void plan_child(const shmpool_kernel& desc, const std::string& params,
                             const std::vector<shmpool_input_meta>& inputs, int fd) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, nullptr);  // faults the plan raises still kill the child
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    PlanReply reply;
    try {
        reply.status = desc.plan(params.c_str(), inputs.data(), static_cast<uint32_t>(inputs.size()), &reply.plan,
                                 reply.message, sizeof reply.message);
    } catch (...) {  // a C++ plugin that let an exception out of a C callback
        reply.status = SHMPOOL_ERR_FAILED;
        std::strncpy(reply.message, "plan threw a C++ exception", sizeof reply.message - 1);
    }
    bool sent = write(fd, &reply, sizeof reply) == static_cast<ssize_t>(sizeof reply);
    _exit(sent ? 0 : 1);  // no destructor or atexit handler of the daemon runs in the child
}

// Reads the whole reply from `fd` before the deadline. The reply fits in PIPE_BUF, so the
// child's one write arrives whole; EOF first means the child died without replying.
Outcome read_reply(int fd, PlanReply& reply) {
    static_assert(sizeof(PlanReply) <= PIPE_BUF, "the reply must be one atomic pipe write");
    auto deadline = std::chrono::steady_clock::now() + kPluginPlanTimeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return Outcome::timed_out;
        pollfd p{fd, POLLIN, 0};
        int ready = poll(&p, 1, static_cast<int>(left.count()) + 1);
        if (ready < 0 && errno == EINTR) continue;  // our own child's SIGCHLD, for one
        if (ready <= 0) continue;                   // the deadline is checked above
        ssize_t n = read(fd, &reply, sizeof reply);
        if (n < 0 && errno == EINTR) continue;
        return n == static_cast<ssize_t>(sizeof reply) ? Outcome::replied : Outcome::closed;
    }
}

int reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

std::string fate(Outcome outcome, int status) {
    if (outcome == Outcome::timed_out)
        return "did not finish within " + std::to_string(kPluginPlanTimeout.count()) + " s and was killed";
    if (WIFSIGNALED(status))
        return "crashed: signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    return "ended without a reply (exit status " + std::to_string(WEXITSTATUS(status)) + ")";
}

}  // namespace

PlanReply plan_in_child(const shmpool_kernel& desc, const std::string& params,
                        const std::vector<shmpool_input_meta>& inputs, const std::string& who) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(ErrorCode::io_error, sys_error_text("pipe2", "planning " + who, errno));
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]), close(fds[1]);
        throw Error(ErrorCode::io_error, sys_error_text("fork", "planning " + who, err));
    }
    if (pid == 0) {
        close(fds[0]);
        plan_child(desc, params, inputs, fds[1]);
    }
    close(fds[1]);
    PlanReply reply;
    Outcome outcome = read_reply(fds[0], reply);
    close(fds[0]);
    if (outcome == Outcome::timed_out) kill(pid, SIGKILL);
    int status = reap(pid);
    if (outcome != Outcome::replied) throw Error(ErrorCode::internal, "the plan of " + who + " " + fate(outcome, status));
    reply.message[sizeof reply.message - 1] = '\0';
    return reply;
}

}  // namespace shmpool
