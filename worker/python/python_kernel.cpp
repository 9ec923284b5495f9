// The `python` kernel: plans a Python job in the daemon (no interpreter there: it forks at any
// time) and, in a worker, hands the mapped inputs to the embedded runtime (runtime_api.h).
#include "worker/python/python_kernel.h"

#include "worker/kernels/validate.h"
#include "worker/python/runtime_loader.h"

namespace shmpool {
namespace {

constexpr const char* kCodeRole = "_code";  // the cloudpickled function: a uint8 dataset, put once per job
constexpr uint64_t kMaxRows = 1ull << 53;

void check_python_version(const nlohmann::json& params) {
    auto it = params.find("python");
    if (it == params.end() || !it->is_string())
        throw Error(ErrorCode::bad_param, "param 'python' must be the client's Python version \"major.minor\"");
    if (it->get<std::string>() != SHMPOOL_PYTHON_MINOR)
        throw Error(ErrorCode::python_version_mismatch,
                    "the client runs Python " + it->get<std::string>() + " but the workers embed Python " +
                        SHMPOOL_PYTHON_MINOR + ": pickled bytecode differs between minor versions");
}

// Exactly one of: a `function` param "module:function", or the pickled code as input _code.
void check_code(const PlanInput& in) {
    auto fn = in.params.find("function");
    bool has_code = in.inputs.count(kCodeRole) > 0;
    if (fn != in.params.end()) {
        std::string text = fn->is_string() ? fn->get<std::string>() : "";
        size_t colon = text.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
            throw Error(ErrorCode::bad_param, "param 'function' must be \"module:function\"");
        if (has_code) throw Error(ErrorCode::bad_param, "give either param 'function' or input '_code', not both");
        return;
    }
    if (!has_code) throw Error(ErrorCode::missing_role, "a python job needs input '_code' or param 'function'");
    const ArrayMeta& code = in.inputs.at(kCodeRole);
    kernels::require_dtype(kCodeRole, code, DType::uint8);
    kernels::require_ndim(kCodeRole, code, 1);
}

// "sparse": {name: [rows, cols]}: inputs name__data, name__indices, name__indptr make one CSR matrix.
void check_sparse(const PlanInput& in) {
    auto it = in.params.find("sparse");
    if (it == in.params.end() || it->is_null()) return;
    if (!it->is_object()) throw Error(ErrorCode::bad_param, "param 'sparse' must be {name: [rows, cols]}");
    for (const auto& [name, shape] : it->items()) {
        if (!shape.is_array() || shape.size() != 2)
            throw Error(ErrorCode::bad_param, "param 'sparse': '" + name + "' needs [rows, cols]");
        for (const char* part : {"__data", "__indices", "__indptr"}) {
            const ArrayMeta& meta = kernels::input_meta(in.inputs, name + part);
            kernels::require_ndim(name + part, meta, 1);
        }
    }
}

std::optional<ArrayMeta> output_param(const nlohmann::json& params, uint64_t limit) {
    auto it = params.find("output");
    if (it == params.end() || it->is_null()) return std::nullopt;
    if (!it->is_object() || !(*it)["dtype"].is_string() || !(*it)["shape"].is_array())
        throw Error(ErrorCode::bad_param, "param 'output' must be {\"dtype\": name, \"shape\": [dims]}");
    auto dtype = dtype_from_name((*it)["dtype"].get<std::string>());
    if (!dtype) throw Error(ErrorCode::dtype_mismatch, "param 'output': unknown dtype " + (*it)["dtype"].dump());
    const auto& dims_json = (*it)["shape"];
    if (dims_json.size() > kMaxDims) throw Error(ErrorCode::bad_shape, "param 'output': at most 4 dims");
    uint64_t dims[kMaxDims] = {};
    for (size_t i = 0; i < dims_json.size(); ++i)
        dims[i] = static_cast<uint64_t>(kernels::number_value("output.shape[" + std::to_string(i) + "]", dims_json[i],
                                                              1, static_cast<double>(kMaxRows)));
    return ArrayMeta{*dtype, make_shape(dims, static_cast<int>(dims_json.size()), *dtype, limit)};
}

ReduceOp reduce_param(const nlohmann::json& params) {
    auto it = params.find("reduce");
    if (it == params.end() || it->is_null()) return ReduceOp::none;
    auto op = it->is_string() ? reduce_op_from_name(it->get<std::string>()) : std::nullopt;
    if (!op || (*op != ReduceOp::sum && *op != ReduceOp::min && *op != ReduceOp::max))
        throw Error(ErrorCode::bad_param, "param 'reduce' must be \"sum\", \"min\" or \"max\"");
    return *op;
}

python::Array array_of(const std::string& role, const ArrayView& view) {
    python::Array a{role, std::string(dtype_name(view.meta.dtype)), {}, view.data, view.writable, 0};
    for (int i = 0; i < view.meta.shape.ndim; ++i) a.shape.push_back(view.meta.shape.dims[i]);
    a.bytes = checked_bytes(view.meta.shape, view.meta.dtype);
    return a;
}

class PythonKernel : public Kernel {
public:
    std::string name() const override { return "python"; }
    std::vector<std::string> roles() const override { return {}; }
    bool any_roles() const override { return true; }
    bool runs_client_code() const override { return true; }
    nlohmann::json describe_params() const override {
        return {{"rows", "the index space [0, rows) split into ranges (integer >= 1)"},
                {"python", "the client's Python \"major.minor\"; must be the workers' (" SHMPOOL_PYTHON_MINOR ")"},
                {"function", "\"module:function\" importable in the workers (else input _code: a cloudpickled callable)"},
                {"output", "{\"dtype\", \"shape\"}: a writable output array the function fills (optional)"},
                {"reduce", "\"sum\", \"min\" or \"max\" of the numbers the function returns (optional; ints "
                           "exact in int64, NumPy unsigned in uint64, a mix with floats a float)"},
                {"args", "any JSON, handed to the function as `params` (optional)"},
                {"sparse", "{name: [rows, cols]}: inputs name__data, name__indices, name__indptr are one CSR "
                           "matrix, handed to the function as `name` (scipy.sparse.csr_matrix, no copy)"},
                {"map", "true: _code is the pickled (function, items); each range returns [fn(item, **inputs)] "
                        "as a result object (job.result)"}};
    }
    std::string description() const override {
        return "runs a user's Python function fn(begin, end, **inputs, out=..., params=...) per range "
               "(docs/python.md); inputs by any role names";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_known_params(in.params, {"rows", "python", "function", "output", "reduce", "args", "map",
                                                  "sparse"});
        check_sparse(in);
        if (kernels::param_bool(in.params, "map", false) && !in.inputs.count(kCodeRole))
            throw Error(ErrorCode::missing_role, "a python map job needs input '_code': the pickled (function, items)");
        check_python_version(in.params);
        check_code(in);
        Plan plan;
        plan.rows = kernels::param_count(in.params, "rows", 0, 1, kMaxRows);
        plan.output = output_param(in.params, UINT64_MAX);
        plan.reduce = reduce_param(in.params);
        return plan;
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        const python::Runtime& rt = python::runtime();
        python::Job job;
        job.package_dir = rt.package_dir;
        job.function = ctx.params.value("function", "");
        for (const auto& [role, view] : ctx.inputs) {
            if (role == kCodeRole) {
                job.code = view.data, job.code_bytes = view.meta.shape.elems();
                continue;
            }
            job.inputs.push_back(array_of(role, view));
        }
        if (ctx.output.writable) job.output = array_of("out", ctx.output);
        job.reduce = ctx.params.value("reduce", "");
        job.map = kernels::param_bool(ctx.params, "map", false);
        job.args_json = ctx.params.contains("args") ? ctx.params["args"].dump() : "null";
        job.sparse_json = ctx.params.contains("sparse") ? ctx.params["sparse"].dump() : "null";
        job.rows = kernels::param_count(ctx.params, "rows", 0, 1, kMaxRows);
        return std::unique_ptr<KernelRun>(rt.start(job));
    }
};

}  // namespace

const Kernel& python_kernel() {
    static const PythonKernel kernel;
    return kernel;
}

}  // namespace shmpool
