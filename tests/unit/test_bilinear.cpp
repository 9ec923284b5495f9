// Unit tests of the `bilinear_exp_sum` kernel against the direct bilinear formula summed in long
// double, over chunkings, per-grid output, edge points, bad points; and of the vectorized exp.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernel_job.h"
#include "worker/kernels/simd_exp.h"

namespace {

using namespace kernel_test;

struct Case {
    uint64_t k, nx, ny;
    std::vector<double> z, p;  // k×nx×ny grids, m×2 points
    uint64_t m() const { return p.size() / 2; }
};

Case random_case(uint64_t k, uint64_t nx, uint64_t ny, uint64_t m, unsigned seed, double scale = 1.0) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    Case c{k, nx, ny, {}, {}};
    for (uint64_t e = 0; e < k * nx * ny; ++e) c.z.push_back(scale * (2 * unit(rng) - 1));
    for (uint64_t i = 0; i < m; ++i) {
        c.p.push_back(unit(rng) * double(nx - 1));
        c.p.push_back(unit(rng) * double(ny - 1));
    }
    return c;
}

// Σ_i exp(f_g(x_i, y_i)) for grid g: f the textbook bilinear blend of the cell's four corners,
// the cell [i, i+1] holding x (the last cell for x = n-1).
double reference_grid(const Case& c, uint64_t g) {
    const double* z = c.z.data() + g * c.nx * c.ny;
    long double sum = 0;
    for (uint64_t i = 0; i < c.m(); ++i) {
        double x = c.p[2 * i], y = c.p[2 * i + 1];
        uint64_t r = std::min<uint64_t>(uint64_t(x), c.nx - 2), s = std::min<uint64_t>(uint64_t(y), c.ny - 2);
        double u = x - double(r), v = y - double(s);
        double f = (1 - u) * (1 - v) * z[r * c.ny + s] + (1 - u) * v * z[r * c.ny + s + 1] +
                   u * (1 - v) * z[(r + 1) * c.ny + s] + u * v * z[(r + 1) * c.ny + s + 1];
        sum += std::exp((long double)f);
    }
    return double(sum);
}

double reference_total(const Case& c) {
    long double total = 0;
    for (uint64_t g = 0; g < c.k; ++g) total += reference_grid(c, g);
    return double(total);
}

Job job_of(const Case& c, json params = json::object(), bool flat = false) {
    std::vector<uint64_t> zdims = flat ? std::vector<uint64_t>{c.nx, c.ny} : std::vector<uint64_t>{c.k, c.nx, c.ny};
    return Job("bilinear_exp_sum",
               {{"Z", input_of(c.z, zdims, DType::float64)}, {"P", input_of(c.p, {c.m(), 2}, DType::float64)}},
               std::move(params));
}

void require_rel(double got, double want, double rel) {
    INFO("got " << got << ", want " << want);
    REQUIRE(std::fabs(got - want) <= rel * std::fabs(want));
}

void check_sum(const Case& c, std::vector<uint64_t> chunks = {1, 3, 7, 1u << 30}) {
    double want = reference_total(c);
    for (uint64_t chunk : chunks) {
        INFO("k " << c.k << ", grid " << c.nx << "x" << c.ny << ", m " << c.m() << ", chunk " << chunk);
        Job job = job_of(c);
        REQUIRE(job.plan().reduce == ReduceOp::sum);
        REQUIRE(!job.plan().output);
        REQUIRE(job.plan().rows % c.k == 0);
        Reduced got = job.reduce_all(std::min(chunk, job.plan().rows), unsigned(chunk));
        require_rel(got.value, want, 1e-12);
        CHECK(got.count == c.k * c.m());
    }
}

std::string failure_of(const Case& c) {
    Job job = job_of(c);
    try {
        job.reduce_all(1);
    } catch (const KernelError& e) {
        return e.what();
    }
    FAIL("no range failed");
    return "";
}

}  // namespace

