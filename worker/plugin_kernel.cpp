// A kernel from a plugin: adapts one C descriptor of include/shmpool/kernel.h to the Kernel
// interface. Its plan runs in a short-lived child process, its start/run/finish in workers.
#include "worker/plugin_kernel.h"

#include <cctype>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "common/control.h"
#include "common/error.h"
#include "worker/kernels/validate.h"
#include "worker/plugin_plan.h"

namespace shmpool {

// The C codes are the C++ enums' values, and the C limits are the control segment's.
static_assert(uint32_t(DType::float64) == SHMPOOL_DTYPE_FLOAT64 && uint32_t(DType::float32) == SHMPOOL_DTYPE_FLOAT32 &&
              uint32_t(DType::int64) == SHMPOOL_DTYPE_INT64 && uint32_t(DType::int32) == SHMPOOL_DTYPE_INT32 &&
              uint32_t(DType::uint8) == SHMPOOL_DTYPE_UINT8);
static_assert(uint32_t(ReduceOp::none) == SHMPOOL_REDUCE_NONE && uint32_t(ReduceOp::sum) == SHMPOOL_REDUCE_SUM &&
              uint32_t(ReduceOp::mean) == SHMPOOL_REDUCE_MEAN && uint32_t(ReduceOp::min) == SHMPOOL_REDUCE_MIN &&
              uint32_t(ReduceOp::max) == SHMPOOL_REDUCE_MAX && uint32_t(ReduceOp::argmin) == SHMPOOL_REDUCE_ARGMIN &&
              uint32_t(ReduceOp::argmax) == SHMPOOL_REDUCE_ARGMAX);
static_assert(kMaxDims == SHMPOOL_MAX_DIMS && ctl::kMaxRoles >= SHMPOOL_MAX_ROLES &&
              ctl::kKernelNameBytes == SHMPOOL_NAME_BYTES && ctl::kRoleBytes == SHMPOOL_ROLE_BYTES);

namespace {

// 1..max_bytes-1 characters of [A-Za-z0-9_.-]: safe in JSON, the CLI and the control segment.
std::string identifier(const char* text, uint32_t max_bytes, const std::string& what) {
    if (!text) throw std::invalid_argument(what + " is NULL");
    std::string s(text, strnlen(text, max_bytes));
    if (s.empty() || s.size() >= max_bytes)
        throw std::invalid_argument(what + " must have 1 to " + std::to_string(max_bytes - 1) + " characters");
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
            throw std::invalid_argument(what + " '" + s + "' may hold only letters, digits, '_', '.' and '-'");
    return s;
}

std::vector<std::string> role_names(const char* const* roles) {
    std::vector<std::string> names;
    for (uint32_t i = 0; roles && roles[i]; ++i) {
        if (i == SHMPOOL_MAX_ROLES) throw std::invalid_argument("more than " + std::to_string(i) + " roles");
        names.push_back(identifier(roles[i], SHMPOOL_ROLE_BYTES, "role " + std::to_string(i)));
        for (uint32_t j = 0; j < i; ++j)
            if (names[j] == names[i]) throw std::invalid_argument("role '" + names[i] + "' appears twice");
    }
    return names;
}

nlohmann::json params_description(const char* text) {
    if (!text) return nlohmann::json::object();
    nlohmann::json params = nlohmann::json::parse(text, nullptr, false);  // invalid UTF-8 is a parse error too
    if (!params.is_object()) throw std::invalid_argument("params_json is not a JSON object: " + std::string(text));
    return params;
}

std::string utf8_text(const char* text, const std::string& what) {
    std::string s = text ? text : "";
    try {
        (void)nlohmann::json(s).dump();  // throws on invalid UTF-8, which no reply could carry
    } catch (const nlohmann::json::exception&) {
        throw std::invalid_argument(what + " is not valid UTF-8");
    }
    return s;
}

// A callback's message as printable ASCII (any other byte becomes '?'), or `fallback`.
std::string message_text(const char* buffer, size_t size, const std::string& fallback) {
    std::string s(buffer, strnlen(buffer, size));
    for (char& c : s)
        if (c < 0x20 || c > 0x7e) c = '?';
    return s.empty() ? fallback : s;
}

shmpool_meta c_meta(const ArrayMeta& meta) {
    shmpool_meta out{static_cast<uint32_t>(meta.dtype), static_cast<uint32_t>(meta.shape.ndim), {}};
    for (int i = 0; i < meta.shape.ndim; ++i) out.dims[i] = meta.shape.dims[i];
    return out;
}

// The output a plan asked for, checked like a client's shape (bad_shape, too_large).
ArrayMeta planned_output(const shmpool_meta& m, const std::string& who) {
    if (m.dtype > SHMPOOL_DTYPE_UINT8)
        throw Error(ErrorCode::internal, who + " planned an output of unknown dtype code " + std::to_string(m.dtype));
    if (m.ndim < 1 || m.ndim > SHMPOOL_MAX_DIMS)
        throw Error(ErrorCode::internal, who + " planned an output of " + std::to_string(m.ndim) + " dims");
    ArrayMeta meta;
    meta.dtype = static_cast<DType>(m.dtype);
    try {
        meta.shape = make_shape(m.dims, static_cast<int>(m.ndim), meta.dtype, std::numeric_limits<uint64_t>::max());
    } catch (const Error& e) {
        throw Error(e.code(), who + " planned an output it cannot have: " + e.what());
    }
    return meta;
}

ErrorCode plan_error_code(int32_t status) {
    switch (status) {
        case SHMPOOL_ERR_BAD_PARAM: return ErrorCode::bad_param;
        case SHMPOOL_ERR_DTYPE_MISMATCH: return ErrorCode::dtype_mismatch;
        case SHMPOOL_ERR_SHAPE_MISMATCH: return ErrorCode::shape_mismatch;
        case SHMPOOL_ERR_BAD_SHAPE: return ErrorCode::bad_shape;
        case SHMPOOL_ERR_TOO_LARGE: return ErrorCode::too_large;
        default: return ErrorCode::internal;  // SHMPOOL_ERR_FAILED or a code of no meaning: the plugin's bug
    }
}

// One job in a worker: the views the C callbacks see (valid until finish), the plugin's
// state, and a message buffer reused by every range.
class PluginRun : public KernelRun {
public:
    PluginRun(const shmpool_kernel& desc, const RunContext& ctx, const std::string& who)
        : desc_(desc), who_(who), params_(ctx.params.dump()) {
        for (uint32_t i = 0; desc.roles && desc.roles[i]; ++i) {
            const ArrayView& in = kernels::input_view(ctx, desc.roles[i]);
            inputs_.push_back(shmpool_view{desc.roles[i], c_meta(in.meta), in.data, nullptr});
        }
        job_.params_json = params_.c_str();
        job_.n_inputs = static_cast<uint32_t>(inputs_.size());
        job_.inputs = inputs_.data();
        if (ctx.output.writable) job_.output = shmpool_view{nullptr, c_meta(ctx.output.meta), ctx.output.writable,
                                                            ctx.output.writable};
        message_[0] = '\0';
        check("start", desc.start(&job_, &state_, message_, sizeof message_));
        started_ = true;
    }
    ~PluginRun() override {
        if (started_ && desc_.finish) desc_.finish(state_);
    }

