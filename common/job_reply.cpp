// A job's description in replies (docs/protocol.md, "job objects"): one function writes it for
// the daemon's job verbs and for shmpool-mpi's --json, so both always carry the same fields.
#include "common/job_reply.h"

#include <cmath>

namespace shmpool {

nlohmann::json json_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

// A reduced value: an exact JSON integer for integer kinds, else a double (or its name).
nlohmann::json json_value(const Reduced& r) {
    switch (r.kind) {
        case NumberKind::int64: return static_cast<int64_t>(r.integer);
        case NumberKind::uint64: return r.integer;
        case NumberKind::real: break;
    }
    return json_number(r.value);
}

nlohmann::json job_reply_json(const JobReport& r) {
    nlohmann::json j = {
        {"job", r.id},
        {"kernel", r.kernel},
        {"state", r.state},
        {"rows", r.rows},
        {"chunk", r.chunk},
        {"ranges", r.ranges},
        {"ranges_done", r.ranges_done},
        {"ranges_requeued", r.ranges_requeued},
        {"duplicate_completions", r.duplicates},
        {"queued_s", r.queued_s},
        {"run_s", r.run_s},
        {"output", r.output},
        {"error", nullptr},
    };
    if (r.reduce != ReduceOp::none) {
        j["reduce"] = reduce_op_name(r.reduce);
        j["value"] = r.reduced ? json_value(*r.reduced) : nlohmann::json(nullptr);
        if (r.reduced && r.reduce != ReduceOp::sum && r.reduce != ReduceOp::mean) j["index"] = r.reduced->index;
    }
    if (r.error) j["error"] = {{"code", error_code_name(r.error->code)}, {"message", r.error->message}};
    return j;
}

}  // namespace shmpool
