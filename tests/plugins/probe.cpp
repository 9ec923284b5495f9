// Test plugin (C++, valid) with two kernels: `plugin_sum` reduces a float64 vector (sum, mean
// or max through the C partial), `plugin_crash` crashes, hangs or fails in plan, start or run.
#include <shmpool/kernel.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

int32_t fail(int32_t code, char* message, uint32_t bytes, const std::string& text) {
    std::snprintf(message, bytes, "%s", text.c_str());
    return code;
}

// --------------------------------------------------------------------------- plugin_sum

struct SumState {
    const double* x;
    uint64_t n;
    uint32_t op;
};

// params: {} (sum) or {"op":"sum"|"mean"|"max"}, compact with sorted keys as the daemon sends them.
bool sum_op(const char* params, uint32_t* op) {
    std::string p = params;
    if (p == "{}" || p == R"({"op":"sum"})") *op = SHMPOOL_REDUCE_SUM;
    else if (p == R"({"op":"mean"})") *op = SHMPOOL_REDUCE_MEAN;
    else if (p == R"({"op":"max"})") *op = SHMPOOL_REDUCE_MAX;
    else return false;
    return true;
}

int32_t sum_plan(const char* params, const shmpool_input_meta* in, uint32_t, shmpool_plan* plan, char* message,
                 uint32_t bytes) {
    if (!sum_op(params, &plan->reduce)) return fail(SHMPOOL_ERR_BAD_PARAM, message, bytes, "bad op in " + std::string(params));
    if (in[0].meta.dtype != SHMPOOL_DTYPE_FLOAT64) return fail(SHMPOOL_ERR_DTYPE_MISMATCH, message, bytes, "x must be float64");
    if (in[0].meta.ndim != 1) return fail(SHMPOOL_ERR_SHAPE_MISMATCH, message, bytes, "x must have 1 dim");
    plan->rows = in[0].meta.dims[0];
    return SHMPOOL_OK;
}

int32_t sum_start(const shmpool_job* job, void** state, char*, uint32_t) {
    auto* s = new SumState{static_cast<const double*>(job->inputs[0].data), job->inputs[0].meta.dims[0], 0};
    sum_op(job->params_json, &s->op);
    *state = s;
    return SHMPOOL_OK;
}

int32_t sum_run(void* state, uint64_t begin, uint64_t end, shmpool_partial* partial, char*, uint32_t) {
    const auto* s = static_cast<const SumState*>(state);
    for (uint64_t i = begin; i < end; ++i) {
        if (s->op != SHMPOOL_REDUCE_MAX) partial->value += s->x[i];
        else if (partial->index < 0 || s->x[i] > partial->value) partial->value = s->x[i], partial->index = int64_t(i);
    }
    partial->count = end - begin;
    return SHMPOOL_OK;
}

void sum_finish(void* state) { delete static_cast<SumState*>(state); }

// --------------------------------------------------------------------------- plugin_crash

volatile uintptr_t kBadAddress = 8;  // a real fault: a raised signal may be blocked, a fault is not

// params {"how":"segv"|"error"|"hang","where":"plan"|"start"|"run"}; {} does nothing.
int32_t misbehave(const char* params, const char* step, char* message, uint32_t bytes) {
    std::string p = params, where = std::string(R"("where":")") + step + "\"";
    if (p.find(where) == std::string::npos) return SHMPOOL_OK;
    if (p.find(R"("how":"segv")") != std::string::npos) *reinterpret_cast<volatile int*>(kBadAddress) = 1;
    if (p.find(R"("how":"hang")") != std::string::npos)
        for (;;) pause();
    return fail(SHMPOOL_ERR_BAD_PARAM, message, bytes, std::string("plugin_crash failed on purpose in ") + step);
}

int32_t crash_plan(const char* params, const shmpool_input_meta*, uint32_t, shmpool_plan* plan, char* message,
                   uint32_t bytes) {
    plan->rows = 8;
    return misbehave(params, "plan", message, bytes);
}

int32_t crash_start(const shmpool_job* job, void** state, char* message, uint32_t bytes) {
    *state = const_cast<char*>(job->params_json);  // valid until finish
    return misbehave(job->params_json, "start", message, bytes);
}

int32_t crash_run(void* state, uint64_t, uint64_t, shmpool_partial*, char* message, uint32_t bytes) {
    return misbehave(static_cast<const char*>(state), "run", message, bytes);
}

const char* const kSumRoles[] = {"x", nullptr};
const char* const kNoRoles[] = {nullptr};

const shmpool_kernel kKernels[] = {
    {"plugin_sum", kSumRoles, R"({"op": "sum (default), mean or max"})", "reduces a float64 vector x",
     sum_plan, sum_start, sum_run, sum_finish},
    {"plugin_crash", kNoRoles, R"({"how": "segv, error or hang", "where": "plan, start or run"})",
     "misbehaves on request over 8 rows (tests)", crash_plan, crash_start, crash_run, nullptr},
};

const shmpool_plugin_info kInfo = {SHMPOOL_KERNEL_ABI_VERSION, 2, kKernels};

}  // namespace

extern "C" const shmpool_plugin_info* shmpool_plugin(void) { return &kInfo; }
