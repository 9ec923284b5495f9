// Unit tests of the cdist kernel: every metric against a long double serial loop, over many
// shapes and chunkings, euclidean identical to the euclidean kernel, and its param checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_job.h"

namespace {

using namespace kernel_test;

// scipy's definitions, in long double, one pair at a time.
long double reference_pair(const std::string& metric, const double* x, const double* y, uint64_t d, double p) {
    long double acc = 0, xx = 0, yy = 0;
    for (uint64_t k = 0; k < d; ++k) {
        long double diff = std::fabs((long double)x[k] - (long double)y[k]);
        if (metric == "euclidean" || metric == "sqeuclidean") acc += diff * diff;
        if (metric == "cityblock") acc += diff;
        if (metric == "chebyshev") acc = std::max(acc, diff);
        if (metric == "minkowski") acc += std::pow(diff, (long double)p);
        if (metric == "cosine") acc += (long double)x[k] * y[k], xx += (long double)x[k] * x[k], yy += (long double)y[k] * y[k];
    }
    if (metric == "euclidean") return std::sqrt(acc);
    if (metric == "minkowski") return std::pow(acc, 1.0L / p);
    if (metric == "cosine") {
        long double cosine = acc / (std::sqrt(xx) * std::sqrt(yy));
        return 1.0L - std::clamp(cosine, -1.0L, 1.0L);
    }
    return acc;
}

std::vector<double> reference_cdist(const std::string& metric, const std::vector<double>& x,
                                    const std::vector<double>& y, uint64_t d, double p = 2) {
    uint64_t n = x.size() / d, m = y.size() / d;
    std::vector<double> out(n * m);
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = 0; j < m; ++j) out[i * m + j] = double(reference_pair(metric, &x[i * d], &y[j * d], d, p));
    return out;
}

// |got - want| <= rel·|want| + abs for every element (false for NaN unless both are NaN).
void require_close(const std::vector<double>& got, const std::vector<double>& want, double rel, double abs = 0) {
    REQUIRE(got.size() == want.size());
    size_t bad = 0, first_bad = 0;
    for (size_t e = 0; e < got.size(); ++e) {
        bool close = std::fabs(got[e] - want[e]) <= rel * std::fabs(want[e]) + abs || (std::isnan(got[e]) && std::isnan(want[e]));
        if (!close && bad++ == 0) first_bad = e;
    }
    INFO(bad << " bad; first bad element " << first_bad << ": got " << got[first_bad] << ", want " << want[first_bad]);
    REQUIRE(bad == 0);
}

json metric_params(const std::string& metric, double p) {
    json params = {{"metric", metric}};
    if (metric == "minkowski") params["p"] = p;
    return params;
}

double tolerance_of(const std::string& metric) { return metric == "euclidean" ? 1e-9 : 1e-12; }

void check_cdist(const std::string& metric, const std::vector<double>& x, const std::vector<double>& y, uint64_t d,
                 double p = 2) {
    uint64_t n = x.size() / d, m = y.size() / d;
    auto want = reference_cdist(metric, x, y, d, p);
    for (uint64_t chunk : {uint64_t(1), uint64_t(3), uint64_t(7), n, n + 5}) {
        INFO(metric << " p " << p << ", X " << n << "x" << d << ", Y " << m << "x" << d << ", chunk " << chunk);
        Job job("cdist", {{"X", input_of(x, {n, d}, DType::float64)}, {"Y", input_of(y, {m, d}, DType::float64)}},
                metric_params(metric, p));
        REQUIRE(job.plan().rows == n);
        REQUIRE(job.plan().output->shape == meta_of({n, m}).shape);
        REQUIRE(job.plan().output->dtype == DType::float64);
        job.run_all(chunk, unsigned(chunk));
        require_close(job.output_as<double>(), want, tolerance_of(metric), metric == "cosine" ? 1e-14 : 0);
    }
}

const std::vector<std::string> kMetrics = {"euclidean", "sqeuclidean", "cityblock", "chebyshev", "cosine", "minkowski"};

}  // namespace

TEST_CASE("cdist matches a long double reference for every metric", "[cdist]") {
    // d below, at and above the SIMD width (any width up to 8), and the BLAS path (d > 16).
    for (const auto& metric : kMetrics)
        for (uint64_t d : {1, 3, 7, 8, 9, 16, 17, 64, 100}) {
            auto x = random_matrix(23, d, unsigned(d)), y = random_matrix(19, d, unsigned(d) + 100, 2.0, 0.5);
            check_cdist(metric, x, y, d, 3.0);
        }
}

