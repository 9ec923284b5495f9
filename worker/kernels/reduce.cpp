// The `reduce` kernel: sum, mean, min, max, argmin, argmax of x, as NumPy's x.op(axis=a).
// No axis: each range of rows returns a Partial the daemon combines. An axis: an output dataset.
#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "worker/kernels/builtin.h"
#include "worker/kernels/dtype_dispatch.h"
#include "worker/kernels/reduce_loops.h"
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

namespace loops = kernels::reduce_loops;

constexpr const char* kOpList = "sum, mean, min, max, argmin or argmax";

// A span's sum or extreme: float spans on the process's SIMD path (simd/loops.h), integer ones
// (exact, so the same on every path) compiled for the build's target.
template <class T>
kernels::SumParts span_sum(const T* p, uint64_t n) {
    if constexpr (std::is_same_v<T, double>) return kernels::simd_loops().sum_f64(p, n);
    else if constexpr (std::is_same_v<T, float>) return kernels::simd_loops().sum_f32(p, n);
    else return loops::span_sum(p, n);
}

template <bool Max, class T>
kernels::Best<T> span_extreme(const T* p, uint64_t n) {
    const kernels::SimdLoops& simd = kernels::simd_loops();
    if constexpr (std::is_same_v<T, double>) return Max ? simd.max_f64(p, n) : simd.min_f64(p, n);
    else if constexpr (std::is_same_v<T, float>) return Max ? simd.max_f32(p, n) : simd.min_f32(p, n);
    else return loops::span_extreme<Max>(p, n);
}

struct ReduceParams {
    ReduceOp op = ReduceOp::sum;
    std::optional<int> axis;  // none: the whole dataset
};

ReduceParams parse_params(const nlohmann::json& params, const ArrayMeta& x) {
    kernels::require_known_params(params, {"op", "axis"});
    if (x.shape.ndim < 1 || x.shape.elems() == 0)
        throw Error(ErrorCode::bad_shape, "input 'x' has an empty shape " + x.shape.to_string());
    if (!params.is_object() || !params.contains("op"))
        throw Error(ErrorCode::bad_param, "param 'op' is required: " + std::string(kOpList));
    const auto& op = params.at("op");
    auto parsed = op.is_string() ? reduce_op_from_name(op.get<std::string>()) : std::nullopt;
    if (!parsed || *parsed == ReduceOp::none)
        throw Error(ErrorCode::bad_param, "param 'op' must be " + std::string(kOpList) + ", got " + op.dump());
    ReduceParams out{*parsed, std::nullopt};
    if (params.contains("axis") && !params.at("axis").is_null())
        out.axis = int(kernels::param_count(params, "axis", 0, 0, uint64_t(x.shape.ndim - 1)));
    return out;
}

// x viewed as outer × len × inner around the reduced axis: out[o·inner + k] reduces
// x[o, 0..len, k] (x's flat index (o·len + j)·inner + k).
struct AxisGeometry {
    uint64_t outer = 1, len = 1, inner = 1;
};

AxisGeometry geometry_of(const Shape& s, int axis) {
    AxisGeometry g;
    for (int d = 0; d < s.ndim; ++d) (d < axis ? g.outer : d == axis ? g.len : g.inner) *= s.dims[d];
    return g;
}

DType output_dtype(ReduceOp op, DType in) {
    switch (op) {
        case ReduceOp::sum: return kernels::is_float_dtype(in) ? DType::float64 : DType::int64;
        case ReduceOp::min:
        case ReduceOp::max: return in;
        case ReduceOp::argmin:
        case ReduceOp::argmax: return DType::int64;
        default: return DType::float64;  // mean
    }
}

// NumPy's shape of x.op(axis=a): x's dims without a; [1] where NumPy gives a 0-d scalar.
ArrayMeta axis_output(ReduceOp op, const ArrayMeta& x, int axis) {
    ArrayMeta out;
    out.dtype = output_dtype(op, x.dtype);
    for (int d = 0; d < x.shape.ndim; ++d)
        if (d != axis) out.shape.dims[out.shape.ndim++] = x.shape.dims[d];
    if (out.shape.ndim == 0) out.shape = Shape{1, {1, 0, 0, 0}};
    checked_bytes(out.shape, out.dtype);
    return out;
}

