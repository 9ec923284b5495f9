// The `map` kernel: y = op(x) elementwise for any dtype and shape, same shape and dtype out;
// ranges over rows (first dim). Integer ops wrap around as NumPy's do; float ops use libm.
#include <array>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

#include "worker/kernels/builtin.h"
#include "worker/kernels/dtype_dispatch.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

// Float-only ops, computed in double: float64 gets glibc's result (within 1 ulp of exact;
// tanh 2), float32 gets the double result rounded once, which is the correctly rounded float
// but for rare double roundings.
struct Exp { static double of(double x) { return std::exp(x); } };
struct Log { static double of(double x) { return std::log(x); } };
struct Log1p { static double of(double x) { return std::log1p(x); } };
struct Sqrt { static double of(double x) { return std::sqrt(x); } };
struct Sin { static double of(double x) { return std::sin(x); } };
struct Cos { static double of(double x) { return std::cos(x); } };
struct Tanh { static double of(double x) { return std::tanh(x); } };
// scipy.special.expit's formula.
struct Sigmoid { static double of(double x) { return 1.0 / (1.0 + std::exp(-x)); } };

template <class F>
struct FloatOp {
    template <class T>
    static T of(T x) { return T(F::of(double(x))); }
};

// Ops on every dtype. Integers go through the unsigned type of the same width, so overflow
// wraps modulo 2^bits exactly as NumPy's (abs(INT64_MIN) == INT64_MIN, -uint8(1) == 255).
template <class T>
using Unsigned = std::make_unsigned_t<T>;

struct Abs {
    template <class T>
    static T of(T x) {
        if constexpr (std::is_floating_point_v<T>) return std::fabs(x);
        else if constexpr (std::is_unsigned_v<T>) return x;
        else return x < 0 ? T(Unsigned<T>(0) - Unsigned<T>(x)) : x;
    }
};

struct Negative {
    template <class T>
    static T of(T x) {
        if constexpr (std::is_floating_point_v<T>) return -x;
        else return T(Unsigned<T>(0) - Unsigned<T>(x));
    }
};

struct Square {
    template <class T>
    static T of(T x) {
        if constexpr (std::is_floating_point_v<T>) return x * x;
        else return T(uint64_t(Unsigned<T>(x)) * uint64_t(Unsigned<T>(x)));  // no int promotion
    }
};

// out[e] = Op::of(in[e]) for e in [first, first + count).
using ApplyFn = void (*)(const void* in, void* out, uint64_t first, uint64_t count);

template <class Op, class T>
void apply(const void* in, void* out, uint64_t first, uint64_t count) {
    const T* src = static_cast<const T*>(in) + first;
    T* dst = static_cast<T*>(out) + first;
    for (uint64_t e = 0; e < count; ++e) dst[e] = Op::template of<T>(src[e]);
}

// One op: its loop per dtype, in DType order (float64, float32, int64, int32, uint8);
// nullptr where the op does not take the dtype.
struct MapOp {
    std::string_view name;
    std::array<ApplyFn, 5> by_dtype;
};

template <class F>
constexpr MapOp float_op(std::string_view name) {
    return {name, {&apply<FloatOp<F>, double>, &apply<FloatOp<F>, float>, nullptr, nullptr, nullptr}};
}

template <class Op>
constexpr MapOp any_op(std::string_view name) {
    return {name,
            {&apply<Op, double>, &apply<Op, float>, &apply<Op, int64_t>, &apply<Op, int32_t>, &apply<Op, uint8_t>}};
}

constexpr MapOp kOps[] = {float_op<Exp>("exp"),   float_op<Log>("log"),       float_op<Log1p>("log1p"),
                          float_op<Sqrt>("sqrt"), any_op<Square>("square"),   any_op<Abs>("abs"),
                          any_op<Negative>("negative"), float_op<Sin>("sin"), float_op<Cos>("cos"),
                          float_op<Tanh>("tanh"), float_op<Sigmoid>("sigmoid")};
constexpr const char* kOpList = "exp, log, log1p, sqrt, square, abs, negative, sin, cos, tanh or sigmoid";

const MapOp& parse_op(const nlohmann::json& params) {
    kernels::require_known_params(params, {"op"});
    if (!params.is_object() || !params.contains("op"))
        throw Error(ErrorCode::bad_param, "param 'op' is required: " + std::string(kOpList));
    const auto& value = params.at("op");
    for (const auto& op : kOps)
        if (value.is_string() && op.name == value.get<std::string>()) return op;
    throw Error(ErrorCode::bad_param, "param 'op' must be " + std::string(kOpList) + ", got " + value.dump());
}

// The op's loop for the input's dtype; dtype_mismatch when it takes no such dtype.
ApplyFn loop_for(const MapOp& op, const ArrayMeta& x) {
    ApplyFn fn = op.by_dtype.at(size_t(x.dtype));
    if (!fn)
        throw Error(ErrorCode::dtype_mismatch, "op '" + std::string(op.name) + "' needs a float64 or float32 input 'x', got " +
                                                   std::string(dtype_name(x.dtype)) + " " + x.shape.to_string());
    return fn;
}

class MapRun : public KernelRun {
public:
    MapRun(ApplyFn fn, const ArrayView& x, void* out) : fn_(fn), in_(x.data), out_(out), shape_(x.meta.shape) {}

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, shape_.rows());
        uint64_t row = shape_.row_elems();
        fn_(in_, out_, begin * row, (end - begin) * row);
    }

private:
    ApplyFn fn_;
    const void* in_;
    void* out_;
    Shape shape_;
};

class MapKernel : public Kernel {
public:
    std::string name() const override { return "map"; }
    std::vector<std::string> roles() const override { return {"x"}; }
    nlohmann::json describe_params() const override {
        return {{"op", std::string(kOpList) + "; square, abs and negative also on integers (wrapping)"}};
    }
    std::string description() const override {
        return "y = op(x) elementwise, as NumPy's ufuncs; x any dtype and shape, y the same";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        const ArrayMeta& x = kernels::input_meta(in.inputs, "x");
        loop_for(parse_op(in.params), x);
        return Plan{.output = x, .rows = x.shape.rows()};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        const ArrayView& x = kernels::input_view(ctx, "x");
        ApplyFn fn = loop_for(parse_op(ctx.params), x.meta);
        kernels::require_output(ctx, x.meta);
        return std::make_unique<MapRun>(fn, x, ctx.output.writable);
    }
};

}  // namespace

const Kernel& map_kernel() {
    static const MapKernel kernel;
    return kernel;
}

}  // namespace shmpool
