// The `euclidean` kernel: D[i,j] = ||X[i] - Y[j]||_2 for X (n×d), Y (m×d); ranges over rows of X.
// Small d: a direct vectorized loop. Larger d: BLAS computes -2·X·Yᵀ into the output, then
// sqrt(|x|² + |y|² - 2x·y) in place, and entries that cancellation could spoil are redone directly.
// The same runs, squared or not, serve cdist's euclidean and sqeuclidean (pairwise.h). The loops
// over a row run on the process's SIMD path (simd/euclidean_loops.h).
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>

#include <cblas.h>

#include "worker/kernels/builtin.h"
#include "worker/kernels/pairwise.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/simd/euclidean_loops.h"
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

// When is sq = |x|² + |y|² - 2x·y trustworthy? With u = DBL_EPSILON/2 and s = |x|² + |y|²:
// each dot product of length d is off by at most γ_d ≈ d·u times |x|², |y|² and
// 2|x||y| <= s (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1; the bound
// holds for any summation order and for FMAs, so for any BLAS), and the two additions add
// at most 2u·2s. So |error of sq| <= E = (2d + 4)·u·s, and D = sqrt(sq) is off by at most
// E / (2·sq) relative (plus u from sqrt). Asking for that to be <= kRelTol gives
//     sq >= (d + 2)·u / kRelTol · s;
// entries below it (near-identical points, points far from the origin relative to their
// distance) are recomputed as sqrt(Σ(x_k - y_k)²), which is accurate to about d·u.
// kRelTol is ten times tighter than the 1e-9 the kernel promises against scipy's cdist,
// which leaves room for cdist's own rounding. For d = 64 the cutoff is sq < 7.3e-5·s: random
// data never hits it, so the fast path does nearly all the work.
// For the squared distance sq itself (cdist's sqeuclidean) the relative error is E / sq, twice
// that of D: the cutoff becomes (2d + 4)·u / kSquaredRelTol · s, with kSquaredRelTol ten times
// tighter than the 1e-12 promised there (d = 64: sq < 0.15·s is redone; random data centred
// at the origin rarely is, data far from the origin mostly is).
constexpr double kRelTol = 1e-10;
constexpr double kSquaredRelTol = 1e-13;

// Rows of X per BLAS call. Measured on 4000x4000, d = 64: 32 to 500 rows all run within
// noise of BLAS alone (the sqrt pass costs < 10%), so column blocks of Y would not pay.
constexpr uint64_t kBlockRows = 64;

// Up to this many columns the direct loop (TransposedPoints) beats BLAS plus the sqrt pass,
// and it needs no cancellation check. Measured, single thread: 4000x4000 at d = 3: 9 ms
// direct vs 14.5 ms BLAS; d = 16: 19 vs 21 ms; d = 24: 28 vs 26 ms (160x100000 alike).
constexpr uint64_t kMaxDirectDims = 16;

using kernels::PairDims;

template <bool Squared>
double cancellation_cutoff(uint64_t d) {
    return Squared ? double(2 * d + 4) * (DBL_EPSILON / 2) / kSquaredRelTol
                   : double(d + 2) * (DBL_EPSILON / 2) / kRelTol;
}

}  // namespace

PairDims kernels::check_pair_inputs(const ArrayMeta& x, const ArrayMeta& y) {
    kernels::require_float64_matrix("X", x);
    kernels::require_float64_matrix("Y", y);
    PairDims dims{x.shape.dims[0], y.shape.dims[0], x.shape.dims[1]};
    if (y.shape.dims[1] != dims.d)
        throw Error(ErrorCode::shape_mismatch, "inputs 'X' (" + x.shape.to_string() + ") and 'Y' (" +
                                                   y.shape.to_string() + ") must have the same number of columns");
    kernels::float64_matrix_output(dims.n, dims.m);  // too_large before anything else is sized
    if (dims.d > INT_MAX || dims.m > INT_MAX)
        throw Error(ErrorCode::too_large, "inputs 'X' (" + x.shape.to_string() + ") and 'Y' (" +
                                              y.shape.to_string() + ") exceed BLAS's 32-bit dims");
    return dims;
}

namespace {

double squared_norm(const double* v, uint64_t d) {
    double sum = 0;
    for (uint64_t k = 0; k < d; ++k) sum += v[k] * v[k];
    return sum;
}

template <bool Squared>
double direct_distance(const double* x, const double* y, uint64_t d) {
    double sum = 0;
    for (uint64_t k = 0; k < d; ++k) sum += (x[k] - y[k]) * (x[k] - y[k]);
    return kernels::euclidean::finish<Squared>(sum);
}

// The BLAS path, for d above kMaxDirectDims.
template <bool Squared>
class GemmEuclideanRun : public KernelRun {
public:
    GemmEuclideanRun(const double* x, const double* y, double* out, PairDims dims)
        : x_(x), y_(y), out_(out), dims_(dims), cutoff_(cancellation_cutoff<Squared>(dims.d)),
          y_sq_(dims.m), x_sq_(kBlockRows), at_risk_starts_(dims.m), loops_(kernels::simd_loops()) {
        for (uint64_t j = 0; j < dims_.m; ++j) y_sq_[j] = squared_norm(y_ + j * dims_.d, dims_.d);
    }

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, dims_.n);
        for (uint64_t first = begin; first < end; first += kBlockRows)
            run_block(first, std::min(kBlockRows, end - first));
    }

