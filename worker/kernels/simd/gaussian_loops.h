// gaussian's 1-D correlation on the DoubleVec of the SIMD path being compiled (included by
// loops_path.cpp only): NI_Correlate1D's symmetric sums, G vectors of outputs at a time.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "worker/kernels/simd.h"
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {
inline namespace SHMPOOL_SIMD_NS {
namespace gaussian {

// Element loads and stores through double, on a double or a DoubleVec (float rounds on store).
template <class T>
double load_as(double, const T* from) { return double(*from); }
template <class T>
DoubleVec load_as(const DoubleVec&, const T* from) { return DoubleVec(from, stdx::element_aligned); }
template <class T>
void store_as(double value, T* to) { *to = T(value); }
template <class T>
void store_as(const DoubleVec& value, T* to) { value.copy_to(to, stdx::element_aligned); }

// G vectors of outputs at positions at[0..G) (see correlate), their sums interleaved so that
// G dependency chains run at once; value(k, j, zero) is tap k at position j.
template <int G, class Value, class Dst>
void correlate_vectors(const std::array<uint64_t, G>& at, Value& value, const double* w, int64_t r, Dst* dst) {
    std::array<DoubleVec, G> acc;
    for (int g = 0; g < G; ++g) acc[g] = value(0, at[g], DoubleVec(0.0)) * w[0];
    for (int64_t t = r; t >= 1; --t)
        for (int g = 0; g < G; ++g)
            acc[g] += (value(-t, at[g], DoubleVec(0.0)) + value(t, at[g], DoubleVec(0.0))) * w[t];
    for (int g = 0; g < G; ++g) store_as(acc[g], dst + at[g]);
}

// The correlation in NI_Correlate1D's order (the centre, then tap pairs from the outermost in).
// Vectors of L outputs start at 0, L, 2L, ... and the last one ends at count (overlapping the
// one before), four at a time; a line shorter than L goes element by element.
template <bool kCval, class Src, class Dst>
void correlate(const Correlation<Src, Dst>& c) {
    constexpr uint64_t kLanes = DoubleVec::size();
    const int64_t r = int64_t(c.radius);
    const double* w = c.weights;
    auto value = [&](int64_t k, uint64_t j, auto zero) {
        const Src* p = c.taps[r + k];
        if constexpr (kCval) return p ? load_as(zero, p + c.offset + j) : zero + c.cval;
        else return load_as(zero, p + c.offset + j);
    };
    if (c.count < kLanes) {
        for (uint64_t j = 0; j < c.count; ++j) {
            double acc = value(0, j, 0.0) * w[0];
            for (int64_t t = r; t >= 1; --t) acc += (value(-t, j, 0.0) + value(t, j, 0.0)) * w[t];
            store_as(acc, c.dst + j);
        }
        return;
    }
    uint64_t vectors = (c.count + kLanes - 1) / kLanes, last = c.count - kLanes;
    auto at = [&](uint64_t v) { return std::min(v * kLanes, last); };
    for (uint64_t v = 0; v < vectors; v += 4) {
        switch (std::min<uint64_t>(4, vectors - v)) {
            case 4: correlate_vectors<4>({at(v), at(v + 1), at(v + 2), at(v + 3)}, value, w, r, c.dst); break;
            case 3: correlate_vectors<3>({at(v), at(v + 1), at(v + 2)}, value, w, r, c.dst); break;
            case 2: correlate_vectors<2>({at(v), at(v + 1)}, value, w, r, c.dst); break;
            default: correlate_vectors<1>({at(v)}, value, w, r, c.dst);
        }
    }
}

template <class Src, class Dst>
void correlate_any(const Correlation<Src, Dst>& c) {
    Correlation<Src, Dst> row = c;
    for (uint64_t i = 0; i < c.rows; ++i, ++row.taps, row.dst += c.dst_stride) {
        if (c.cval_taps) correlate<true>(row);
        else correlate<false>(row);
    }
}

template <class T>
void filter_lines(const LineFilter<T>& f) {
    const uint64_t r = f.radius, w = f.width;
    for (uint64_t i = 0; i < f.rows; ++i) {
        const T* row = f.src + i * w;
        auto extended = [&](uint64_t e) { return f.source[e] < 0 ? f.cval : double(row[f.source[e]]); };
        for (uint64_t e = 0; e < r; ++e) {
            f.line[e] = extended(e);
            f.line[r + w + e] = extended(r + w + e);
        }
        std::copy(row, row + w, f.line + r);
        correlate<false>(Correlation<double, T>{f.line_taps, 0, w, f.weights, r, false, f.cval, f.dst + i * w});
    }
}

}  // namespace gaussian
}  // namespace SHMPOOL_SIMD_NS
}  // namespace shmpool::kernels
