// Unit tests of runtime CPU dispatch: on every SIMD path this build compiled and this CPU runs, the
// bilinear, gaussian, reduce, cdist, rbf, euclidean and map loops against serial loops written here; path names.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
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

// The rows a batch of gaussian's output rows reads, and the expected rows by serial sums in double.
template <class T>
struct RowsCase {
    uint64_t radius0, radius1, width, batch;
    std::vector<std::vector<T>> rows;  // extended rows e in [0, 2·r0 + batch); empty: cval
    std::vector<int64_t> line_source;  // nearest, with cval at the first extended index
    std::vector<double> w0, w1;
    double cval = 0.75;

    RowsCase(uint64_t r0, uint64_t r1, uint64_t w, uint64_t b, unsigned seed)
        : radius0(r0), radius1(r1), width(w), batch(b) {
        for (uint64_t e = 0; e < 2 * r0 + b; ++e) {
            rows.emplace_back();
            if (e % 3 != 1)
                for (double v : uniform_values(w, -1, 2, seed + unsigned(e))) rows.back().push_back(T(v));
        }
        for (uint64_t e = 0; e < w + 2 * r1; ++e)
            line_source.push_back(e == 0 && r1 > 0 ? -1
                                                   : std::clamp<int64_t>(int64_t(e) - int64_t(r1), 0, int64_t(w) - 1));
        w0 = uniform_values(r0 + 1, 0.05, 0.2, seed + 100);
        w1 = uniform_values(r1 + 1, 0.05, 0.2, seed + 200);
    }

    double tap(uint64_t e, uint64_t j) const { return rows[e].empty() ? cval : double(rows[e][j]); }

    // Output row b (extended rows [b, b + 2·r0]), the intermediate rounded to R; of the
    // magnitudes |tap| when `magnitude`.
    template <class R>
    std::vector<R> want(uint64_t b, bool magnitude = false) const {
        auto of = [magnitude](double v) { return magnitude ? std::fabs(v) : v; };
        std::vector<R> mid(width), out(width);
        for (uint64_t j = 0; j < width; ++j) {
            double sum = 0;
            for (int64_t k = -int64_t(radius0); k <= int64_t(radius0); ++k)
                sum += w0[uint64_t(std::abs(k))] * of(tap(b + uint64_t(k + int64_t(radius0)), j));
            mid[j] = R(sum);
        }
        for (uint64_t j = 0; j < width; ++j) {
            double sum = 0;
            for (int64_t k = -int64_t(radius1); k <= int64_t(radius1); ++k) {
                int64_t s = line_source[uint64_t(int64_t(j + radius1) + k)];
                sum += w1[uint64_t(std::abs(k))] * (s < 0 ? of(cval) : double(mid[uint64_t(s)]));
            }
            out[j] = R(sum);
        }
        return out;
    }
};

// The path's row loop for T summed in A.
void run_rows(SimdPath path, const GaussianRows<double>& g) { simd_loops_for(path)->gaussian_rows_f64(g); }
void run_rows(SimdPath path, const GaussianRows<float>& g) { simd_loops_for(path)->gaussian_rows_f32(g); }
void run_rows(SimdPath path, const GaussianRows<float, float>& g) {
    simd_loops_for(path)->gaussian_rows_f32_sums_f32(g);
}

// Double sums: the rounding of the intermediate and of the output (float32), or a few ulps
// (float64). Float sums: also (r0 + r1 + 10)·2^-24 of the filtered magnitudes (test_gaussian.cpp).
template <class T, class A>
double tolerance_of(double want, double magnitude, uint64_t r0, uint64_t r1) {
    if (sizeof(T) == 8) return 64 * DBL_EPSILON * (1 + std::fabs(want));
    double sums = sizeof(A) == 4 ? double(r0 + r1 + 10) * std::ldexp(magnitude, -24) : 0;
    return 2 * FLT_EPSILON * std::max(1.0, std::fabs(want)) + sums;
}