TEST_CASE("bilinear_exp_sum matches the direct formula", "[bilinear]") {
    check_sum(random_case(1, 2, 2, 1, 1));
    check_sum(random_case(3, 5, 7, 1000, 2));      // rectangular grids: x over 5 rows, y over 7 columns
    check_sum(random_case(50, 50, 50, 3001, 3));   // the seed's grids
    check_sum(random_case(400, 6, 6, 700, 4));     // many grids: one block of points
    check_sum(random_case(1, 30, 20, 100003, 5), {1, 5, 1u << 30});  // one grid: many blocks of points
    check_sum(random_case(2, 9, 9, 5000, 6, 40.0));  // values up to e^40
}

TEST_CASE("bilinear_exp_sum: points on the edges, corners and cell borders", "[bilinear]") {
    Case c = random_case(4, 6, 5, 0, 7);
    for (double x : {0.0, 1.0, 2.5, 4.0, 5.0, 5.0 - 1e-15, 1e-300})
        for (double y : {0.0, 3.0, 4.0, 0.5, 4.0 - 1e-16}) c.p.insert(c.p.end(), {x, y});
    check_sum(c);
    // at grid points the interpolant is the grid value
    Case exact{1, 3, 3, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, {2, 2, 0, 0, 1, 2}};
    require_rel(job_of(exact).reduce_all(1).value, std::exp(0.9) + std::exp(0.1) + std::exp(0.6), 1e-15);
}

TEST_CASE("bilinear_exp_sum: per_grid writes each grid's sum and still reduces the total", "[bilinear]") {
    for (Case c : {random_case(7, 8, 11, 2000, 8), random_case(1, 2, 2, 3, 9), random_case(300, 4, 4, 50, 10)}) {
        for (uint64_t chunk : {uint64_t(1), uint64_t(4), c.k}) {
            INFO("k " << c.k << ", chunk " << chunk);
            Job job = job_of(c, {{"per_grid", true}});
            REQUIRE(job.plan().rows == c.k);
            REQUIRE(job.plan().output->shape == meta_of({c.k}).shape);
            REQUIRE(job.plan().output->dtype == DType::float64);
            require_rel(job.reduce_all(chunk).value, reference_total(c), 1e-12);
            auto sums = job.output_as<double>();
            for (uint64_t g = 0; g < c.k; ++g) require_rel(sums[g], reference_grid(c, g), 1e-12);
        }
    }
}

TEST_CASE("bilinear_exp_sum: exp overflow sums to inf and a NaN grid value to NaN, as NumPy", "[bilinear]") {
    Case c = random_case(3, 4, 4, 600, 14);
    c.z[16 + 5] = 1e6;  // grid 1, node (1, 1): the points of the four cells around it overflow
    for (uint64_t chunk : {uint64_t(1), uint64_t(1u << 30)}) {
        Job job = job_of(c, {{"per_grid", true}});
        CHECK(job.reduce_all(std::min(chunk, job.plan().rows)).value == INFINITY);
        auto sums = job.output_as<double>();
        CHECK((std::isfinite(sums[0]) && sums[1] == INFINITY && std::isfinite(sums[2])));
    }
    c.z[16 + 5] = std::nan("");
    CHECK(std::isnan(job_of(c).reduce_all(1).value));
}

TEST_CASE("bilinear_exp_sum: a 2-D Z is one grid", "[bilinear]") {
    Case c = random_case(1, 13, 9, 777, 11);
    Job job = job_of(c, json::object(), true);
    require_rel(job.reduce_all(2).value, reference_total(c), 1e-12);
}

TEST_CASE("bilinear_exp_sum: a point outside the grid fails its range, naming the point", "[bilinear]") {
    Case c = random_case(3, 5, 6, 5000, 12);
    auto with_point = [&](uint64_t i, double x, double y) {
        Case bad = c;
        bad.p[2 * i] = x, bad.p[2 * i + 1] = y;
        return failure_of(bad);
    };
    CHECK_THAT(with_point(4321, -0.5, 2.0), Catch::Contains("point 4321 (-0.5, 2)") && Catch::Contains("outside"));
    CHECK_THAT(with_point(0, 4.0000000000000009, 1.0), Catch::Contains("point 0 (4.0000000000000009, 1)"));
    CHECK_THAT(with_point(4999, 1.0, 5.5), Catch::Contains("point 4999 (1, 5.5)"));
    CHECK_THAT(with_point(17, 1.0, -1e-300), Catch::Contains("point 17 "));
    CHECK_THAT(with_point(9, std::nan(""), 1.0), Catch::Contains("point 9 (nan, 1)"));
    CHECK_THAT(with_point(9, 1.0, INFINITY), Catch::Contains("point 9 (1, inf)"));
    Case per = c;
    per.p[2 * 123] = 7;
    Job job = job_of(per, {{"per_grid", true}});
    CHECK_THROWS_WITH(job.reduce_all(1), Catch::Contains("point 123 (7, "));
}