TEST_CASE("cdist blocks of Y rows and tiles of Y columns, ragged", "[cdist]") {
    // d = 64 (blocked loop): 256 rows of Y per block, so 600 rows make three, the last short.
    auto x = random_matrix(9, 64, 1), y = random_matrix(600, 64, 2);
    for (const auto& metric : {"cityblock", "chebyshev", "cosine", "minkowski"}) check_cdist(metric, x, y, 64, 1.5);
    // d = 2 (transposed loop): tiles of 2048 points, 4500 make three.
    auto x2 = random_matrix(5, 2, 3), y2 = random_matrix(4500, 2, 4);
    for (const auto& metric : {"cityblock", "chebyshev", "cosine", "minkowski"}) check_cdist(metric, x2, y2, 2, 2.5);
}

TEST_CASE("cdist minkowski for p = 1, 2, 1.5, 3, 7.25 and large p", "[cdist]") {
    auto x = random_matrix(13, 10, 5), y = random_matrix(11, 10, 6, 3.0);
    for (double p : {1.0, 2.0, 1.5, 3.0, 7.25, 40.0}) check_cdist("minkowski", x, y, 10, p);
}

TEST_CASE("cdist euclidean is the euclidean kernel, bit for bit", "[cdist]") {
    for (uint64_t d : {3, 40}) {  // the direct path and the BLAS path
        auto x = random_matrix(31, d, 7), y = random_matrix(29, d, 8);
        std::map<std::string, Input> inputs = {{"X", input_of(x, {31, d}, DType::float64)},
                                               {"Y", input_of(y, {29, d}, DType::float64)}};
        Job cdist("cdist", inputs, json::object()), euclidean("euclidean", inputs);
        cdist.run_all(4);  // the same ranges: BLAS's rounding may depend on the block shapes
        euclidean.run_all(4);
        auto a = cdist.output_as<double>(), b = euclidean.output_as<double>();
        REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
    }
}

TEST_CASE("cdist sqeuclidean stays accurate where |x|² + |y|² - 2x·y cancels", "[cdist]") {
    for (uint64_t d : {3, 17, 64}) {
        INFO("d " << d);
        // far from the origin: every entry of the BLAS path falls under the cancellation guard
        check_cdist("sqeuclidean", random_matrix(20, d, 9, 1.0, 1000.0), random_matrix(21, d, 10, 1.0, 1000.0), d);
        auto x = random_matrix(15, d, 11, 50.0, 100.0);
        check_cdist("sqeuclidean", x, x, d);  // identical points: exactly 0 on the diagonal
        Job job("cdist", {{"X", input_of(x, {15, d}, DType::float64)}, {"Y", input_of(x, {15, d}, DType::float64)}},
                {{"metric", "sqeuclidean"}});
        job.run_all(2);
        auto out = job.output_as<double>();
        for (uint64_t i = 0; i < 15; ++i) CHECK(out[i * 15 + i] == 0.0);
    }
}

TEST_CASE("cdist cosine: zero vectors give NaN as scipy 1.10, parallel 0, opposite 2", "[cdist]") {
    std::vector<double> x = {0, 0, 0, 1, 2, 3, -2, -4, -6};
    std::vector<double> y = {0, 0, 0, 2, 4, 6};
    Job job("cdist", {{"X", input_of(x, {3, 3}, DType::float64)}, {"Y", input_of(y, {2, 3}, DType::float64)}},
            {{"metric", "cosine"}});
    job.run_all(1);
    auto out = job.output_as<double>();
    CHECK(std::isnan(out[0]));  // zero vs zero
    CHECK(std::isnan(out[1]));  // zero vs nonzero
    CHECK(std::isnan(out[2]));  // nonzero vs zero
    CHECK(std::fabs(out[3]) <= 1e-15);
    CHECK(out[3] >= 0.0);  // the cosine is clipped to 1, never beyond
    CHECK(std::isnan(out[4]));
    CHECK(std::fabs(out[5] - 2.0) <= 1e-15);
    CHECK(out[5] <= 2.0);
}

