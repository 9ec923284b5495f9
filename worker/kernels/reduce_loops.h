// The loops of the reduce kernel, per element type: compensated or exact sums and NumPy's
// extremes (first NaN wins, ties to the lowest index); the float spans' per SIMD path (simd/loops.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "common/partial.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace reduce_loops {

// ---------------------------------------------------------------------------------- sums

inline double select_of(bool take_b, double a, double b) { return take_b ? b : a; }
inline DoubleVec select_of(const DoubleVec::mask_type& take_b, DoubleVec a, const DoubleVec& b) {
    stdx::where(take_b, a) = b;
    return a;
}

// Neumaier's step, the same as CompensatedSum::add, on a double or on DoubleVec lanes.
template <class V>
inline void neumaier_add(V& sum, V& comp, const V& x) {
    V t = sum + x;
    comp += select_of(abs_of(sum) < abs_of(x), (sum - t) + x, (x - t) + sum);
    sum = t;
}

// Σ p[k] of float (or integer, for a mean) elements converted to double: Neumaier per lane,
// lanes folded compensated. The running sums alone carry inf and NaN as IEEE does.
template <class T>
SumParts float_sum(const T* p, uint64_t n) {
    constexpr uint64_t kLanes = DoubleVec::size();
    DoubleVec sum(0.0), comp(0.0);
    uint64_t k = 0;
    for (; k + kLanes <= n; k += kLanes) neumaier_add(sum, comp, DoubleVec(p + k, stdx::element_aligned));
    double tail_sum = 0, tail_comp = 0;
    for (; k < n; ++k) neumaier_add(tail_sum, tail_comp, double(p[k]));
    double plain = tail_sum;
    CompensatedSum total;
    for (uint64_t l = 0; l < kLanes; ++l) plain += sum[l], total.add(sum[l]), total.add(comp[l]);
    total.add(tail_sum);
    total.add(tail_comp);
    if (!std::isfinite(plain)) return {plain, 0};
    return {total.sum, total.comp};
}

// The exact sum of integer elements (no overflow below 2^64 elements).
template <class T>
__int128 int_sum(const T* p, uint64_t n) {
    __int128 total = 0;
    if constexpr (sizeof(T) < 8) {
        constexpr uint64_t kBlock = uint64_t(1) << 24;  // |Σ| < 2^24·2^31: exact in int64, vectorizes
        for (uint64_t first = 0; first < n; first += kBlock) {
            int64_t block = 0;
            for (uint64_t k = first; k < std::min(n, first + kBlock); ++k) block += p[k];
            total += block;
        }
    } else {
        for (uint64_t k = 0; k < n; ++k) total += p[k];
    }
    return total;
}

// An exact integer as value + comp (exact below 2^106).
inline SumParts parts_of(__int128 sum) {
    double value = double(sum);
    return {value, double(sum - __int128(value))};
}

template <class T>
SumParts span_sum(const T* p, uint64_t n) {
    if constexpr (std::is_floating_point_v<T>) return float_sum(p, n);
    else return parts_of(int_sum(p, n));
}

// Column sums: sum[c] + comp[c] = Σ_j p[j·stride + c] for c < count, j < len (Neumaier).
template <class T>
void column_float_sums(const T* p, uint64_t len, uint64_t stride, uint64_t count, double* sum, double* comp) {
    std::fill(sum, sum + count, 0.0);
    std::fill(comp, comp + count, 0.0);
    for (uint64_t j = 0; j < len; ++j) {
        const T* row = p + j * stride;
        for (uint64_t c = 0; c < count; ++c) neumaier_add(sum[c], comp[c], double(row[c]));
    }
}

// Integer column sums modulo 2^64, as NumPy's int64 accumulator wraps.
template <class T>
void column_int_sums(const T* p, uint64_t len, uint64_t stride, uint64_t count, uint64_t* acc) {
    std::fill(acc, acc + count, uint64_t(0));
    for (uint64_t j = 0; j < len; ++j) {
        const T* row = p + j * stride;
        for (uint64_t c = 0; c < count; ++c) acc[c] += uint64_t(int64_t(row[c]));
    }
}

// The sum of a Neumaier pair; the running sum alone when it is inf or NaN.
inline double sum_value(double sum, double comp) { return std::isfinite(sum) ? sum + comp : sum; }

// ---------------------------------------------------------------------------------- extremes

template <class T>
bool is_nan(T v) {
    if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
    else return (void)v, false;
}

// True when v replaces `best` seen earlier: strictly better, or the first NaN.
template <bool Max, class T>
bool improves(T v, T best) {
    bool better = Max ? v > best : v < best;
    if constexpr (std::is_floating_point_v<T>) return better | ((v != v) & (best == best));  // branch-free
    else return better;
}

// The extreme of a block by vector min/max, and whether the block holds a NaN.
template <bool Max, class T>
std::pair<T, bool> block_extreme(const T* p, uint64_t n) {
    using V = stdx::native_simd<T>;
    constexpr uint64_t kLanes = V::size();
    T best = p[0];
    bool nan = false;
    uint64_t k = 0;
    if (n >= kLanes) {
        V acc(p, stdx::element_aligned);
        typename V::mask_type nans = acc != acc;
        for (k = kLanes; k + kLanes <= n; k += kLanes) {
            V x(p + k, stdx::element_aligned);
            nans |= x != x;
            acc = Max ? stdx::max(acc, x) : stdx::min(acc, x);
        }
        nan = stdx::any_of(nans);
        best = Max ? stdx::hmax(acc) : stdx::hmin(acc);
    }
    for (; k < n; ++k) {
        nan |= is_nan(p[k]);
        best = Max ? std::max(best, p[k]) : std::min(best, p[k]);
    }
    return {best, nan};
}

// NumPy's min/max/argmin/argmax of p[0..n), n >= 1: the first NaN if any, else the first
// index of the extreme. Blocks are scanned by vector; a block is searched element by element
// only when it holds a NaN or beats the best so far.
template <bool Max, class T>
Best<T> span_extreme(const T* p, uint64_t n) {
    constexpr uint64_t kBlock = 2048;
    Best<T> best{p[0], 0};
    for (uint64_t first = 0; first < n && !is_nan(best.value); first += kBlock) {
        const T* block = p + first;
        uint64_t count = std::min(kBlock, n - first);
        auto [extreme, nan] = block_extreme<Max>(block, count);
        if (!nan && !improves<Max>(extreme, best.value)) continue;
        for (uint64_t k = 0; k < count; ++k)
            if (nan ? is_nan(block[k]) : block[k] == extreme) {
                best = {block[k], first + k};
                break;
            }
    }
    return best;
}

// Per column c < count: the extreme of p[j·stride + c] over j < len and its j (NumPy's rules).
template <bool Max, class T>
void column_extremes(const T* p, uint64_t len, uint64_t stride, uint64_t count, T* best, int64_t* index) {
    std::copy(p, p + count, best);
    std::fill(index, index + count, int64_t(0));
    for (uint64_t j = 1; j < len; ++j) {
        const T* row = p + j * stride;
        for (uint64_t c = 0; c < count; ++c) {
            bool take = improves<Max>(row[c], best[c]);
            best[c] = take ? row[c] : best[c];
            index[c] = take ? int64_t(j) : index[c];
        }
    }
}

}  // namespace reduce_loops
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