TEST_CASE("bilinear_exp_sum validates Z, P and per_grid", "[bilinear][validation]") {
    auto inputs = [](ArrayMeta z, ArrayMeta p) { return std::map<std::string, ArrayMeta>{{"Z", z}, {"P", p}}; };
    auto z = meta_of({5, 10, 10}), p = meta_of({100, 2});
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(meta_of({5, 10, 10}, DType::float32), p), "'Z'") ==
          ErrorCode::dtype_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(z, meta_of({100, 2}, DType::int64)), "'P'") ==
          ErrorCode::dtype_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(meta_of({100}), p), "'Z'") == ErrorCode::shape_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(meta_of({2, 5, 10, 10}), p), "'Z'") == ErrorCode::shape_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(meta_of({5, 1, 10}), p), "2x2") == ErrorCode::shape_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(meta_of({5, 10, 1}), p), "2x2") == ErrorCode::shape_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(meta_of({1, 70000, 70000}), p), "2^32") == ErrorCode::too_large);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(z, meta_of({100, 3})), "m x 2") == ErrorCode::shape_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {}, inputs(z, meta_of({200})), "'P'") == ErrorCode::shape_mismatch);
    CHECK(plan_error("bilinear_exp_sum", {{"per_grid", 1}}, inputs(z, p), "per_grid") == ErrorCode::bad_param);
    CHECK(plan_error("bilinear_exp_sum", {{"sigma", 1}}, inputs(z, p), "sigma") == ErrorCode::bad_param);
    CHECK(plan_error("bilinear_exp_sum", {}, {{"Z", z}}, "'P'") == ErrorCode::missing_role);
    Job job("bilinear_exp_sum", {{"Z", {z, nullptr}}, {"P", {p, nullptr}}}, {{"per_grid", false}});
    CHECK(!job.plan().output);
}

TEST_CASE("exp_of on DoubleVec lanes is within 2 ulp of std::exp", "[bilinear][exp]") {
    using shmpool::kernels::DoubleVec;
    std::vector<double> xs = {0.0, -0.0, 1.0, -1.0, 0.5 * M_LN2, -0.5 * M_LN2, 709.78, 709.79, 710.0, 1e300,
                              -708.4, -720.0, -744.0, -745.1, -746.0, -1e300, 1e-300, -1e-300, INFINITY, -INFINITY,
                              std::nan("")};
    std::mt19937_64 rng(13);
    std::uniform_real_distribution<double> wide(-750.0, 712.0), narrow(-2.0, 2.0);
    for (int i = 0; i < 200000; ++i) xs.push_back(i % 2 ? wide(rng) : narrow(rng));
    while (xs.size() % DoubleVec::size()) xs.push_back(0.25);
    for (size_t i = 0; i < xs.size(); i += DoubleVec::size()) {
        DoubleVec got = shmpool::kernels::exp_of(DoubleVec(xs.data() + i, shmpool::kernels::stdx::element_aligned));
        for (size_t l = 0; l < DoubleVec::size(); ++l) {
            double x = xs[i + l], want = std::exp(x), g = got[l];
            INFO("exp(" << x << "): got " << g << ", want " << want);
            if (std::isnan(want) || std::isinf(want) || want == 0) {
                REQUIRE((std::isnan(want) ? std::isnan(g) : g == want));
            } else if (want < DBL_MIN) {
                REQUIRE(std::fabs(g - want) <= 2 * std::numeric_limits<double>::denorm_min());
            } else {
                REQUIRE(std::fabs(g - want) <= 2 * DBL_EPSILON * want);
            }
        }
    }
}
