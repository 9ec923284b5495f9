// The `cdist` kernel: D[i,j] = metric(X[i], Y[j]) for X (n×d), Y (m×d), as scipy's cdist; by rows
// of X. euclidean/sqeuclidean reuse euclidean's run; the others a transposed or blocked loop.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "worker/kernels/builtin.h"
#include "worker/kernels/pairwise.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

using kernels::DoubleVec;
using kernels::PairDims;

enum class Metric { euclidean, sqeuclidean, cityblock, chebyshev, cosine, minkowski };

struct MetricName {
    Metric metric;
    std::string_view name;
};
constexpr MetricName kMetrics[] = {{Metric::euclidean, "euclidean"}, {Metric::sqeuclidean, "sqeuclidean"},
                                   {Metric::cityblock, "cityblock"}, {Metric::chebyshev, "chebyshev"},
                                   {Metric::cosine, "cosine"},       {Metric::minkowski, "minkowski"}};
constexpr const char* kMetricList = "euclidean, sqeuclidean, cityblock, chebyshev, cosine or minkowski";

struct CdistParams {
    Metric metric = Metric::euclidean;
    double p = 2;  // minkowski only
};

CdistParams parse_params(const nlohmann::json& params) {
    kernels::require_known_params(params, {"metric", "p"});
    CdistParams out;
    if (params.is_object() && params.contains("metric")) {
        const auto& value = params.at("metric");
        auto it = std::find_if(std::begin(kMetrics), std::end(kMetrics), [&](const MetricName& m) {
            return value.is_string() && m.name == value.get<std::string>();
        });
        if (it == std::end(kMetrics))
            throw Error(ErrorCode::bad_param,
                        "param 'metric' must be " + std::string(kMetricList) + ", got " + value.dump());
        out.metric = it->metric;
    }
    if (params.is_object() && params.contains("p") && out.metric != Metric::minkowski)
        throw Error(ErrorCode::bad_param, "param 'p' applies only to metric 'minkowski'");
    out.p = kernels::param_number(params, "p", 2.0, 1.0, DBL_MAX);
    return out;
}

// The metrics of the blocked and transposed loops (the concept of pairwise.h's
// SquaredDifferences): D = finish(acc, row(x), j) where acc combines term(x_k, y_k) over k;
// term, combine and finish take doubles or DoubleVecs, and `lanes` folds a DoubleVec of
// partial combinations (the blocked loop vectorizes over k, the transposed one over j).
struct SumMetric {
    static double lanes(const DoubleVec& acc) { return kernels::stdx::reduce(acc); }
    template <class V>
    static V combine(const V& a, const V& b) { return a + b; }
    static double row(const double*) { return 0; }
};

struct CityblockMetric : SumMetric {
    template <class V>
    static V term(const V& x, const V& y) { return kernels::abs_of(x - y); }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return acc; }
};

struct ChebyshevMetric {
    static double lanes(const DoubleVec& acc) { return kernels::stdx::hmax(acc); }
    static double combine(double a, double b) { return a < b ? b : a; }
    static DoubleVec combine(DoubleVec a, const DoubleVec& b) {
        kernels::stdx::where(a < b, a) = b;  // (kernels::max_of's out-of-line call halves the speed)
        return a;
    }
    template <class V>
    static V term(const V& x, const V& y) { return kernels::abs_of(x - y); }
    static double row(const double*) { return 0; }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return acc; }
};

// Minkowski with p = 2: sqrt(Σ (x - y)²) directly, to the 1e-12 of the other metrics.
struct Minkowski2Metric : SumMetric {
    template <class V>
    static V term(const V& x, const V& y) { return (x - y) * (x - y); }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return kernels::sqrt_of(acc); }
};

double pow_of(double x, double p) { return std::pow(x, p); }
DoubleVec pow_of(const DoubleVec& x, double p) { return kernels::stdx::pow(x, DoubleVec(p)); }

