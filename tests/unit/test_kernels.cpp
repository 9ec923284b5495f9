// Unit tests of the built-in kernels: every output element against a plain serial reference,
// over ranges of many sizes run in any order, and every validation error with its code.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "worker/kernel.h"

#include "kernel_job.h"

namespace {

using namespace shmpool;
using nlohmann::json;
using namespace kernel_test;

// Every element within `rel_tol` of the reference (relative; a zero reference needs an exact 0).
void require_close(const std::vector<double>& got, const std::vector<double>& want, double rel_tol) {
    REQUIRE(got.size() == want.size());
    size_t bad = 0, first_bad = 0;
    for (size_t e = 0; e < got.size(); ++e) {
        bool close = std::fabs(got[e] - want[e]) <= rel_tol * std::fabs(want[e]);  // false for NaN
        if (!close && bad++ == 0) first_bad = e;
    }
    INFO("first bad element " << first_bad << ": got " << got[first_bad] << ", want " << want[first_bad]);
    REQUIRE(bad == 0);
}

std::vector<double> reference_euclidean(const std::vector<double>& x, const std::vector<double>& y, uint64_t d) {
    uint64_t n = x.size() / d, m = y.size() / d;
    std::vector<double> out(n * m);
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = 0; j < m; ++j) {
            long double sum = 0;
            for (uint64_t k = 0; k < d; ++k) {
                long double diff = (long double)x[i * d + k] - y[j * d + k];
                sum += diff * diff;
            }
            out[i * m + j] = double(std::sqrt(sum));
        }
    return out;
}

// The seed's NumPy formula, element by element: L = sqrt(Rx²+Ry²+...); L*L*L/12 + L*L/6.
std::vector<double> reference_rbf(const std::vector<double>& points, uint64_t d) {
    uint64_t n = points.size() / d;
    std::vector<double> out(n * n);
    for (uint64_t i = 0; i < n; ++i)
        for (uint64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (uint64_t k = 0; k < d; ++k) {
                double r = points[i * d + k] - points[j * d + k];
                sum += r * r;
            }
            double l = std::sqrt(sum);
            out[i * n + j] = l * l * l / 12 + l * l / 6;
        }
    return out;
}

void check_euclidean(const std::vector<double>& x, const std::vector<double>& y, uint64_t d) {
    uint64_t n = x.size() / d, m = y.size() / d;
    auto want = reference_euclidean(x, y, d);
    for (uint64_t chunk : {uint64_t(1), uint64_t(3), uint64_t(7), uint64_t(64), uint64_t(65), n, n + 5}) {
        INFO("X " << n << "x" << d << ", Y " << m << "x" << d << ", chunk " << chunk);
        Job job("euclidean", {{"X", {meta_of({n, d}), x.data()}}, {"Y", {meta_of({m, d}), y.data()}}});
        REQUIRE(job.plan().rows == n);
        REQUIRE(job.plan().output->shape == meta_of({n, m}).shape);
        require_close(job.run_each<double>(chunk, unsigned(chunk)), want, 1e-9);
    }
}

void check_rbf(const std::vector<double>& points, uint64_t d, std::vector<uint64_t> chunks) {
    uint64_t n = points.size() / d;
    auto want = reference_rbf(points, d);
    for (uint64_t chunk : chunks) {
        INFO("points " << n << "x" << d << ", chunk " << chunk);
        Job job("rbf", {{"points", {meta_of({n, d}), points.data()}}});
        REQUIRE(job.plan().rows == n);
        require_close(job.run_each<double>(chunk, unsigned(chunk)), want, 1e-12);
    }
}

std::map<std::string, ArrayMeta> xy_metas(ArrayMeta x, ArrayMeta y) { return {{"X", x}, {"Y", y}}; }

}  // namespace

TEST_CASE("registry lists the built-in kernels by name", "[kernels]") {
    std::vector<const Kernel*> all = all_kernels();
    for (std::string name : {"euclidean", "rbf", "noop", "sleep"}) {
        const Kernel* kernel = find_kernel(name);
        REQUIRE(kernel != nullptr);
        CHECK(kernel->name() == name);
        CHECK(kernel->describe_params().is_object());
        CHECK(!kernel->description().empty());
        CHECK(std::count(all.begin(), all.end(), kernel) == 1);
    }
    CHECK(find_kernel("nope") == nullptr);
    CHECK(find_kernel("") == nullptr);
    CHECK(find_kernel("euclidean")->roles() == std::vector<std::string>{"X", "Y"});
    CHECK(find_kernel("rbf")->roles() == std::vector<std::string>{"points"});
    CHECK(find_kernel("noop")->roles().empty());
    CHECK(find_kernel("sleep")->describe_params().contains("ms"));
}

