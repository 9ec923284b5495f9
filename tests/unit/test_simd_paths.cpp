// Unit tests of runtime CPU dispatch: every SIMD path this build compiled and this CPU runs,
// its bilinear, gaussian, reduce and cdist loops against plain serial loops written here; path names.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "worker/kernels/simd/loops.h"

namespace {

using namespace shmpool::kernels;

std::vector<double> uniform_values(uint64_t count, double lo, double hi, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<double> v(count);
    for (double& x : v) x = u(rng);
    return v;
}

// The serial bilinear interpolant at (x, y) (the last cell at x = n-1), then exp.
double serial_exp_bilinear(const std::vector<double>& z, const BilinearGrid& g, double x, double y) {
    uint64_t r = std::min<uint64_t>(uint64_t(x), g.nx - 2), s = std::min<uint64_t>(uint64_t(y), g.ny - 2);
    double u = x - double(r), v = y - double(s);
    return std::exp((1 - u) * (1 - v) * z[r * g.ny + s] + (1 - u) * v * z[r * g.ny + s + 1] +
                    u * (1 - v) * z[(r + 1) * g.ny + s] + u * v * z[(r + 1) * g.ny + s + 1]);
}

// dst[j] = Σ_k w[|k|]·taps[r+k][offset+j] in double (a null tap reads cval), rounded to Dst.
template <class Src, class Dst>
std::vector<Dst> serial_correlation(const Correlation<Src, Dst>& c) {
    std::vector<Dst> out(c.count);
    int64_t r = int64_t(c.radius);
    for (uint64_t j = 0; j < c.count; ++j) {
        double sum = 0;
        for (int64_t k = -r; k <= r; ++k) {
            const Src* tap = c.taps[r + k];
            sum += c.weights[std::abs(k)] * (tap ? double(tap[c.offset + j]) : c.cval);
        }
        out[j] = Dst(sum);
    }
    return out;
}

// Correlates `count` outputs on `path` and compares with the serial sum: float64 to a few ulps
// of the magnitude summed, float32 to its own rounding (one float ulp).
template <class Src, class Dst, class Fn>
void check_correlation(Fn fn, uint64_t radius, uint64_t count, bool with_cval, unsigned seed) {
    uint64_t taps_n = 2 * radius + 1, offset = 3, len = offset + count;
    std::vector<std::vector<Src>> rows(taps_n);
    std::vector<const Src*> taps(taps_n);
    for (uint64_t t = 0; t < taps_n; ++t) {
        for (double v : uniform_values(len, -2, 3, seed + unsigned(t))) rows[t].push_back(Src(v));
        taps[t] = with_cval && t % 3 == 1 ? nullptr : rows[t].data();
    }
    std::vector<double> w = uniform_values(radius + 1, 0.01, 0.3, seed);
    std::vector<Dst> got(count);
    Correlation<Src, Dst> c{taps.data(), offset, count, w.data(), radius, with_cval, -1.25, got.data()};
    fn(c);
    std::vector<Dst> want = serial_correlation(c);
    for (uint64_t j = 0; j < count; ++j) {
        INFO("radius " << radius << " count " << count << " cval " << with_cval << " at " << j);
        double tol = sizeof(Dst) == 4 ? FLT_EPSILON * std::max(1.0, std::fabs(double(want[j])))
                                      : 64 * DBL_EPSILON * (1 + std::fabs(double(want[j])));
        REQUIRE(std::fabs(double(got[j]) - double(want[j])) <= tol);
    }
}

}  // namespace

TEST_CASE("simd paths: names, and the paths this build offers on this CPU", "[simd]") {
    for (SimdPath p : {SimdPath::baseline, SimdPath::avx2, SimdPath::avx512, SimdPath::native})
        CHECK(path_named(path_name(p)) == p);
    CHECK(!path_named("sse9"));
    std::vector<SimdPath> available = available_paths();
    REQUIRE(!available.empty());
    CHECK(available.front() == SimdPath::baseline);
    for (SimdPath p : compiled_paths()) CHECK(simd_loops_for(p) != nullptr);
    for (SimdPath p : available) CHECK(simd_loops_for(p)->path == p);
    CHECK(simd_loops().path == simd_path());
}