// (Σ |x - y|^p)^(1/p), as scipy computes it.
struct MinkowskiMetric : SumMetric {
    double p;
    explicit MinkowskiMetric(double p_) : p(p_) {}
    template <class V>
    V term(const V& x, const V& y) const { return pow_of(kernels::abs_of(x - y), p); }
    template <class V>
    V finish(const V& acc, double, uint64_t) const { return pow_of(acc, 1.0 / p); }
};

// scipy's clip of a cosine: beyond ±1 it becomes ±1; NaN stays NaN.
double clip_unit(double c) { return std::fabs(c) > 1.0 ? std::copysign(1.0, c) : c; }
DoubleVec clip_unit(DoubleVec c) {
    kernels::stdx::where(kernels::abs_of(c) > 1.0, c) = kernels::stdx::copysign(DoubleVec(1.0), c);
    return c;
}

// 1 - x·y / (|x||y|), the cosine clipped to [-1, 1] as scipy does; NaN for a zero vector.
struct CosineMetric : SumMetric {
    uint64_t d;
    std::vector<double> y_norms;

    CosineMetric(const double* y, PairDims dims) : d(dims.d), y_norms(dims.m) {
        for (uint64_t j = 0; j < dims.m; ++j) y_norms[j] = row(y + j * d);
    }
    template <class V>
    static V term(const V& x, const V& y) { return x * y; }
    double row(const double* x) const;  // |x|
    template <class V>
    V finish(const V& dot, double x_norm, uint64_t j) const {
        return 1.0 - clip_unit(dot / (x_norm * kernels::load_like(dot, y_norms.data() + j)));
    }
};

// combine over k in [0, d) of metric.term(x[k], y[k]): full vectors, then the scalar tail.
template <class M>
double pair_reduce(const M& metric, const double* x, const double* y, uint64_t d) {
    constexpr uint64_t kLanes = DoubleVec::size();
    uint64_t k = 0;
    double acc = 0;  // the identity of + and of max over |values|
    if (d >= kLanes) {
        auto load = [](const double* p) { return DoubleVec(p, kernels::stdx::element_aligned); };
        DoubleVec lanes = metric.term(load(x), load(y));
        for (k = kLanes; k + kLanes <= d; k += kLanes) lanes = M::combine(lanes, metric.term(load(x + k), load(y + k)));
        acc = M::lanes(lanes);
    }
    for (; k < d; ++k) acc = M::combine(acc, metric.term(x[k], y[k]));
    return acc;
}

double CosineMetric::row(const double* x) const { return std::sqrt(pair_reduce(*this, x, x, d)); }

// Rows of Y per block: about 128 KB of Y stays in L2 while every row of the range passes.
constexpr uint64_t kBlockDoubles = 16384;

// Larger d: per row of X, each block of Y rows, the inner loop over contiguous k.
template <class M>
class BlockedRun : public KernelRun {
public:
    BlockedRun(const double* x, const double* y, double* out, PairDims dims, M metric)
        : x_(x), y_(y), out_(out), dims_(dims), block_rows_(std::max<uint64_t>(1, kBlockDoubles / dims.d)),
          metric_(std::move(metric)) {}

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, dims_.n);
        for (uint64_t first = 0; first < dims_.m; first += block_rows_) {
            uint64_t last = std::min(dims_.m, first + block_rows_);
            for (uint64_t i = begin; i < end; ++i) run_row(i, first, last);
        }
    }

private:
    void run_row(uint64_t i, uint64_t first, uint64_t last) {
        const double* x = x_ + i * dims_.d;
        double* row = out_ + i * dims_.m;
        double x_state = metric_.row(x);
        for (uint64_t j = first; j < last; ++j)
            row[j] = metric_.finish(pair_reduce(metric_, x, y_ + j * dims_.d, dims_.d), x_state, j);
    }

    const double* x_;
    const double* y_;
    double* out_;
    PairDims dims_;
    uint64_t block_rows_;
    M metric_;
};