TEST_CASE("euclidean matches a long double reference, small d (direct path)", "[kernels][euclidean]") {
    check_euclidean(random_matrix(1, 1, 1), random_matrix(1, 1, 2), 1);
    check_euclidean(random_matrix(1, 5, 3), random_matrix(7, 5, 4), 5);
    check_euclidean(random_matrix(37, 5, 5), random_matrix(41, 5, 6), 5);
    check_euclidean(random_matrix(37, 1, 7), random_matrix(41, 1, 8), 1);
    check_euclidean(random_matrix(70, 16, 9, 3.0), random_matrix(9, 16, 10, 3.0), 16);
    check_euclidean(random_matrix(5, 3, 11), random_matrix(4500, 3, 12), 3);  // several column tiles
}

TEST_CASE("euclidean matches a long double reference, large d (BLAS path)", "[kernels][euclidean]") {
    check_euclidean(random_matrix(1, 17, 21), random_matrix(1, 17, 22), 17);
    check_euclidean(random_matrix(37, 17, 23), random_matrix(41, 17, 24), 17);
    check_euclidean(random_matrix(130, 64, 25, 2.0, 1.0), random_matrix(45, 64, 26), 64);  // > 2 row blocks
    check_euclidean(random_matrix(3, 200, 27), random_matrix(301, 200, 28), 200);
}

TEST_CASE("euclidean of identical points is exactly zero", "[kernels][euclidean]") {
    for (uint64_t d : {1, 3, 16, 17, 64}) {
        auto x = random_matrix(33, d, unsigned(d), 50.0, 100.0);
        check_euclidean(x, x, d);  // the diagonal must be exact 0, every other entry within 1e-9
    }
}

TEST_CASE("euclidean is accurate for near-identical points far from the origin", "[kernels][euclidean]") {
    // Y[j] = base + t_j·dir with t_j from 1e-9 to 10 (log spaced): |x|² + |y|² - 2x·y cancels
    // catastrophically for small t, and t sweeps across the cutoff of the BLAS path.
    for (uint64_t d : {2, 17, 64}) {
        auto base = random_matrix(1, d, 40, 1.0, 1000.0);
        auto dir = random_matrix(1, d, 41);
        std::vector<double> y;
        for (int step = 0; step <= 100; ++step) {
            double t = std::pow(10.0, -9.0 + step / 10.0);
            for (uint64_t k = 0; k < d; ++k) y.push_back(base[k] + t * dir[k]);
        }
        auto x = base;
        x.insert(x.end(), y.begin(), y.begin() + 5 * d);
        check_euclidean(x, y, d);
    }
}

TEST_CASE("euclidean run writes only the rows of its range", "[kernels][euclidean]") {
    for (uint64_t d : {3, 20}) {  // direct path and BLAS path
        uint64_t n = 40, m = 23;
        auto x = random_matrix(n, d, 50), y = random_matrix(m, d, 51);
        Job job("euclidean", {{"X", {meta_of({n, d}), x.data()}}, {"Y", {meta_of({m, d}), y.data()}}});
        job.start()->run(10, 17);
        auto output = job.output_as<double>();
        for (uint64_t e = 0; e < n * m; ++e) {
            bool in_range = e >= 10 * m && e < 17 * m;
            INFO("d " << d << ", element " << e);
            REQUIRE(std::isnan(output[e]) == !in_range);
        }
        CHECK_THROWS_AS(job.start()->run(0, n + 1), KernelError);
        CHECK_THROWS_AS(job.start()->run(5, 4), KernelError);
        CHECK_NOTHROW(job.start()->run(n, n));
    }
}

TEST_CASE("rbf matches the seed's NumPy formula", "[kernels][rbf]") {
    check_rbf(random_matrix(1, 3, 60), 3, {1, 2});
    check_rbf(random_matrix(37, 3, 61), 3, {1, 5, 36, 37, 100});
    check_rbf(random_matrix(41, 1, 62), 1, {3, 40});
    check_rbf(random_matrix(29, 2, 63, 10.0), 2, {4, 29});
    check_rbf(random_matrix(31, 5, 64), 5, {7});
    check_rbf(random_matrix(2100, 3, 65), 3, {333});  // several column tiles, ragged last one
    auto twice = random_matrix(20, 3, 66);
    twice.insert(twice.end(), twice.begin(), twice.end());  // every point twice: r = 0 off the diagonal
    check_rbf(twice, 3, {6});
}