bool wants_max(ReduceOp op) { return op == ReduceOp::max || op == ReduceOp::argmax; }

// Whole dataset: a range of rows [begin, end) covers the flat elements [begin·row, end·row).
template <class T>
class WholeRun : public KernelRun {
public:
    WholeRun(ReduceOp op, const T* x, const Shape& shape) : op_(op), x_(x), rows_(shape.rows()), row_(shape.row_elems()) {}

    Partial reduce(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, rows_);
        uint64_t count = (end - begin) * row_;
        const T* p = x_ + begin * row_;
        if (op_ == ReduceOp::sum || op_ == ReduceOp::mean) return sum_partial(p, count);
        Partial part = count ? extreme_partial(p, count) : Partial{};
        if (count) part.index = int64_t(begin * row_) + part.index;
        part.count = count;
        return part;
    }

private:
    // NumPy's sum: integers wrap modulo 2^64 in an int64 (uint64 for unsigned) accumulator;
    // floats and every mean are compensated doubles (an integer mean's parts are exact).
    Partial sum_partial(const T* p, uint64_t count) const {
        if constexpr (!std::is_floating_point_v<T>) {
            if (op_ == ReduceOp::sum) {
                auto wrapped = static_cast<uint64_t>(loops::int_sum(p, count));
                return std::is_unsigned_v<T> ? Partial::of_uint64(wrapped, count)
                                             : Partial::of_int64(static_cast<int64_t>(wrapped), count);
            }
        }
        kernels::SumParts sum = span_sum(p, count);
        return Partial{.value = sum.value, .compensation = sum.comp, .count = count};
    }

    // The extreme of p[0..count) and its index in the range; integers exact (kind int64).
    Partial extreme_partial(const T* p, uint64_t count) const {
        auto best = wants_max(op_) ? span_extreme<true>(p, count) : span_extreme<false>(p, count);
        Partial part;
        if constexpr (std::is_floating_point_v<T>) part.value = double(best.value);
        else part = Partial::of_int64(int64_t(best.value), 0);
        part.index = int64_t(best.index);
        return part;
    }

    ReduceOp op_;
    const T* x_;
    uint64_t rows_, row_;
};

// Per-job scratch for one block of columns (reductions along a non-last axis).
template <class T>
struct ColumnScratch {
    static constexpr uint64_t kColumns = 4096;  // 32 KB of accumulators per kind: in L2
    std::vector<double> sum = std::vector<double>(kColumns), comp = std::vector<double>(kColumns);
    std::vector<uint64_t> wrapped = std::vector<uint64_t>(kColumns);
    std::vector<T> best = std::vector<T>(kColumns);
    std::vector<int64_t> index = std::vector<int64_t>(kColumns);
};

// An axis: the index space is the output's flat elements; each range reduces its own.
template <class T>
class AxisRun : public KernelRun {
public:
    AxisRun(ReduceOp op, const T* x, void* out, AxisGeometry g) : op_(op), x_(x), out_(out), g_(g) {}

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, g_.outer * g_.inner);
        for (uint64_t e = begin; e < end;) {
            uint64_t o = e / g_.inner, k = e % g_.inner;
            uint64_t count = std::min(g_.inner - k, end - e);
            const T* first = x_ + o * g_.len * g_.inner + k;
            for (uint64_t c = 0; c < count; c += ColumnScratch<T>::kColumns)
                reduce_columns(first + c, e + c, std::min(ColumnScratch<T>::kColumns, count - c));
            e += count;
        }
    }

