// The `sleep` kernel: each range of [0, rows) sleeps `ms` milliseconds and writes nothing.
// It stands in for slow work in tests of scheduling, cancellation and worker death.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>

#include "worker/kernels/builtin.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

constexpr double kMaxSleepMs = 3600.0 * 1000.0;  // one hour per range is plenty for a test kernel

double sleep_ms_param(const nlohmann::json& params) {
    return kernels::param_number(params, "ms", 1.0, 0.0, kMaxSleepMs);
}

// Sleeps the whole `ms` even when signals interrupt it (nanosleep leaves the rest in `left`).
void sleep_for_ms(double ms) {
    double whole_seconds = std::floor(ms / 1000.0);
    long nanos = std::lround((ms - whole_seconds * 1000.0) * 1e6);
    timespec left{.tv_sec = time_t(whole_seconds), .tv_nsec = std::min(nanos, 999'999'999L)};
    while (nanosleep(&left, &left) == -1 && errno == EINTR) {
    }
}

class SleepRun : public KernelRun {
public:
    SleepRun(uint64_t rows, double ms) : rows_(rows), ms_(ms) {}
    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, rows_);
        sleep_for_ms(ms_);
    }

private:
    uint64_t rows_;
    double ms_;
};

class SleepKernel : public Kernel {
public:
    std::string name() const override { return "sleep"; }
    std::vector<std::string> roles() const override { return {}; }
    nlohmann::json describe_params() const override {
        return {{"rows", "number of indices (integer >= 1, default 1)"},
                {"ms", "milliseconds each range sleeps (number in [0, 3600000], default 1)"}};
    }
    std::string description() const override { return "sleeps ms milliseconds per range; no output"; }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        kernels::require_known_params(in.params, {"rows", "ms"});
        sleep_ms_param(in.params);
        return Plan{.output = std::nullopt, .rows = kernels::index_rows_param(in.params)};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        return std::make_unique<SleepRun>(kernels::index_rows_param(ctx.params), sleep_ms_param(ctx.params));
    }
};

}  // namespace

const Kernel& sleep_kernel() {
    static const SleepKernel kernel;
    return kernel;
}

}  // namespace shmpool
