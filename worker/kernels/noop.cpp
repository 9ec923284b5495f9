// The `noop` and `noop_input` kernels: an index space of `rows` rows whose ranges do nothing and
// write nothing. They measure the pool's own cost per range, without and with a mapped input.
#include "worker/kernels/builtin.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

class NoopRun : public KernelRun {
public:
    explicit NoopRun(uint64_t rows) : rows_(rows) {}
    void run(uint64_t begin, uint64_t end) override { kernels::require_range(begin, end, rows_); }

private:
    uint64_t rows_;
};

class NoopKernel : public Kernel {
public:
    std::string name() const override { return "noop"; }
    std::vector<std::string> roles() const override { return {}; }
    nlohmann::json describe_params() const override {
        return {{"rows", "number of indices (integer >= 1, default 1)"}};
    }
    std::string description() const override { return "does nothing over [0, rows); no output"; }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        kernels::require_known_params(in.params, {"rows"});
        return Plan{.output = std::nullopt, .rows = kernels::index_rows_param(in.params)};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        return std::make_unique<NoopRun>(kernels::index_rows_param(ctx.params));
    }
};

// `noop` with one input `x` of any dtype and shape, mapped by each worker and never read: its
// per-range cost shows that dispatch does not depend on the size of a job's inputs.
class NoopInputKernel : public NoopKernel {
public:
    std::string name() const override { return "noop_input"; }
    std::vector<std::string> roles() const override { return {"x"}; }
    std::string description() const override {
        return "does nothing over [0, rows) with input x mapped but not read; no output";
    }
};

}  // namespace

const Kernel& noop_input_kernel() {
    static const NoopInputKernel kernel;
    return kernel;
}

const Kernel& noop_kernel() {
    static const NoopKernel kernel;
    return kernel;
}

}  // namespace shmpool