private:
    void run_block(uint64_t first, uint64_t count) {
        const double* x_block = x_ + first * dims_.d;
        for (uint64_t r = 0; r < count; ++r) x_sq_[r] = squared_norm(x_block + r * dims_.d, dims_.d);
        int m = int(dims_.m), d = int(dims_.d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(count), m, d, -2.0, x_block, d, y_, d, 0.0,
                    out_ + first * dims_.m, m);
        for (uint64_t r = 0; r < count; ++r) finish_row(first + r, x_sq_[r]);
    }

    // The row holds -2·x·y; make it sqrt(|x|² + |y|² - 2x·y) (or its square) on the SIMD
    // path, then redo directly the entries at risk, in the vectors the path found them in.
    void finish_row(uint64_t i, double x_sq) {
        double* row = out_ + i * dims_.m;
        uint64_t vectors = loops_.euclidean_finish_row(
            {row, y_sq_.data(), x_sq, cutoff_, dims_.m, Squared, at_risk_starts_.data()});
        for (uint64_t v = 0, done = 0; v < vectors; ++v) {
            uint64_t start = std::max(at_risk_starts_[v], done);
            done = std::min(at_risk_starts_[v] + kernels::kMaxLanes, dims_.m);
            for (uint64_t j = start; j < done; ++j)
                if (kernels::euclidean::at_risk<Squared>(row[j], x_sq + y_sq_[j], cutoff_))
                    row[j] = direct_distance<Squared>(x_ + i * dims_.d, y_ + j * dims_.d, dims_.d);
        }
    }

    const double* x_;
    const double* y_;
    double* out_;
    PairDims dims_;
    double cutoff_;              // (d + 2)·u / kRelTol or its squared variant, see above
    std::vector<double> y_sq_;   // |Y[j]|², once per job
    std::vector<double> x_sq_;   // |X[i]|² of the current block, reused by every range
    std::vector<uint64_t> at_risk_starts_;  // of the row being finished (see SimdLoops)
    const kernels::SimdLoops& loops_;       // the process's SIMD path
};

// The direct path, for d up to kMaxDirectDims: sqrt(Σ_k (x_k - y_k)²), vectorized over j.
template <bool Squared>
class DirectEuclideanRun : public KernelRun {
public:
    DirectEuclideanRun(const double* x, const double* y, double* out, PairDims dims)
        : n_(dims.n), loops_(kernels::simd_loops()), y_transposed_(y, dims.m, dims.d),
          job_{x, y_transposed_.view().coords(), out, dims.m, dims.d, Squared} {}

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, n_);
        loops_.euclidean_direct_rows(job_, begin, end);  // on the process's SIMD path
    }

private:
    uint64_t n_;
    const kernels::SimdLoops& loops_;
    kernels::TransposedPoints y_transposed_;
    kernels::EuclideanDirectRows job_;
};

template <bool Squared>
std::unique_ptr<KernelRun> start_run(const double* x, const double* y, double* out, PairDims dims) {
    if (dims.d <= kMaxDirectDims) return std::make_unique<DirectEuclideanRun<Squared>>(x, y, out, dims);
    return std::make_unique<GemmEuclideanRun<Squared>>(x, y, out, dims);
}

class EuclideanKernel : public Kernel {
public:
    std::string name() const override { return "euclidean"; }
    std::vector<std::string> roles() const override { return {"X", "Y"}; }
    nlohmann::json describe_params() const override { return nlohmann::json::object(); }
    std::string description() const override {
        return "D[i,j] = ||X[i] - Y[j]||_2 for X (n x d) and Y (m x d) float64; n x m float64 output";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        kernels::require_known_params(in.params, {});
        auto dims = kernels::check_pair_inputs(kernels::input_meta(in.inputs, "X"), kernels::input_meta(in.inputs, "Y"));
        return Plan{.output = kernels::float64_matrix_output(dims.n, dims.m), .rows = dims.n};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        const ArrayView& x = kernels::input_view(ctx, "X");
        const ArrayView& y = kernels::input_view(ctx, "Y");
        auto dims = kernels::check_pair_inputs(x.meta, y.meta);
        kernels::require_output(ctx, kernels::float64_matrix_output(dims.n, dims.m));
        return kernels::start_euclidean_run(x.as<double>(), y.as<double>(), ctx.output.out<double>(), dims, false);
    }
};

}  // namespace

std::unique_ptr<KernelRun> kernels::start_euclidean_run(const double* x, const double* y, double* out,
                                                        PairDims dims, bool squared) {
    return squared ? start_run<true>(x, y, out, dims) : start_run<false>(x, y, out, dims);
}

const Kernel& euclidean_kernel() {
    static const EuclideanKernel kernel;
    return kernel;
}

}  // namespace shmpool