    void run(uint64_t begin, uint64_t end) override { reduce(begin, end); }
    Partial reduce(uint64_t begin, uint64_t end) override {
        shmpool_partial p{0, 0, -1, 0};
        message_[0] = '\0';
        check("run", desc_.run(state_, begin, end, &p, message_, sizeof message_));
        return Partial{.value = p.value, .compensation = p.compensation, .index = p.index, .count = p.count};  // plugins: real
    }

private:
    void check(const char* step, int32_t status) {
        if (status == SHMPOOL_OK) return;
        std::string fallback = who_ + ": " + step + " failed with code " + std::to_string(status);
        throw KernelError(message_text(message_, sizeof message_, fallback));
    }

    const shmpool_kernel& desc_;
    std::string who_;
    std::string params_;
    std::vector<shmpool_view> inputs_;
    shmpool_job job_{};
    void* state_ = nullptr;
    bool started_ = false;
    char message_[SHMPOOL_MESSAGE_BYTES] = {};
};

}  // namespace

PluginKernel::PluginKernel(const shmpool_kernel& desc, std::string file)
    : desc_(desc),
      file_(std::move(file)),
      name_(identifier(desc.name, SHMPOOL_NAME_BYTES, "the kernel name")),
      roles_(role_names(desc.roles)),
      params_(params_description(desc.params_json)),
      description_(utf8_text(desc.description, "the description")) {
    if (name_.starts_with('_')) throw std::invalid_argument("kernel names starting with '_' are the daemon's own");
    if (!desc.plan || !desc.start || !desc.run)
        throw std::invalid_argument("kernel '" + name_ + "' lacks a plan, start or run callback");
}

Plan PluginKernel::plan(const PlanInput& in) const {
    kernels::require_roles(in.inputs, roles_);
    std::vector<shmpool_input_meta> inputs;
    for (uint32_t i = 0; i < roles_.size(); ++i)
        inputs.push_back({desc_.roles[i], c_meta(kernels::input_meta(in.inputs, roles_[i]))});
    std::string who = "plugin kernel '" + name_ + "' (" + file_ + ")";
    PlanReply reply = plan_in_child(desc_, in.params.is_null() ? "{}" : in.params.dump(), inputs, who);
    if (reply.status != SHMPOOL_OK)
        throw Error(plan_error_code(reply.status),
                    message_text(reply.message, sizeof reply.message,
                                 who + ": plan failed with code " + std::to_string(reply.status)));
    if (reply.plan.reduce > SHMPOOL_REDUCE_ARGMAX)
        throw Error(ErrorCode::internal, who + " planned unknown reduce code " + std::to_string(reply.plan.reduce));
    Plan plan{.output = std::nullopt, .rows = reply.plan.rows, .reduce = static_cast<ReduceOp>(reply.plan.reduce)};
    if (reply.plan.has_output) plan.output = planned_output(reply.plan.output, who);
    return plan;
}

std::unique_ptr<KernelRun> PluginKernel::start(const RunContext& ctx) const {
    return std::make_unique<PluginRun>(desc_, ctx, name_);
}

}  // namespace shmpool
