// The `rbf` kernel: F[i,j] = r³/12 + r²/6 with r = ||p_i - p_j||_2 over N points (N×d); by rows.
// Points are transposed to d×N once per job; the rows run on the process's SIMD path (simd/rbf_loops.h).

#include "worker/kernels/builtin.h"
#include "worker/kernels/pairwise.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

class RbfRun : public KernelRun {
public:
    RbfRun(const double* points, double* out, uint64_t n, uint64_t d)
        : loops_(kernels::simd_loops()), transposed_(points, n, d),
          job_{points, transposed_.view().coords(), out, n, d} {}

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, job_.n);
        loops_.rbf_rows(job_, begin, end);  // on the process's SIMD path
    }

private:
    const kernels::SimdLoops& loops_;
    kernels::TransposedPoints transposed_;
    kernels::RbfRows job_;
};

struct RbfDims {
    uint64_t n, d;
};

RbfDims check_points(const ArrayMeta& points) {
    kernels::require_float64_matrix("points", points);
    RbfDims dims{points.shape.dims[0], points.shape.dims[1]};
    kernels::float64_matrix_output(dims.n, dims.n);  // too_large before anything is sized
    return dims;
}

class RbfKernel : public Kernel {
public:
    std::string name() const override { return "rbf"; }
    std::vector<std::string> roles() const override { return {"points"}; }
    nlohmann::json describe_params() const override { return nlohmann::json::object(); }
    std::string description() const override {
        return "F[i,j] = r^3/12 + r^2/6, r = ||p_i - p_j||_2, for points (N x d) float64; N x N float64 output";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        kernels::require_known_params(in.params, {});
        auto dims = check_points(kernels::input_meta(in.inputs, "points"));
        return Plan{.output = kernels::float64_matrix_output(dims.n, dims.n), .rows = dims.n};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        const ArrayView& points = kernels::input_view(ctx, "points");
        auto dims = check_points(points.meta);
        kernels::require_output(ctx, kernels::float64_matrix_output(dims.n, dims.n));
        return std::make_unique<RbfRun>(points.as<double>(), ctx.output.out<double>(), dims.n, dims.d);
    }
};

}  // namespace

const Kernel& rbf_kernel() {
    static const RbfKernel kernel;
    return kernel;
}

}  // namespace shmpool