// A batch of rows on `path`, every extended row entering into a ring row of its own (in a
// rotated order; rows padded to whole vectors, NaN where a row is to be written), the outputs
// `gap` elements apart.
template <class T, class A = double>
void check_gaussian_rows(SimdPath path, uint64_t r0, uint64_t r1, uint64_t width, uint64_t batch) {
    RowsCase<T> c(r0, r1, width, batch, unsigned(r0 * 100 + r1 * 10 + width + batch));
    uint64_t n = 2 * r0 + batch, gap = 3, padded = (width + 15) / 16 * 16, line_stride = padded + 2 * r1 + 1;
    std::vector<A> ring(n * padded, A(0)), lines(batch * line_stride), w0(c.w0.begin(), c.w0.end()),
        w1(c.w1.begin(), c.w1.end());
    for (uint64_t e = 0; e < n; ++e) std::fill_n(ring.begin() + int64_t(e * padded), width, A(std::nan("")));
    std::vector<const T*> entering_rows;
    std::vector<A*> slots;
    for (uint64_t e = 0; e < n; ++e) {
        entering_rows.push_back(c.rows[e].empty() ? nullptr : c.rows[e].data());
        slots.push_back(ring.data() + (e + 2) % n * padded);
    }
    std::vector<const A*> taps(slots.begin(), slots.end());
    std::vector<T> got(batch * (width + gap), T(-7));
    GaussianRows<T, A> g{batch,     width,       padded, entering_rows.data(), slots.data(), n,     taps.data(),
                         w0.data(), r0,          c.line_source.data(),         w1.data(),    r1,    A(c.cval),
                         lines.data(), line_stride, got.data(),                width + gap};
    run_rows(path, g);
    for (uint64_t b = 0; b < batch; ++b) {
        std::vector<T> want = c.template want<T>(b);
        std::vector<double> magnitude = c.template want<double>(b, true);
        for (uint64_t j = 0; j < width; ++j) {
            const T& at = got[b * (width + gap) + j];
            INFO("path " << path_name(path) << (sizeof(A) == 4 ? " float sums" : "") << " r0 " << r0 << " r1 " << r1
                         << " width " << width << " row " << b << " at " << j << ": got " << at << ", want "
                         << want[j]);
            REQUIRE(std::fabs(double(at) - double(want[j])) <= tolerance_of<T, A>(double(want[j]), magnitude[j], r0, r1));
        }
        for (uint64_t j = width; j < width + gap; ++j) REQUIRE(got[b * (width + gap) + j] == T(-7));  // untouched
    }
}

TEST_CASE("simd paths: gaussian rows on every path match serial sums", "[simd][gaussian]") {
    for (SimdPath path : available_paths())
        for (uint64_t r0 : {0, 1, 5, 12})
            for (uint64_t r1 : {0, 4, 9})
                for (uint64_t width : {1, 3, 8, 13, 31, 100})
                    for (uint64_t batch : {1, 3, 8}) {
                        check_gaussian_rows<double>(path, r0, r1, width, batch);
                        check_gaussian_rows<float>(path, r0, r1, width, batch);
                        check_gaussian_rows<float, float>(path, r0, r1, width, batch);
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

// How many of out's n×m entries (rows i of x against rows j of y, d coordinates) differ from
// f(||x_i - y_j||²) summed serially, by more than 1e-12 relative, in rows [begin, end), or
// from -1 (untouched) elsewhere; counted, then checked once.
template <class F>
uint64_t rows_off_serial(const std::vector<double>& out, const std::vector<double>& x, const std::vector<double>& y,
                         uint64_t m, uint64_t d, uint64_t begin, uint64_t end, F f) {
    uint64_t n = out.size() / m, wrong = 0;
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = 0; j < m; ++j) {
            double sq = 0;
            for (uint64_t k = 0; k < d; ++k) sq += (x[i * d + k] - y[j * d + k]) * (x[i * d + k] - y[j * d + k]);
            double want = i < begin || i >= end ? -1.0 : f(sq);
            wrong += std::fabs(out[i * m + j] - want) > 1e-12 * std::max(1.0, std::fabs(want));
        }
    return wrong;
}

void check_rbf(const SimdLoops& loops, uint64_t n, uint64_t d) {
    INFO("rbf n " << n << " d " << d);
    std::vector<double> p = uniform_values(n * d, -3, 3, unsigned(n + d)), coords(n * d), out(n * n, -1.0);
    for (uint64_t j = 0; j < n; ++j)
        for (uint64_t k = 0; k < d; ++k) coords[k * n + j] = p[j * d + k];
    uint64_t begin = n / 3, end = n - n / 4;
    loops.rbf_rows(RbfRows{p.data(), coords.data(), out.data(), n, d}, begin, end);  // other rows untouched
    CHECK(rows_off_serial(out, p, p, n, d, begin, end, [](double sq) {
              double r = std::sqrt(sq);
              return r * r * r / 12 + r * r / 6;
          }) == 0);
}

}  // namespace