TEST_CASE("simd paths: bilinear tiles on every path match the serial interpolant", "[simd][bilinear]") {
    BilinearGrid grid{9, 13};
    std::vector<double> z = uniform_values(grid.nx * grid.ny, -2, 2, 5);
    for (SimdPath path : available_paths()) {
        const SimdLoops& loops = *simd_loops_for(path);
        for (uint64_t count : {1, 3, 8, 17, 511, 512}) {
            INFO("path " << path_name(path) << ", " << count << " points");
            std::vector<double> points;
            for (double v : uniform_values(2 * count, 0, 1, unsigned(count))) points.push_back(v);
            for (uint64_t i = 0; i < count; ++i) points[2 * i] *= 8, points[2 * i + 1] *= 12;
            points[0] = 8, points[1] = 12;  // the far corner: the last cell
            BilinearTile tile;
            tile.count = count;
            REQUIRE(loops.bilinear_fill_tile(points.data(), grid, tile));
            long double want = 0;
            for (uint64_t i = 0; i < count; ++i) want += serial_exp_bilinear(z, grid, points[2 * i], points[2 * i + 1]);
            double got = loops.bilinear_tile_sum(tile, z.data(), grid.ny);
            REQUIRE(std::fabs(got - double(want)) <= 1e-13 * double(want));
        }
    }
}

TEST_CASE("simd paths: a bilinear tile with a point outside the grid or NaN is refused", "[simd][bilinear]") {
    BilinearGrid grid{4, 4};
    for (SimdPath path : available_paths())
        for (double bad : {-0.5, 3.5, std::nan("")})
            for (uint64_t at : {0, 5, 12}) {
                std::vector<double> points(2 * 13, 1.5);
                points[2 * at + 1] = bad;
                BilinearTile tile;
                tile.count = 13;
                INFO("path " << path_name(path) << ", y " << bad << " at " << at);
                CHECK(!simd_loops_for(path)->bilinear_fill_tile(points.data(), grid, tile));
            }
}

TEST_CASE("simd paths: gaussian correlations on every path match the serial sum", "[simd][gaussian]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        const SimdLoops& loops = *simd_loops_for(path);
        for (uint64_t radius : {0, 1, 5, 12})
            for (uint64_t count : {1, 5, 8, 16, 31, 100})
                for (bool cval : {false, true}) {
                    unsigned seed = unsigned(radius * 1000 + count);
                    check_correlation<double, double>(loops.correlate_f64, radius, count, cval, seed);
                    check_correlation<float, float>(loops.correlate_f32, radius, count, cval, seed);
                }
    }
}

TEST_CASE("simd paths: a gaussian correlation over several rows moves taps and output per row", "[simd][gaussian]") {
    const uint64_t radius = 3, count = 19, rows = 5, stride = count + 4;
    std::vector<std::vector<double>> lines;
    std::vector<const double*> taps;
    for (uint64_t t = 0; t < 2 * radius + rows; ++t) lines.push_back(uniform_values(count, -1, 1, unsigned(t)));
    for (const auto& line : lines) taps.push_back(line.data());
    std::vector<double> w = uniform_values(radius + 1, 0.05, 0.2, 9);
    for (SimdPath path : available_paths()) {
        std::vector<double> got(rows * stride, -7.0);
        simd_loops_for(path)->correlate_f64({taps.data(), 0, count, w.data(), radius, false, 0, got.data(), rows, stride});
        for (uint64_t i = 0; i < rows; ++i) {
            std::vector<double> want =
                serial_correlation<double, double>({taps.data() + i, 0, count, w.data(), radius, false, 0, nullptr});
            for (uint64_t j = 0; j < count; ++j) {
                INFO("path " << path_name(path) << " row " << i << " at " << j);
                REQUIRE(std::fabs(got[i * stride + j] - want[j]) <= 1e-14);
            }
            for (uint64_t j = count; j < stride; ++j) REQUIRE(got[i * stride + j] == -7.0);  // the gap untouched
        }
    }
}