TEST_CASE("cdist cosine of a vector with itself is in [0, 1e-15]: the cosine is clipped", "[cdist]") {
    for (uint64_t d : {3, 20}) {  // the transposed and the blocked loop
        auto x = random_matrix(200, d, unsigned(d) + 30);
        std::vector<double> negated(x.size());
        for (size_t e = 0; e < x.size(); ++e) negated[e] = -x[e];
        Job self("cdist", {{"X", input_of(x, {200, d}, DType::float64)}, {"Y", input_of(x, {200, d}, DType::float64)}},
                 {{"metric", "cosine"}});
        Job opposite("cdist", {{"X", input_of(x, {200, d}, DType::float64)},
                               {"Y", input_of(negated, {200, d}, DType::float64)}},
                     {{"metric", "cosine"}});
        self.run_all(17);
        opposite.run_all(17);
        auto same = self.output_as<double>(), flipped = opposite.output_as<double>();
        for (uint64_t i = 0; i < 200; ++i) {
            INFO("d " << d << ", row " << i);  // about a quarter of them round to a cosine above 1
            REQUIRE(same[i * 201] >= 0.0);
            REQUIRE(same[i * 201] <= 1e-15);
            REQUIRE(flipped[i * 201] <= 2.0);
            REQUIRE(flipped[i * 201] >= 2.0 - 1e-15);
        }
    }
}

TEST_CASE("cdist run writes only the rows of its range", "[cdist]") {
    for (const auto& metric : kMetrics) {
        auto x = random_matrix(12, 20, 12), y = random_matrix(7, 20, 13);
        Job job("cdist", {{"X", input_of(x, {12, 20}, DType::float64)}, {"Y", input_of(y, {7, 20}, DType::float64)}},
                metric_params(metric, 3));
        job.start()->run(4, 9);
        auto out = job.output_as<double>();
        for (uint64_t e = 0; e < out.size(); ++e) {
            INFO(metric << " element " << e);
            REQUIRE(std::isnan(out[e]) == !(e >= 4 * 7 && e < 9 * 7));
        }
        CHECK_THROWS_AS(job.start()->run(0, 13), KernelError);
    }
}

TEST_CASE("cdist validates metric, p, inputs", "[cdist][validation]") {
    std::map<std::string, ArrayMeta> xy = {{"X", meta_of({10, 3})}, {"Y", meta_of({4, 3})}};
    CHECK(plan_error("cdist", {{"metric", "hamming"}}, xy, "'metric'") == ErrorCode::bad_param);
    CHECK(plan_error("cdist", {{"metric", 3}}, xy, "'metric'") == ErrorCode::bad_param);
    CHECK(plan_error("cdist", {{"metric", "euclidean"}, {"p", 3}}, xy, "'p'") == ErrorCode::bad_param);
    CHECK(plan_error("cdist", {{"p", 3}}, xy, "'p'") == ErrorCode::bad_param);  // default metric is euclidean
    for (json p : {json(0.5), json(-1), json("2"), json(nullptr), json(NAN)}) {
        INFO("p " << p.dump());
        CHECK(plan_error("cdist", {{"metric", "minkowski"}, {"p", p}}, xy, "'p'") == ErrorCode::bad_param);
    }
    CHECK(plan_error("cdist", {{"w", 1}}, xy, "'w'") == ErrorCode::bad_param);
    CHECK(plan_error("cdist", json::object(), {{"X", meta_of({10, 3}, DType::float32)}, {"Y", meta_of({4, 3})}}, "'X'") ==
          ErrorCode::dtype_mismatch);
    CHECK(plan_error("cdist", json::object(), {{"X", meta_of({10, 3})}, {"Y", meta_of({4, 2})}}, "4x2") ==
          ErrorCode::shape_mismatch);
    CHECK(plan_error("cdist", json::object(), {{"X", meta_of({10, 3})}}, "'Y'") == ErrorCode::missing_role);
    uint64_t big = uint64_t(1) << 31;
    CHECK(plan_error("cdist", {{"metric", "cosine"}}, {{"X", meta_of({big * 4, 3})}, {"Y", meta_of({big, 3})}},
                     "overflows") == ErrorCode::too_large);
    Plan plan = find_kernel("cdist")->plan(PlanInput{{{"metric", "minkowski"}, {"p", 1.5}}, xy});
    CHECK(plan.rows == 10);
    CHECK(plan.reduce == ReduceOp::none);
    CHECK(find_kernel("cdist")->plan(PlanInput{json(nullptr), xy}).output->shape == meta_of({10, 4}).shape);
}
