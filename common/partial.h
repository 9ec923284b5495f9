// What a reducing kernel returns for one range, and how the daemon combines a job's partials:
// once per range, in range order; float sums compensated, integer results exact to the bit.
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

// The kind of number a Partial (and a Reduced) carries; the protocol sends integer kinds as
// exact JSON integers. A kernel picks one kind per job (NumPy's result type):
//   real    a double in `value` (+ `compensation` for sums): float inputs, any mean, plugins
//   int64   `integer` read as int64_t: min/max of integer inputs; the sum of int64, int32
//           inputs modulo 2^64, as NumPy's int64 accumulator wraps
//   uint64  `integer` read as uint64_t: the sum of unsigned inputs (NumPy's uint64 accumulator)
enum class NumberKind : uint8_t { real = 0, int64 = 1, uint64 = 2 };

// One range's share. Trivially copyable: it crosses the control segment in ctl::DoneMsg.
struct Partial {
    NumberKind kind = NumberKind::real;
    double value = 0;         // real: the sum, or the extreme value
    double compensation = 0;  // real sums: the low-order part, value + compensation is the sum
    uint64_t integer = 0;     // int64/uint64: the sum (modulo 2^64) or the extreme, as 64 bits
    int64_t index = -1;       // min/max/argmin/argmax: flat index of the extreme (-1: none)
    uint64_t count = 0;       // elements this range covered (for mean)

    static Partial of_int64(int64_t v, uint64_t count) { return {NumberKind::int64, 0, 0, uint64_t(v), -1, count}; }
    static Partial of_uint64(uint64_t v, uint64_t count) { return {NumberKind::uint64, 0, 0, v, -1, count}; }
};

// A job's combined value: the kind of its partials (real if they disagree).
struct Reduced {
    NumberKind kind = NumberKind::real;
    double value = 0;      // real
    uint64_t integer = 0;  // int64/uint64, as Partial::integer
    int64_t index = -1;    // argmin/argmax (and min/max): where
    uint64_t count = 0;

    bool is_integer() const { return kind != NumberKind::real; }
    // The value as a double (an integer rounded to the nearest double).
    double as_double() const;
};

// Kahan-Babuska-Neumaier summation: sum + comp carries about twice double's precision.
struct CompensatedSum {
    double sum = 0, comp = 0;
    void add(double x);
    double value() const { return std::isfinite(sum) ? sum + comp : sum; }
};

// Combines per-range partials given in range order. Integer sums add modulo 2^64 (exact, in
// any order); real sums are compensated. Ties of extremes go to the lowest index, and a NaN
// wins over numbers (as NumPy's min, max, argmin, argmax do).
Reduced combine_partials(ReduceOp op, const std::vector<Partial>& parts);

}  // namespace shmpool