TEST_CASE("rbf run writes only the rows of its range", "[kernels][rbf]") {
    uint64_t n = 30;
    auto points = random_matrix(n, 3, 70);
    Job job("rbf", {{"points", {meta_of({n, 3}), points.data()}}});
    job.start()->run(29, 30);
    auto output = job.output_as<double>();
    for (uint64_t e = 0; e < n * n; ++e) REQUIRE(std::isnan(output[e]) == (e < 29 * n));
    CHECK_THROWS_AS(job.start()->run(0, 31), KernelError);
}

TEST_CASE("start() rejects an output that does not match the plan", "[kernels]") {
    auto x = random_matrix(4, 3, 80);
    Job job("euclidean", {{"X", {meta_of({4, 3}), x.data()}}, {"Y", {meta_of({4, 3}), x.data()}}});
    const Kernel& kernel = *find_kernel("euclidean");
    RunContext wrong_shape = job.context();
    wrong_shape.output.meta = meta_of({4, 5});
    CHECK_THROWS_AS(kernel.start(wrong_shape), KernelError);
    RunContext read_only = job.context();
    read_only.output.writable = nullptr;
    CHECK_THROWS_AS(kernel.start(read_only), KernelError);
    RunContext missing_y = job.context();
    missing_y.inputs.erase("Y");
    CHECK_THROWS_AS(kernel.start(missing_y), KernelError);
    CHECK_NOTHROW(kernel.start(job.context()));
}

TEST_CASE("euclidean validates roles, dtypes, shapes, sizes and params", "[kernels][euclidean][validation]") {
    auto x = meta_of({10, 3}), y = meta_of({12, 3});
    json none = json::object();
    CHECK(plan_error("euclidean", none, xy_metas(meta_of({10, 3}, DType::float32), y), "'X'") ==
          ErrorCode::dtype_mismatch);
    CHECK(plan_error("euclidean", none, xy_metas(x, meta_of({12, 3}, DType::int64)), "int64") ==
          ErrorCode::dtype_mismatch);
    CHECK(plan_error("euclidean", none, xy_metas(meta_of({30}), y), "'X'") == ErrorCode::shape_mismatch);
    CHECK(plan_error("euclidean", none, xy_metas(x, meta_of({2, 6, 3})), "'Y'") == ErrorCode::shape_mismatch);
    CHECK(plan_error("euclidean", none, xy_metas(x, meta_of({12, 4})), "12x4") == ErrorCode::shape_mismatch);
    uint64_t big = uint64_t(1) << 31;
    CHECK(plan_error("euclidean", none, xy_metas(meta_of({big * 4, 3}), meta_of({big, 3})), "overflows") ==
          ErrorCode::too_large);
    CHECK(plan_error("euclidean", none, xy_metas(meta_of({1, 3}), meta_of({big, 3})), "BLAS") ==
          ErrorCode::too_large);
    CHECK(plan_error("euclidean", {{"rows", 3}}, xy_metas(x, y), "'rows'") == ErrorCode::bad_param);
    CHECK(plan_error("euclidean", json::array({1}), xy_metas(x, y), "object") == ErrorCode::bad_param);
    CHECK(plan_error("euclidean", none, {{"X", x}}, "'Y'") == ErrorCode::missing_role);
    CHECK(plan_error("euclidean", none, {{"X", x}, {"Y", y}, {"Z", y}}, "'Z'") == ErrorCode::unknown_role);
    CHECK(find_kernel("euclidean")->plan(PlanInput{json(nullptr), xy_metas(x, y)}).rows == 10);
}

TEST_CASE("rbf validates its points", "[kernels][rbf][validation]") {
    json none = json::object();
    CHECK(plan_error("rbf", none, {{"points", meta_of({10, 3}, DType::int64)}}, "'points'") ==
          ErrorCode::dtype_mismatch);
    CHECK(plan_error("rbf", none, {{"points", meta_of({10, 3, 1})}}, "3 dims") == ErrorCode::shape_mismatch);
    CHECK(plan_error("rbf", none, {{"points", meta_of({uint64_t(1) << 31, 3})}}, "overflows") ==
          ErrorCode::too_large);
    CHECK(plan_error("rbf", {{"sigma", 1.0}}, {{"points", meta_of({10, 3})}}, "'sigma'") == ErrorCode::bad_param);
    CHECK(plan_error("rbf", none, {}, "'points'") == ErrorCode::missing_role);
    Plan plan = find_kernel("rbf")->plan(PlanInput{none, {{"points", meta_of({10, 3})}}});
    CHECK(plan.rows == 10);
    CHECK(plan.output->shape == meta_of({10, 10}).shape);
}

