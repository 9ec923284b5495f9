// The `fault` test kernel (only with shmpoold --enable-test-kernels): the range holding row
// `at` misbehaves as `mode` says, so fault tests can make poison ranges of every kind.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "worker/kernels/builtin.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

const std::vector<std::string> kModes = {"segv", "abort", "kill", "exit", "alloc", "error", "hang"};

struct FaultParams {
    uint64_t rows, at, bytes;
    std::string mode;
};

FaultParams parse(const nlohmann::json& p) {
    kernels::require_known_params(p, {"rows", "at", "mode", "bytes"});
    FaultParams f{kernels::index_rows_param(p), 0, 0, "error"};
    f.at = kernels::param_count(p, "at", 0, 0, f.rows - 1);
    f.bytes = kernels::param_count(p, "bytes", 1ull << 30, 1, 1ull << 50);
    if (p.contains("mode")) {
        if (!p["mode"].is_string() || std::find(kModes.begin(), kModes.end(), p["mode"].get<std::string>()) == kModes.end())
            throw Error(ErrorCode::bad_param, "param 'mode' must be one of segv, abort, kill, exit, alloc, error, hang");
        f.mode = p["mode"].get<std::string>();
    }
    return f;
}

// A real SIGSEGV, also in the UBSan build (whose null-store check would otherwise exit first).
[[noreturn]] __attribute__((no_sanitize("undefined"))) void crash_segv() {
    volatile int* volatile nowhere = nullptr;
    *nowhere = 1;
    std::abort();  // not reached
}

// Touches `bytes` of fresh heap, so a memory limit is really hit (not optimized away).
void allocate(uint64_t bytes) {
    std::vector<char> block(bytes);
    std::memset(block.data(), 1, block.size());
    volatile char sink = block[bytes / 2];
    (void)sink;
}

class FaultRun : public KernelRun {
public:
    explicit FaultRun(FaultParams p) : p_(std::move(p)) {}
    void run(uint64_t begin, uint64_t end) override {
        if (p_.at < begin || p_.at >= end) return;
        const std::string& m = p_.mode;
        if (m == "segv") crash_segv();
        if (m == "abort") std::abort();
        if (m == "kill") raise(SIGKILL);
        if (m == "exit") _exit(3);
        if (m == "alloc") allocate(p_.bytes);
        if (m == "hang")
            for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
        if (m == "error") throw KernelError("row " + std::to_string(p_.at) + " is bad on purpose");
    }

private:
    FaultParams p_;
};

class FaultKernel : public Kernel {
public:
    std::string name() const override { return "fault"; }
    std::vector<std::string> roles() const override { return {}; }
    nlohmann::json describe_params() const override {
        return {{"rows", "number of indices (default 1)"},
                {"at", "the row whose range misbehaves (default 0)"},
                {"mode", "segv, abort, kill, exit, alloc, error or hang (default error)"},
                {"bytes", "alloc: bytes to allocate and touch (default 1 GiB)"}};
    }
    std::string description() const override { return "test kernel: one range crashes, fails, hangs or allocates"; }
    bool test_only() const override { return true; }
    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        return Plan{.output = std::nullopt, .rows = parse(in.params).rows};
    }
    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        return std::make_unique<FaultRun>(parse(ctx.params));
    }
};

}  // namespace

const Kernel& fault_kernel() {
    static const FaultKernel kernel;
    return kernel;
}

}  // namespace shmpool