// Rows extended by a source table (nearest, and cval at the first index), then correlated.
template <class T>
void check_line_filter(SimdPath path, uint64_t radius, uint64_t width) {
    const uint64_t rows = 3;
    std::vector<T> src;
    for (double v : uniform_values(rows * width, -1, 2, unsigned(width))) src.push_back(T(v));
    std::vector<int64_t> source(width + 2 * radius);
    for (uint64_t e = 0; e < source.size(); ++e)
        source[e] = e == 0 ? -1 : std::clamp<int64_t>(int64_t(e) - int64_t(radius), 0, int64_t(width) - 1);
    std::vector<double> w = uniform_values(radius + 1, 0.05, 0.2, 3), line(source.size());
    std::vector<const double*> line_taps;
    for (uint64_t k = 0; k <= 2 * radius; ++k) line_taps.push_back(line.data() + k);
    std::vector<T> got(rows * width);
    const SimdLoops& loops = *simd_loops_for(path);
    LineFilter<T> f{src.data(), got.data(), rows, width, source.data(), w.data(), radius, 0.75, line.data(),
                    line_taps.data()};
    if constexpr (sizeof(T) == 8) loops.filter_lines_f64(f);
    else loops.filter_lines_f32(f);
    for (uint64_t i = 0; i < rows; ++i)
        for (uint64_t j = 0; j < width; ++j) {
            double sum = 0;
            for (int64_t k = -int64_t(radius); k <= int64_t(radius); ++k) {
                int64_t s = source[uint64_t(int64_t(j + radius) + k)];
                sum += w[uint64_t(std::abs(k))] * (s < 0 ? 0.75 : double(src[i * width + uint64_t(s)]));
            }
            INFO("path " << path_name(path) << " radius " << radius << " width " << width << " at " << i << "," << j);
            double tol = sizeof(T) == 4 ? FLT_EPSILON * std::max(1.0, std::fabs(sum)) : 64 * DBL_EPSILON;
            REQUIRE(std::fabs(double(got[i * width + j]) - double(T(sum))) <= tol);
        }
}

TEST_CASE("simd paths: gaussian's extended rows on every path match the serial sum", "[simd][gaussian]") {
    for (SimdPath path : available_paths())
        for (uint64_t radius : {1, 4, 9})
            for (uint64_t width : {3, 8, 13, 40}) {
                check_line_filter<double>(path, radius, width);
                check_line_filter<float>(path, radius, width);
            }
}

namespace {

// Multiples of 1/1024 below 2^20 in magnitude: every partial sum of a few thousand is exact.
template <class T>
std::vector<T> exact_values(uint64_t count, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> u(-(1 << 13), 1 << 13);
    std::vector<T> v(count);
    for (T& x : v) x = T(u(rng)) / T(1024);
    return v;
}

template <class T>
void check_sums(SumParts (*sum)(const T*, uint64_t), uint64_t count, unsigned seed) {
    INFO("count " << count);
    std::vector<T> v = exact_values<T>(count, seed);
    double serial = 0;
    for (T x : v) serial += double(x);
    SumParts got = sum(v.data(), count);
    CHECK(got.value + got.comp == serial);
    if (count == 0) return;
    v[count / 2] = T(INFINITY);
    CHECK(sum(v.data(), count).value == INFINITY);
    CHECK(sum(v.data(), count).comp == 0);
    v[count - 1] = count > 1 ? T(-INFINITY) : T(NAN);
    CHECK(std::isnan(sum(v.data(), count).value));
}

// The serial NumPy argmin/argmax: the first NaN, else the first index of the extreme.
template <bool Max, class T>
uint64_t serial_extreme_index(const std::vector<T>& v) {
    uint64_t best = 0;
    for (uint64_t k = 0; k < v.size(); ++k) {
        if (std::isnan(v[k])) return k;
        if (Max ? v[k] > v[best] : v[k] < v[best]) best = k;
    }
    return best;
}

template <bool Max, class T>
void check_extreme(Best<T> (*extreme)(const T*, uint64_t), std::vector<T> v) {
    Best<T> got = extreme(v.data(), v.size());
    uint64_t want = serial_extreme_index<Max>(v);
    CHECK(got.index == want);
    CHECK(std::memcmp(&got.value, &v[want], sizeof(T)) == 0);
}

template <class T>
void check_extremes(Best<T> (*min)(const T*, uint64_t), Best<T> (*max)(const T*, uint64_t), uint64_t count,
                    unsigned seed) {
    INFO("count " << count);
    std::vector<T> v = exact_values<T>(count, seed);
    check_extreme<false>(min, v);
    check_extreme<true>(max, v);
    v[count / 3] = T(1 << 14), v[count - 1] = T(1 << 14);  // a tie of maxima: the first wins
    v[count / 2] = T(-(1 << 14)), v[count - 1 - count / 4] = T(-(1 << 14));
    check_extreme<false>(min, v);
    check_extreme<true>(max, v);
    v[count - 1 - count / 5] = T(NAN), v[count - 1] = T(NAN);  // the first NaN wins
    check_extreme<false>(min, v);
    check_extreme<true>(max, v);
}

}  // namespace

