// libFuzzer target for request parsing and argument validation: any line must parse or throw
// shmpool::Error; the validators (names, dtype, shape, inline data, kernel plans) likewise.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/names.h"
#include "common/protocol.h"
#include "server/api/request_names.h"
#include "server/datasets/inline_data.h"
#include "worker/kernel.h"

namespace {

using shmpool::ArrayMeta;
using shmpool::DType;

constexpr uint64_t kMaxFuzzBytes = 1 << 20;  // like put_inline's bound, so the fuzzer stays small

// "metas": {"role": {"dtype": ..., "shape": [...]}} stands in for the datasets a job names.
std::map<std::string, ArrayMeta> fuzz_metas(const nlohmann::json& body) {
    std::map<std::string, ArrayMeta> metas;
    const auto& obj = shmpool::require_object(body, "metas");
    for (const auto& [role, m] : obj.items()) {
        ArrayMeta meta;
        meta.dtype = shmpool::require_dtype(m, "dtype");
        meta.shape = shmpool::require_shape(m, "shape", meta.dtype, 1ull << 40);
        metas.emplace(role, meta);
    }
    return metas;
}

// A kernel's plan must either throw Error or describe an output whose size is checked.
void check_plan(const nlohmann::json& body) {
    const shmpool::Kernel* kernel = shmpool::find_kernel(shmpool::require_string(body, "kernel"));
    if (!kernel) return;
    auto metas = fuzz_metas(body);
    nlohmann::json params = body.contains("params") ? body["params"] : nlohmann::json::object();
    if (!params.is_object()) return;
    shmpool::Plan plan = kernel->plan(shmpool::PlanInput{params, metas});
    if (plan.output) shmpool::checked_bytes(plan.output->shape, plan.output->dtype);
}

void check_inline(const nlohmann::json& body) {
    DType t = body.contains("dtype") ? shmpool::require_dtype(body, "dtype") : DType::float64;
    shmpool::Shape s = shmpool::inline_shape(body["data"], t, kMaxFuzzBytes);
    std::vector<char> dst(shmpool::checked_bytes(s, t));
    shmpool::write_inline(body["data"], t, s, dst.data());
    nlohmann::json back = shmpool::read_inline(dst.data(), t, s);
    if (!back.is_array()) std::abort();
}

// Dataset names ("X", "<user>/X") and share lists ("with", put's "share") as the handlers read them.
void check_names(const nlohmann::json& body) {
    if (auto name = shmpool::optional_string(body, "name")) {
        shmpool::DatasetName n = shmpool::parse_dataset_name(*name, 1000);
        shmpool::check_dataset_name(n.name);
    }
    for (const char* key : {"with", "share"}) {
        if (!body.contains(key)) continue;
        shmpool::DatasetShares shares;
        shmpool::apply_share_list(shares, body[key], true);
        shmpool::apply_share_list(shares, body[key], false);
        if (!shares.users.empty() || !shares.groups.empty() || shares.all) std::abort();  // unshare undoes share
    }
}

void validate(const shmpool::Request& req) {
    const nlohmann::json& body = req.body;
    check_names(body);
    if (body.contains("shape")) {
        DType t = shmpool::require_dtype(body, "dtype");
        shmpool::require_shape(body, "shape", t, kMaxFuzzBytes);
    }
    if (body.contains("data")) check_inline(body);
    if (body.contains("kernel")) check_plan(body);
    shmpool::optional_u64(body, "chunk");
    shmpool::optional_bool(body, "wait", false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string line(reinterpret_cast<const char*>(data), size);
    nlohmann::json id;
    try {
        shmpool::Request req = shmpool::parse_request(line, &id);
        shmpool::reply_error(id, shmpool::ErrorCode::bad_request, "x").dump();
        validate(req);
    } catch (const shmpool::Error&) {
    } catch (const nlohmann::json::exception&) {  // the router answers these as bad_request
    }
    return 0;
}