private:
    // Output elements [out_first, out_first + count), whose columns start at p.
    void reduce_columns(const T* p, uint64_t out_first, uint64_t count) {
        if (g_.inner == 1) return reduce_span(p, out_first);
        switch (op_) {
            case ReduceOp::sum:
            case ReduceOp::mean: return column_sums(p, out_first, count);
            default: return column_extremes(p, out_first, count);
        }
    }

    // inner == 1: one output element reduces the contiguous p[0..len).
    void reduce_span(const T* p, uint64_t e) {
        if (op_ == ReduceOp::sum && !std::is_floating_point_v<T>) {
            static_cast<int64_t*>(out_)[e] = int64_t(loops::int_sum(p, g_.len));  // wraps as NumPy
        } else if (op_ == ReduceOp::sum || op_ == ReduceOp::mean) {
            kernels::SumParts s = span_sum(p, g_.len);
            double total = loops::sum_value(s.value, s.comp);
            static_cast<double*>(out_)[e] = op_ == ReduceOp::mean ? total / double(g_.len) : total;
        } else {
            auto best = wants_max(op_) ? span_extreme<true>(p, g_.len) : span_extreme<false>(p, g_.len);
            write_extreme(e, best.value, int64_t(best.index));
        }
    }

    void column_sums(const T* p, uint64_t e, uint64_t count) {
        if (op_ == ReduceOp::sum && !std::is_floating_point_v<T>) {
            loops::column_int_sums(p, g_.len, g_.inner, count, scratch_.wrapped.data());
            for (uint64_t c = 0; c < count; ++c) static_cast<int64_t*>(out_)[e + c] = int64_t(scratch_.wrapped[c]);
            return;
        }
        loops::column_float_sums(p, g_.len, g_.inner, count, scratch_.sum.data(), scratch_.comp.data());
        for (uint64_t c = 0; c < count; ++c) {
            double total = loops::sum_value(scratch_.sum[c], scratch_.comp[c]);
            static_cast<double*>(out_)[e + c] = op_ == ReduceOp::mean ? total / double(g_.len) : total;
        }
    }

    void column_extremes(const T* p, uint64_t e, uint64_t count) {
        T* best = scratch_.best.data();
        int64_t* index = scratch_.index.data();
        if (wants_max(op_)) loops::column_extremes<true>(p, g_.len, g_.inner, count, best, index);
        else loops::column_extremes<false>(p, g_.len, g_.inner, count, best, index);
        for (uint64_t c = 0; c < count; ++c) write_extreme(e + c, best[c], index[c]);
    }

    void write_extreme(uint64_t e, T value, int64_t index) {
        if (op_ == ReduceOp::min || op_ == ReduceOp::max) static_cast<T*>(out_)[e] = value;
        else static_cast<int64_t*>(out_)[e] = index;
    }

    ReduceOp op_;
    const T* x_;
    void* out_;
    AxisGeometry g_;
    ColumnScratch<T> scratch_;
};

class ReduceKernel : public Kernel {
public:
    std::string name() const override { return "reduce"; }
    std::vector<std::string> roles() const override { return {"x"}; }
    nlohmann::json describe_params() const override {
        return {{"op", std::string(kOpList)},
                {"axis", "absent or null: the whole dataset (the job's value); an axis in [0, ndim-1]: an output"}};
    }
    std::string description() const override {
        return "x.op(axis) as NumPy's: whole-dataset value (partials combined once) or an output along an axis";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        const ArrayMeta& x = kernels::input_meta(in.inputs, "x");
        ReduceParams p = parse_params(in.params, x);
        if (!p.axis) return Plan{.output = std::nullopt, .rows = x.shape.rows(), .reduce = p.op};
        AxisGeometry g = geometry_of(x.shape, *p.axis);
        return Plan{.output = axis_output(p.op, x, *p.axis), .rows = g.outer * g.inner};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        const ArrayView& x = kernels::input_view(ctx, "x");
        ReduceParams p = parse_params(ctx.params, x.meta);
        if (p.axis) kernels::require_output(ctx, axis_output(p.op, x.meta, *p.axis));
        return kernels::visit_dtype(x.meta.dtype, [&](auto zero) -> std::unique_ptr<KernelRun> {
            using T = decltype(zero);
            if (!p.axis) return std::make_unique<WholeRun<T>>(p.op, x.as<T>(), x.meta.shape);
            return std::make_unique<AxisRun<T>>(p.op, x.as<T>(), ctx.output.writable, geometry_of(x.meta.shape, *p.axis));
        });
    }
};

}  // namespace

const Kernel& reduce_kernel() {
    static const ReduceKernel kernel;
    return kernel;
}

}  // namespace shmpool