TEST_CASE("simd paths: reduce's sums on every path match the serial sum", "[simd][reduce]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        const SimdLoops& loops = *simd_loops_for(path);
        for (uint64_t count : {0, 1, 3, 8, 17, 100, 5001}) {
            check_sums<double>(loops.sum_f64, count, unsigned(count));
            check_sums<float>(loops.sum_f32, count, unsigned(count));
        }
    }
}

TEST_CASE("simd paths: reduce's extremes on every path are NumPy's (first NaN, first tie)", "[simd][reduce]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        const SimdLoops& loops = *simd_loops_for(path);
        for (uint64_t count : {1, 2, 7, 33, 2048, 2049, 5000}) {
            check_extremes<double>(loops.min_f64, loops.max_f64, count, unsigned(count) + 7);
            check_extremes<float>(loops.min_f32, loops.max_f32, count, unsigned(count) + 7);
        }
    }
}

namespace {

// scipy's definitions, one pair at a time.
double serial_metric(CdistMetric metric, double p, const double* x, const double* y, uint64_t d) {
    double acc = 0, xx = 0, yy = 0;
    for (uint64_t k = 0; k < d; ++k) {
        double diff = std::fabs(x[k] - y[k]);
        switch (metric) {
            case CdistMetric::cityblock: acc += diff; break;
            case CdistMetric::chebyshev: acc = std::max(acc, diff); break;
            case CdistMetric::cosine: acc += x[k] * y[k], xx += x[k] * x[k], yy += y[k] * y[k]; break;
            case CdistMetric::minkowski2: acc += diff * diff; break;
            case CdistMetric::minkowski: acc += std::pow(diff, p); break;
        }
    }
    if (metric == CdistMetric::cosine) return 1 - std::clamp(acc / std::sqrt(xx * yy), -1.0, 1.0);
    if (metric == CdistMetric::minkowski2) return std::sqrt(acc);
    return metric == CdistMetric::minkowski ? std::pow(acc, 1 / p) : acc;
}

void check_cdist(const SimdLoops& loops, CdistMetric metric, uint64_t d, bool transposed) {
    INFO("metric " << int(metric) << " d " << d << " transposed " << transposed);
    const uint64_t n = 7, m = 19;
    std::vector<double> x = uniform_values(n * d, -3, 3, unsigned(d)), y = uniform_values(m * d, -2, 4, unsigned(d + 1));
    std::vector<double> y_t(m * d), norms(m), out(n * m, -1.0);
    for (uint64_t j = 0; j < m; ++j)
        for (uint64_t k = 0; k < d; ++k) y_t[k * m + j] = y[j * d + k];
    loops.cdist_norms(y.data(), m, d, norms.data());
    CdistRows job{metric, 3.0, x.data(), y.data(), transposed ? y_t.data() : nullptr, norms.data(), out.data(), n, m, d};
    loops.cdist_rows(job, 2, 6);  // rows outside [2, 6) stay untouched
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = 0; j < m; ++j) {
            double want = i < 2 || i >= 6 ? -1.0 : serial_metric(metric, 3.0, &x[i * d], &y[j * d], d);
            CHECK(out[i * m + j] == Approx(want).epsilon(1e-12).margin(1e-12));
        }
}

}  // namespace

TEST_CASE("simd paths: cdist's metrics on every path match the serial loop, both loops", "[simd][cdist]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        for (CdistMetric metric : {CdistMetric::cityblock, CdistMetric::chebyshev, CdistMetric::cosine,
                                   CdistMetric::minkowski2, CdistMetric::minkowski})
            for (uint64_t d : {1, 3, 8, 13, 40, 2049})  // 2049: blocks of 7 rows of Y, so 19 span three
                for (bool transposed : {true, false}) check_cdist(*simd_loops_for(path), metric, d, transposed);
    }
}