TEST_CASE("simd paths: rbf on every path matches the serial loop", "[simd][rbf]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        for (uint64_t n : {1, 7, 37})
            for (uint64_t d : {1, 3, 13}) check_rbf(*simd_loops_for(path), n, d);
        check_rbf(*simd_loops_for(path), 2051, 2);  // a full tile of 2048 columns and a tail
    }
}

TEST_CASE("simd paths: cdist's metrics on every path match the serial loop, both loops", "[simd][cdist]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        for (CdistMetric metric : {CdistMetric::cityblock, CdistMetric::chebyshev, CdistMetric::cosine,
                                   CdistMetric::minkowski2, CdistMetric::minkowski})
            for (uint64_t d : {1, 3, 8, 13, 40, 2049})  // 2049: blocks of 7 rows of Y, so 19 span three
                for (bool transposed : {true, false}) check_cdist(*simd_loops_for(path), metric, d, transposed);
    }
}

namespace {

// A row after the BLAS call: row[j] = -2·x·y_j, with x = y_j for j ≡ 3 mod 7 (distance 0: at
// risk of cancellation); the finished row must be sqrt (or not) of max(|x|² + |y_j|² - 2x·y_j, 0),
// and every entry at risk must lie in a reported vector.
void check_euclidean_finish(const SimdLoops& loops, uint64_t m, bool squared) {
    INFO("euclidean finish m " << m << " squared " << squared);
    const uint64_t d = 5;
    const double cutoff = 1e-4;
    std::vector<double> x = uniform_values(d, -1, 1, 7), y = uniform_values(m * d, -1, 1, unsigned(m)), row(m), y_sq(m);
    for (uint64_t j = 3; j < m; j += 7) std::copy(x.begin(), x.end(), y.begin() + int64_t(j * d));
    double x_sq = 0;
    for (double v : x) x_sq += v * v;
    for (uint64_t j = 0; j < m; ++j) {
        double dot = 0, sq = 0;
        for (uint64_t k = 0; k < d; ++k) dot += x[k] * y[j * d + k], sq += y[j * d + k] * y[j * d + k];
        row[j] = -2 * dot, y_sq[j] = sq;
    }
    std::vector<double> before = row;
    std::vector<uint64_t> starts(m);
    uint64_t vectors = loops.euclidean_finish_row({row.data(), y_sq.data(), x_sq, cutoff, m, squared, starts.data()});
    REQUIRE(vectors <= m);
    uint64_t at_risk = 0;
    for (uint64_t j = 0; j < m; ++j) {
        double norms = x_sq + y_sq[j], sq = std::max(norms + before[j], 0.0), want = squared ? sq : std::sqrt(sq);
        CHECK(row[j] == Approx(want).epsilon(1e-15).margin(1e-300));
        if (squared ? !(row[j] > cutoff * norms) : !(row[j] * row[j] > cutoff * norms)) {
            ++at_risk;
            bool reported = false;  // in a vector that starts at most kMaxLanes - 1 before it
            for (uint64_t v = 0; v < vectors; ++v) reported |= starts[v] <= j && j < starts[v] + kMaxLanes;
            CHECK(reported);
        }
    }
    CHECK(at_risk >= (m + 3) / 7);  // every y_j = x at least
    CHECK(vectors <= at_risk);      // only vectors holding one are reported
}

void check_euclidean_direct(const SimdLoops& loops, uint64_t n, uint64_t m, uint64_t d, bool squared) {
    INFO("euclidean direct n " << n << " m " << m << " d " << d << " squared " << squared);
    std::vector<double> x = uniform_values(n * d, -3, 3, unsigned(n + d)), y = uniform_values(m * d, -2, 4, unsigned(m));
    std::vector<double> coords(m * d), out(n * m, -1.0);
    for (uint64_t j = 0; j < m; ++j)
        for (uint64_t k = 0; k < d; ++k) coords[k * m + j] = y[j * d + k];
    uint64_t begin = n / 3, end = n - n / 4;
    loops.euclidean_direct_rows({x.data(), coords.data(), out.data(), m, d, squared}, begin, end);
    CHECK(rows_off_serial(out, x, y, m, d, begin, end, [squared](double sq) { return squared ? sq : std::sqrt(sq); }) ==
          0);
}

}  // namespace