// Small d: Y transposed once per job, so the loop runs over contiguous j, a DoubleVec of
// distances at a time (like euclidean's direct path).
template <class M>
class TransposedRun : public KernelRun {
public:
    TransposedRun(const double* x, const double* y, double* out, PairDims dims, M metric)
        : x_(x), out_(out), n_(dims.n), y_transposed_(y, dims.m, dims.d), metric_(std::move(metric)) {}

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, n_);
        y_transposed_.map_rows_with(metric_, x_, begin, end, out_, [this](const auto& acc, double row, uint64_t j) {
            return metric_.finish(acc, row, j);
        });
    }

private:
    const double* x_;
    double* out_;
    uint64_t n_;
    kernels::TransposedPoints y_transposed_;
    M metric_;
};

// Up to this d the transposed loop beats the blocked one (whose DoubleVecs over k stay empty
// for d < 8 with AVX-512). Measured, one thread, 2000x2000, cityblock transposed vs blocked:
// d = 3: 2.2 vs 6.2 ms; d = 8: 3.0 vs 7.3; d = 16: 9.5 vs 12.7; d = 24: 21.8 vs 18.7.
constexpr uint64_t kMaxTransposedDims = 16;

std::unique_ptr<KernelRun> start_run(const CdistParams& p, const double* x, const double* y, double* out,
                                     PairDims dims) {
    auto blocked = [&](auto metric) -> std::unique_ptr<KernelRun> {
        using M = decltype(metric);
        if (dims.d <= kMaxTransposedDims) return std::make_unique<TransposedRun<M>>(x, y, out, dims, std::move(metric));
        return std::make_unique<BlockedRun<M>>(x, y, out, dims, std::move(metric));
    };
    switch (p.metric) {
        case Metric::euclidean: return kernels::start_euclidean_run(x, y, out, dims, false);
        case Metric::sqeuclidean: return kernels::start_euclidean_run(x, y, out, dims, true);
        case Metric::cityblock: return blocked(CityblockMetric{});
        case Metric::chebyshev: return blocked(ChebyshevMetric{});
        case Metric::cosine: return blocked(CosineMetric(y, dims));
        case Metric::minkowski:
            if (p.p == 1.0) return blocked(CityblockMetric{});
            if (p.p == 2.0) return blocked(Minkowski2Metric{});
            return blocked(MinkowskiMetric(p.p));
    }
    throw KernelError("unknown metric");
}

class CdistKernel : public Kernel {
public:
    std::string name() const override { return "cdist"; }
    std::vector<std::string> roles() const override { return {"X", "Y"}; }
    nlohmann::json describe_params() const override {
        return {{"metric", std::string(kMetricList) + " (default euclidean), as scipy.spatial.distance.cdist"},
                {"p", "minkowski's p, a number >= 1 (default 2)"}};
    }
    std::string description() const override {
        return "D[i,j] = metric(X[i], Y[j]) for X (n x d) and Y (m x d) float64; n x m float64 output";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        parse_params(in.params);
        auto dims = kernels::check_pair_inputs(kernels::input_meta(in.inputs, "X"), kernels::input_meta(in.inputs, "Y"));
        return Plan{.output = kernels::float64_matrix_output(dims.n, dims.m), .rows = dims.n};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        CdistParams params = parse_params(ctx.params);
        const ArrayView& x = kernels::input_view(ctx, "X");
        const ArrayView& y = kernels::input_view(ctx, "Y");
        auto dims = kernels::check_pair_inputs(x.meta, y.meta);
        kernels::require_output(ctx, kernels::float64_matrix_output(dims.n, dims.m));
        return start_run(params, x.as<double>(), y.as<double>(), ctx.output.out<double>(), dims);
    }
};

}  // namespace

const Kernel& cdist_kernel() {
    static const CdistKernel kernel;
    return kernel;
}

}  // namespace shmpool
