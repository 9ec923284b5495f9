// The `map` kernel: y = op(x) elementwise for any dtype and shape, same shape and dtype out;
// ranges over rows (first dim); the loops run on the process's SIMD path (simd/map_loops.h).
#include <span>
#include <string>
#include <string_view>

#include "worker/kernels/builtin.h"
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

using kernels::MapApplyFn;
using kernels::MapOpLoops;

// "exp, log, ... or sigmoid": the ops' names, from the table.
std::string op_list(std::span<const MapOpLoops> ops) {
    std::string list;
    for (size_t i = 0; i < ops.size(); ++i)
        list += (i == 0 ? "" : i + 1 == ops.size() ? " or " : ", ") + std::string(ops[i].name);
    return list;
}

// The op named by the params, in the process's SIMD path's table.
const MapOpLoops& parse_op(const nlohmann::json& params) {
    std::span<const MapOpLoops> ops = kernels::simd_loops().map_ops;
    kernels::require_known_params(params, {"op"});
    if (!params.is_object() || !params.contains("op"))
        throw Error(ErrorCode::bad_param, "param 'op' is required: " + op_list(ops));
    const auto& value = params.at("op");
    for (const MapOpLoops& op : ops)
        if (value.is_string() && op.name == value.get<std::string>()) return op;
    throw Error(ErrorCode::bad_param, "param 'op' must be " + op_list(ops) + ", got " + value.dump());
}

// The op's loop for the input's dtype; dtype_mismatch when it takes no such dtype.
MapApplyFn loop_for(const MapOpLoops& op, const ArrayMeta& x) {
    MapApplyFn fn = op.by_dtype.at(size_t(x.dtype));
    if (!fn)
        throw Error(ErrorCode::dtype_mismatch, "op '" + std::string(op.name) + "' needs a float64 or float32 input 'x', got " +
                                                   std::string(dtype_name(x.dtype)) + " " + x.shape.to_string());
    return fn;
}

class MapRun : public KernelRun {
public:
    MapRun(MapApplyFn fn, const ArrayView& x, void* out) : fn_(fn), in_(x.data), out_(out), shape_(x.meta.shape) {}

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, shape_.rows());
        uint64_t row = shape_.row_elems();
        fn_(in_, out_, begin * row, (end - begin) * row);
    }

private:
    MapApplyFn fn_;
    const void* in_;
    void* out_;
    Shape shape_;
};

class MapKernel : public Kernel {
public:
    std::string name() const override { return "map"; }
    std::vector<std::string> roles() const override { return {"x"}; }
    nlohmann::json describe_params() const override {
        return {{"op", op_list(kernels::simd_loops().map_ops) + "; square, abs and negative also on integers (wrapping)"}};
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
        MapApplyFn fn = loop_for(parse_op(ctx.params), x.meta);
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
