// Unit tests of runtime CPU dispatch: every SIMD path this build compiled and this CPU runs,
// its bilinear and gaussian loops against plain serial loops written here; path names.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
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
                    check_correlation<double, float>(loops.correlate_line_f32, radius, count, cval, seed);
                }
    }
}
