// gaussian's rows on the vectors of the SIMD path being compiled (included by loops_path.cpp
// only): both passes of a batch of output rows, NI_Correlate1D's symmetric sums, G vectors at a time.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>

#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace gaussian {

// The vector of sums in A: DoubleVec, or as many floats as fit the same register (twice the lanes).
template <class A>
using SumVec = stdx::native_simd<A>;
using FloatVec = stdx::rebind_simd_t<float, DoubleVec>;  // as many lanes as DoubleVec

// Stores a sum rounded to R (float: the output array scipy rounds the first pass into) then
// written as a D, from a scalar or a vector of sums.
template <class R, class D, class A>
void store_as(A value, D* to) { *to = D(R(value)); }
template <class R, class D, class A>
void store_as(const SumVec<A>& value, D* to) {
    if constexpr (std::is_same_v<R, D>) {
        stdx::static_simd_cast<stdx::rebind_simd_t<D, SumVec<A>>>(value).copy_to(to, stdx::element_aligned);
    } else {
        static_assert(std::is_same_v<R, float> && std::is_same_v<D, double> && std::is_same_v<A, double>,
                      "a float rounded into a double");
        stdx::static_simd_cast<DoubleVec>(stdx::static_simd_cast<FloatVec>(value)).copy_to(to, stdx::element_aligned);
    }
}

// G vectors of outputs at positions at[0..G), their sums interleaved so that G dependency
// chains run at once: the centre, then tap pairs from the outermost in (NI_Correlate1D's order).
// tap(k) is the line of offset k in [-r, r]. Inlined: its sums then stay in registers.
template <int G, class R, class A, class Taps, class D>
[[gnu::always_inline]] inline void correlate_vectors(const std::array<uint64_t, G>& at, const Taps& tap,
                                                   const A* w, int64_t r, D* dst) {
    using Vec = SumVec<A>;
    std::array<Vec, G> acc;
    for (int g = 0; g < G; ++g) acc[g] = Vec(tap(0) + at[g], stdx::element_aligned) * w[0];
    for (int64_t t = r; t >= 1; --t) {
        const A *before = tap(-t), *after = tap(t);
        for (int g = 0; g < G; ++g)
            acc[g] += (Vec(before + at[g], stdx::element_aligned) + Vec(after + at[g], stdx::element_aligned)) * w[t];
    }
    for (int g = 0; g < G; ++g) store_as<R, D, A>(acc[g], dst + at[g]);
}

// dst[j] = Σ_{k=-r..r} w[|k|]·tap(k)[j] for j in [0, count), summed in A, rounded to R. Vectors
// of L outputs start at 0, L, 2L, ... and the last one ends at count (overlapping the one
// before), four at a time; a line shorter than L goes element by element.
template <class R, class A, class Taps, class D>
void correlate(const Taps& tap, const A* w, uint64_t radius, uint64_t count, D* dst) {
    constexpr uint64_t kLanes = SumVec<A>::size();
    const int64_t r = int64_t(radius);
    if (count < kLanes) {
        for (uint64_t j = 0; j < count; ++j) {
            A acc = tap(0)[j] * w[0];
            for (int64_t t = r; t >= 1; --t) acc += (tap(-t)[j] + tap(t)[j]) * w[t];
            store_as<R, D, A>(acc, dst + j);
        }
        return;
    }
    uint64_t vectors = (count + kLanes - 1) / kLanes, last = count - kLanes;
    auto at = [&](uint64_t v) { return std::min(v * kLanes, last); };
    for (uint64_t v = 0; v < vectors; v += 4) {
        switch (std::min<uint64_t>(4, vectors - v)) {
            case 4: correlate_vectors<4, R>({at(v), at(v + 1), at(v + 2), at(v + 3)}, tap, w, r, dst); break;
            case 3: correlate_vectors<3, R>({at(v), at(v + 1), at(v + 2)}, tap, w, r, dst); break;
            case 2: correlate_vectors<2, R>({at(v), at(v + 1)}, tap, w, r, dst); break;
            default: correlate_vectors<1, R>({at(v)}, tap, w, r, dst);
        }
    }
}

// A row of T copied into A (float widened into double, or the same type; null: a row of cval).
template <class T, class A>
void widen(const T* from, A* to, uint64_t count, A cval) {
    if (!from) return std::fill(to, to + count, cval);
    if constexpr (std::is_same_v<T, A>) {
        std::copy(from, from + count, to);
    } else {
        for_each_lane(count, [&](uint64_t j, auto zero) {
            if constexpr (std::is_same_v<decltype(zero), double>) store(double(from[j]), to + j);
            else store(DoubleVec(from + j, stdx::element_aligned), to + j);
        });
    }
}

// A line's ends (r1 each side of the row at line + r1) from line_source (< 0: cval).
template <class T, class A>
void extend_line(const GaussianRows<T, A>& g, A* line) {
    const uint64_t w = g.width, r1 = g.radius1;
    const A* row = line + r1;
    for (uint64_t e = 0; e < r1; ++e) {
        int64_t left = g.line_source[e], right = g.line_source[r1 + w + e];
        line[e] = left < 0 ? g.cval : row[left];
        line[r1 + w + e] = right < 0 ? g.cval : row[right];
    }
}

// Asks for the cache lines of the `count` elements of T that start `skip` elements after `at`,
// ahead of their use (to write them: for_write). The addresses may lie past the array's end
// (a prefetch never faults), so they are computed as integers, not as pointers into it.
template <class T>
void prefetch(const T* at, uint64_t skip, uint64_t count, bool for_write) {
    uintptr_t first = reinterpret_cast<uintptr_t>(at) + skip * sizeof(T), end = first + count * sizeof(T);
    for (uintptr_t line = first; line < end; line += 64) {
        if (for_write) __builtin_prefetch(reinterpret_cast<const void*>(line), 1);
        else __builtin_prefetch(reinterpret_cast<const void*>(line), 0);
    }
}

// The batch of rows, one step of each pass over all of them before the next, so that no load
// waits for a store just made (a row widened, a line written then read at shifted offsets).
// Meanwhile the memory comes in that the next batch likely reads and writes: the input that
// follows the last row entering now (images lie one after another), and the output after dst's.
template <class T, class A>
void filter_rows(const GaussianRows<T, A>& g) {
    const uint64_t w = g.width;
    for (uint64_t k = 0; k < g.entering; ++k) widen(g.entering_rows[k], g.entering_slots[k], w, g.cval);
    constexpr uint64_t kAhead = 2048 / sizeof(T);  // long rows: the hardware's prefetcher follows them alone
    const uint64_t ahead = std::min(kAhead, g.rows * w);
    if (g.entering && g.entering_rows[g.entering - 1]) prefetch(g.entering_rows[g.entering - 1], w, ahead, false);
    prefetch(g.dst, g.rows * g.dst_stride, ahead, true);
    for (uint64_t b = 0; b < g.rows; ++b) {
        const A* const* centre = g.taps + b + g.radius0;
        correlate<T>([centre](int64_t k) { return centre[k]; }, g.weights0, g.radius0, g.padded,
                     g.lines + b * g.line_stride + g.radius1);
    }
    for (uint64_t b = 0; b < g.rows; ++b) extend_line(g, g.lines + b * g.line_stride);
    for (uint64_t b = 0; b < g.rows; ++b) {
        const A* centre = g.lines + b * g.line_stride + g.radius1;
        correlate<T>([centre](int64_t k) { return centre + k; }, g.weights1, g.radius1, w, g.dst + b * g.dst_stride);
    }
}

}  // namespace gaussian
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