TEST_CASE("noop and sleep take integer rows", "[kernels][validation]") {
    for (std::string kernel : {"noop", "sleep"}) {
        INFO(kernel);
        const Kernel& k = *find_kernel(kernel);
        CHECK(k.plan(PlanInput{json::object(), {}}).rows == 1);
        CHECK(k.plan(PlanInput{json(nullptr), {}}).rows == 1);
        CHECK(k.plan(PlanInput{{{"rows", 5}}, {}}).rows == 5);
        CHECK(k.plan(PlanInput{{{"rows", 4.0}}, {}}).rows == 4);
        CHECK(k.plan(PlanInput{json::parse(R"({"rows": 9007199254740992})"), {}}).rows == uint64_t(1) << 53);
        CHECK_FALSE(k.plan(PlanInput{{{"rows", 5}}, {}}).output.has_value());
        for (json rows : {json(0), json(-1), json(2.5), json("3"), json(true), json(nullptr), json(NAN), json(1e300),
                          json::parse("9007199254740993"), json::array({1})}) {
            INFO("rows " << rows.dump());
            CHECK(plan_error(kernel, {{"rows", rows}}, {}, "'rows'") == ErrorCode::bad_param);
        }
        CHECK(plan_error(kernel, {{"rows", 3}, {"extra", 1}}, {}, "'extra'") == ErrorCode::bad_param);
        CHECK(plan_error(kernel, json("rows"), {}, "object") == ErrorCode::bad_param);
        CHECK(plan_error(kernel, json::object(), {{"X", meta_of({2, 2})}}, "'X'") == ErrorCode::unknown_role);
    }
    CHECK(plan_error("noop", {{"ms", 3}}, {}, "'ms'") == ErrorCode::bad_param);
}

TEST_CASE("noop runs any range of its rows and nothing else", "[kernels]") {
    Job job("noop", {}, {{"rows", 10}});
    auto run = job.start();
    CHECK_NOTHROW(run->run(0, 10));
    CHECK_NOTHROW(run->run(3, 4));
    CHECK_THROWS_AS(run->run(3, 11), KernelError);
}

TEST_CASE("sleep validates ms", "[kernels][validation]") {
    CHECK(find_kernel("sleep")->plan(PlanInput{{{"ms", 0}}, {}}).rows == 1);
    CHECK(find_kernel("sleep")->plan(PlanInput{{{"ms", 0.25}, {"rows", 3}}, {}}).rows == 3);
    for (json ms : {json(-1), json(-0.5), json("5"), json(NAN), json(INFINITY), json(1e12), json(false)}) {
        INFO("ms " << ms.dump());
        CHECK(plan_error("sleep", {{"ms", ms}}, {}, "'ms'") == ErrorCode::bad_param);
    }
}

namespace {

double seconds_of_range(Job& job) {
    auto run = job.start();
    auto start = std::chrono::steady_clock::now();
    run->run(0, 1);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void ignore_alarm(int) {}

}  // namespace

TEST_CASE("sleep sleeps ms per range, through signals", "[kernels][sleep]") {
    Job quick("sleep", {}, {{"ms", 0}});
    CHECK(seconds_of_range(quick) < 0.05);

    // A SIGALRM every 5 ms without SA_RESTART interrupts nanosleep with EINTR many times.
    struct sigaction action = {}, previous = {};
    action.sa_handler = ignore_alarm;
    sigemptyset(&action.sa_mask);
    REQUIRE(sigaction(SIGALRM, &action, &previous) == 0);
    itimerval every_5ms{{0, 5000}, {0, 5000}}, off{};
    REQUIRE(setitimer(ITIMER_REAL, &every_5ms, nullptr) == 0);
    Job slow("sleep", {}, {{"ms", 60}, {"rows", 4}});
    double elapsed = seconds_of_range(slow);
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &previous, nullptr);
    CHECK(elapsed >= 0.060);
    CHECK(elapsed < 2.0);
}
