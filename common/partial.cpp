// Combining a job's per-range partials (sum, mean, min, max, argmin, argmax) in range order:
// compensated real sums, integer sums modulo 2^64, extremes compared exactly within their kind.
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

double integer_as_double(NumberKind kind, uint64_t bits) {
    return kind == NumberKind::uint64 ? static_cast<double>(bits) : static_cast<double>(static_cast<int64_t>(bits));
}

// The kind every partial that covered elements agrees on; real when they disagree.
NumberKind common_kind(const std::vector<Partial>& parts) {
    std::optional<NumberKind> kind;
    for (const auto& p : parts) {
        if (p.count == 0) continue;
        if (kind && *kind != p.kind) return NumberKind::real;
        kind = p.kind;
    }
    return kind.value_or(NumberKind::real);
}

// Adds a partial's sum as a pair of doubles; an integer one exactly (high part + remainder).
void add_real(CompensatedSum& total, const Partial& p) {
    if (p.kind == NumberKind::real) {
        total.add(p.value);
        total.add(p.compensation);
        return;
    }
    double high = integer_as_double(p.kind, p.integer);
    __int128 exact = p.kind == NumberKind::uint64 ? __int128(p.integer) : __int128(int64_t(p.integer));
    total.add(high);
    total.add(static_cast<double>(exact - static_cast<__int128>(high)));
}

Reduced combine_sums(ReduceOp op, NumberKind kind, const std::vector<Partial>& parts) {
    Reduced r;
    if (op == ReduceOp::sum && kind != NumberKind::real) {
        r.kind = kind;
        for (const auto& p : parts) r.integer += p.integer, r.count += p.count;  // wraps modulo 2^64
        return r;
    }
    CompensatedSum total;
    for (const auto& p : parts) add_real(total, p), r.count += p.count;
    r.value = op == ReduceOp::mean ? total.value() / static_cast<double>(r.count) : total.value();
    return r;
}

// -1, 0, 1 as a < b, a == b, a > b for two non-NaN values of one kind (doubles otherwise).
int compare(const Partial& a, const Reduced& b, NumberKind kind) {
    if (kind == NumberKind::int64) {
        int64_t x = int64_t(a.integer), y = int64_t(b.integer);
        return (x > y) - (x < y);
    }
    if (kind == NumberKind::uint64) return (a.integer > b.integer) - (a.integer < b.integer);
    return (a.value > b.value) - (a.value < b.value);
}

bool is_nan(const Partial& p) { return p.kind == NumberKind::real && std::isnan(p.value); }
bool is_nan(const Reduced& r) { return r.kind == NumberKind::real && std::isnan(r.value); }

// True when `candidate` should replace `best` as the extreme (NaN first, then ties by index).
bool better(const Partial& candidate, const Reduced& best, bool want_max, NumberKind kind) {
    if (candidate.index < 0) return false;
    if (best.index < 0) return true;
    if (is_nan(best)) return false;
    if (is_nan(candidate)) return true;
    int c = compare(candidate, best, kind);
    if (c == 0) return candidate.index < best.index;
    return want_max ? c > 0 : c < 0;
}

Reduced combine_extremes(ReduceOp op, NumberKind kind, const std::vector<Partial>& parts) {
    bool want_max = op == ReduceOp::max || op == ReduceOp::argmax;
    Reduced r;
    r.kind = kind;
    for (Partial p : parts) {
        r.count += p.count;
        if (kind == NumberKind::real && p.kind != NumberKind::real)  // kinds disagree: as doubles
            p = Partial{NumberKind::real, integer_as_double(p.kind, p.integer), 0, 0, p.index, p.count};
        if (better(p, r, want_max, kind)) r.value = p.value, r.integer = p.integer, r.index = p.index;
    }
    return r;
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

double Reduced::as_double() const { return is_integer() ? integer_as_double(kind, integer) : value; }

void CompensatedSum::add(double x) {
    double t = sum + x;
    if (std::isfinite(t))  // past an inf or NaN the low-order part means nothing (inf - inf)
        comp += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
}

Reduced combine_partials(ReduceOp op, const std::vector<Partial>& parts) {
    NumberKind kind = common_kind(parts);
    if (op == ReduceOp::sum || op == ReduceOp::mean) return combine_sums(op, kind, parts);
    return combine_extremes(op, kind, parts);
}

}  // namespace shmpool