TEST_CASE("simd paths: euclidean's row finish and direct rows on every path match serial loops", "[simd][euclidean]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        for (bool squared : {false, true}) {
            for (uint64_t m : {4, 9, 31, 100}) check_euclidean_finish(*simd_loops_for(path), m, squared);
            for (uint64_t d : {1, 3, 16}) check_euclidean_direct(*simd_loops_for(path), 9, 37, d, squared);
            check_euclidean_direct(*simd_loops_for(path), 3, 2051, 2, squared);  // a full tile and a tail
        }
    }
}

namespace {

// map's op `name` on one value, as the kernel promises: libm in double, rounded to T; integer
// ops wrapping as NumPy's.
template <class T>
T serial_map(std::string_view name, T x) {
    if constexpr (std::is_floating_point_v<T>) {
        double v = double(x);
        if (name == "exp") return T(std::exp(v));
        if (name == "log") return T(std::log(v));
        if (name == "log1p") return T(std::log1p(v));
        if (name == "sqrt") return T(std::sqrt(v));
        if (name == "sin") return T(std::sin(v));
        if (name == "cos") return T(std::cos(v));
        if (name == "tanh") return T(std::tanh(v));
        if (name == "sigmoid") return T(1.0 / (1.0 + std::exp(-v)));
        if (name == "abs") return std::fabs(x);
        if (name == "negative") return -x;
        if (name == "square") return x * x;
    } else {
        using U = std::make_unsigned_t<T>;
        if (name == "abs") return x < 0 ? T(U(0) - U(x)) : x;
        if (name == "negative") return T(U(0) - U(x));
        if (name == "square") return T(uint64_t(U(x)) * uint64_t(U(x)));
    }
    FAIL("no serial " << name);
    return x;
}

template <class T>
void check_map_op(const MapOpLoops& op, int dtype_index) {
    MapApplyFn fn = op.by_dtype[size_t(dtype_index)];
    if (!fn) return;
    INFO("op " << op.name << " dtype index " << dtype_index);
    std::vector<double> values = uniform_values(37, -3, 3, 11);
    std::vector<T> in, out(40, T(7));
    for (double v : values) in.push_back(std::is_floating_point_v<T> ? T(v) : T(int64_t(v * 40)));
    in.push_back(std::is_signed_v<T> ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max());
    in.push_back(T(0));
    in.push_back(std::numeric_limits<T>::max());
    fn(in.data(), out.data(), 2, 37);  // [2, 39): the ends untouched
    for (size_t e = 0; e < in.size(); ++e) {
        T want = e < 2 || e >= 39 ? T(7) : serial_map<T>(op.name, in[e]);
        INFO("element " << e << " of " << double(in[e]));
        CHECK((std::memcmp(&out[e], &want, sizeof(T)) == 0 || (want != want && out[e] != out[e])));
    }
}

}  // namespace

TEST_CASE("simd paths: map's ops on every path and dtype are the serial results bit for bit", "[simd][map]") {
    for (SimdPath path : available_paths()) {
        INFO("path " << path_name(path));
        CHECK(simd_loops_for(path)->map_ops.size() == 11);
        for (const MapOpLoops& op : simd_loops_for(path)->map_ops) {
            check_map_op<double>(op, 0);
            check_map_op<float>(op, 1);
            check_map_op<int64_t>(op, 2);
            check_map_op<int32_t>(op, 3);
            check_map_op<uint8_t>(op, 4);
        }
    }
}
