// What a reducing kernel returns for one range, and how the daemon combines a job's partials:
// once per range, in range order, with compensated summation, so the result is exact-once.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace shmpool {

enum class ReduceOp : uint8_t { none, sum, mean, min, max, argmin, argmax };

std::string_view reduce_op_name(ReduceOp op);
std::optional<ReduceOp> reduce_op_from_name(std::string_view name);

struct Partial {
    double value = 0;         // sum, or the extreme value
    double compensation = 0;  // sum: the low-order part, value + compensation is the sum
    int64_t index = -1;       // min/max/argmin/argmax: flat index of the extreme (-1: none)
    uint64_t count = 0;       // elements this range covered (for mean)
};

struct Reduced {
    double value = 0;
    int64_t index = -1;  // argmin/argmax (and min/max): where
    uint64_t count = 0;
};

// Kahan-Babuska-Neumaier summation: sum + comp carries about twice double's precision.
struct CompensatedSum {
    double sum = 0, comp = 0;
    void add(double x);
    double value() const { return std::isfinite(sum) ? sum + comp : sum; }
};

// Combines per-range partials given in range order. Ties of extremes go to the lowest
// index, and a NaN wins over numbers (as NumPy's min, max, argmin, argmax do).
Reduced combine_partials(ReduceOp op, const std::vector<Partial>& parts);

}  // namespace shmpool
