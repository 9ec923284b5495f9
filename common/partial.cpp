// Combining a job's per-range partials (sum, mean, min, max, argmin, argmax) in range order
// with compensated summation, so the reduced value agrees across chunkings and worker counts.
#include "common/partial.h"

#include <cmath>

namespace shmpool {
namespace {

struct OpName {
    ReduceOp op;
    std::string_view name;
};
constexpr OpName kOps[] = {{ReduceOp::none, "none"}, {ReduceOp::sum, "sum"},       {ReduceOp::mean, "mean"},
                           {ReduceOp::min, "min"},   {ReduceOp::max, "max"},       {ReduceOp::argmin, "argmin"},
                           {ReduceOp::argmax, "argmax"}};

// True when `candidate` should replace `best` as the extreme (NaN first, then ties by index).
bool better(const Partial& candidate, const Reduced& best, bool want_max) {
    if (candidate.index < 0) return false;
    if (best.index < 0) return true;
    if (std::isnan(best.value)) return false;
    if (std::isnan(candidate.value)) return true;
    if (candidate.value == best.value) return candidate.index < best.index;
    return want_max ? candidate.value > best.value : candidate.value < best.value;
}

}  // namespace

std::string_view reduce_op_name(ReduceOp op) {
    for (const auto& o : kOps)
        if (o.op == op) return o.name;
    return "none";
}

std::optional<ReduceOp> reduce_op_from_name(std::string_view name) {
    for (const auto& o : kOps)
        if (o.name == name) return o.op;
    return std::nullopt;
}

void CompensatedSum::add(double x) {
    double t = sum + x;
    if (std::isfinite(t))  // past an inf or NaN the low-order part means nothing (inf - inf)
        comp += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
}

Reduced combine_partials(ReduceOp op, const std::vector<Partial>& parts) {
    Reduced r;
    if (op == ReduceOp::sum || op == ReduceOp::mean) {
        CompensatedSum total;
        for (const auto& p : parts) {
            total.add(p.value);
            total.add(p.compensation);
            r.count += p.count;
        }
        r.value = op == ReduceOp::mean ? total.value() / static_cast<double>(r.count) : total.value();
        return r;
    }
    bool want_max = op == ReduceOp::max || op == ReduceOp::argmax;
    for (const auto& p : parts) {
        r.count += p.count;
        if (better(p, r, want_max)) r.value = p.value, r.index = p.index;
    }
    return r;
}

}  // namespace shmpool
