// Unit tests of kernel plugins: loading and refusing the real .so files built from examples/
// and tests/plugins, and running their kernels in-process against plain serial loops.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "worker/kernel.h"
#include "worker/plugin_kernel.h"
#include "worker/plugin_loader.h"

#include "kernel_job.h"

namespace {

using namespace shmpool;
using nlohmann::json;
using kernel_test::meta_of;

struct Loaded {
    PluginLoadReport example, tests;
};

// Both plugin dirs, loaded once per process: registration is process-wide and permanent.
const Loaded& loaded() {
    static const Loaded report{load_plugins(SHMPOOL_EXAMPLE_PLUGIN_DIR), load_plugins(SHMPOOL_TEST_PLUGIN_DIR)};
    return report;
}

const Kernel& plugin(const std::string& name) {
    loaded();
    const Kernel* kernel = find_kernel(name);
    REQUIRE(kernel != nullptr);
    REQUIRE(dynamic_cast<const PluginKernel*>(kernel) != nullptr);
    return *kernel;
}

// How many of `lines` contain every one of `parts`.
size_t lines_with(const std::vector<std::string>& lines, std::initializer_list<std::string> parts) {
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& line) {
        return std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return line.find(p) != line.npos; });
    });
}

std::vector<double> random_values(size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-2.0, 2.0);
    std::vector<double> values(n);
    for (auto& v : values) v = uniform(rng);
    return values;
}

Plan plan_of(const Kernel& k, const std::map<std::string, ArrayMeta>& inputs, const json& params = json::object()) {
    return k.plan(PlanInput{params, inputs});
}

ErrorCode plan_error(const Kernel& k, const std::map<std::string, ArrayMeta>& inputs, const json& params,
                     const std::string& message_part) {
    try {
        plan_of(k, inputs, params);
    } catch (const Error& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).find(message_part) != std::string::npos);
        return e.code();
    }
    FAIL("plan accepted " << params.dump());
    return ErrorCode::internal;
}

// weighted_dot's inputs for an n×d job with values from `seed`.
struct DotJob {
    uint64_t n, d;
    std::vector<double> X, w, y;
    json params;

    DotJob(uint64_t rows, uint64_t cols, double offset)
        : n(rows), d(cols), X(random_values(n * d, 11)), w(random_values(d, 12)),
          y(n, std::numeric_limits<double>::quiet_NaN()), params({{"offset", offset}}) {}

    std::map<std::string, ArrayMeta> metas() const { return {{"X", meta_of({n, d})}, {"w", meta_of({d})}}; }
    std::unique_ptr<KernelRun> start(const Kernel& k) {
        RunContext ctx{params, {}, ArrayView{meta_of({n}), y.data(), y.data()}};
        ctx.inputs.emplace("X", ArrayView{meta_of({n, d}), X.data(), nullptr});
        ctx.inputs.emplace("w", ArrayView{meta_of({d}), w.data(), nullptr});
        return k.start(ctx);
    }
    // Row i by a plain serial loop, and a bound on its rounding error.
    std::pair<double, double> reference(uint64_t i) const {
        double sum = params["offset"].get<double>(), scale = std::abs(sum);
        for (uint64_t j = 0; j < d; ++j) sum += X[i * d + j] * w[j], scale += std::abs(X[i * d + j] * w[j]);
        return {sum, 1e-14 * double(d + 1) * scale + 1e-300};
    }
};

}  // namespace

TEST_CASE("load_plugins loads the example and the valid test plugin, refuses the broken ones", "[plugins]") {
    const Loaded& report = loaded();
    CHECK(report.example.refused.empty());
    REQUIRE(report.example.loaded.size() == 1);
    CHECK(lines_with(report.example.loaded, {"weighted_dot.so", "'weighted_dot'"}) == 1);

    INFO("loaded: " << json(report.tests.loaded).dump() << "\nrefused: " << json(report.tests.refused).dump());
    REQUIRE(report.tests.loaded.size() == 1);
    CHECK(lines_with(report.tests.loaded, {"test_plugin_probe.so", "'plugin_sum'", "'plugin_crash'"}) == 1);
    REQUIRE(report.tests.refused.size() == 3);
    CHECK(lines_with(report.tests.refused, {"test_plugin_bad_abi.so refused", "ABI version 1001", "version 1"}) == 1);
    CHECK(lines_with(report.tests.refused, {"test_plugin_no_entry.so refused", "no entry symbol 'shmpool_plugin'"}) == 1);
    CHECK(lines_with(report.tests.refused, {"test_plugin_dup_rbf.so refused", "'rbf'", "built-in kernel"}) == 1);

    for (const char* refused : {"bad_abi_kernel", "no_entry_kernel", "dup_first_kernel"}) CHECK(find_kernel(refused) == nullptr);
    REQUIRE(find_kernel("rbf") != nullptr);
    CHECK(dynamic_cast<const PluginKernel*>(find_kernel("rbf")) == nullptr);
    auto all = all_kernels();
    CHECK(std::count_if(all.begin(), all.end(), [](const Kernel* k) { return k->name() == "weighted_dot"; }) == 1);
}

TEST_CASE("load_plugins refuses a kernel name an earlier plugin took, and reports an unreadable dir", "[plugins]") {
    loaded();
    PluginLoadReport again = load_plugins(SHMPOOL_EXAMPLE_PLUGIN_DIR);
    CHECK(again.loaded.empty());
    REQUIRE(again.refused.size() == 1);
    CHECK(lines_with(again.refused, {"weighted_dot.so refused", "'weighted_dot'", "kernel of plugin"}) == 1);

    PluginLoadReport missing = load_plugins("/nonexistent/shmpool-plugins");
    CHECK(missing.loaded.empty());
    REQUIRE(missing.refused.size() == 1);
    CHECK(lines_with(missing.refused, {"/nonexistent/shmpool-plugins", "cannot list"}) == 1);
}

TEST_CASE("weighted_dot describes itself from its C descriptor", "[plugins]") {
    const Kernel& k = plugin("weighted_dot");
    CHECK(k.roles() == std::vector<std::string>{"X", "w"});
    CHECK(k.describe_params().contains("offset"));
    CHECK(k.description().find("X w") != std::string::npos);
    CHECK_FALSE(k.test_only());
}

TEST_CASE("weighted_dot plans an n float64 output and rejects bad jobs with stable codes", "[plugins]") {
    const Kernel& k = plugin("weighted_dot");
    std::map<std::string, ArrayMeta> good{{"X", meta_of({7, 3})}, {"w", meta_of({3})}};
    Plan plan = plan_of(k, good, {{"offset", 2.5}});
    REQUIRE(plan.output);
    CHECK(plan.output->dtype == DType::float64);
    CHECK(plan.output->shape == meta_of({7}).shape);
    CHECK(plan.rows == 7);
    CHECK(plan.reduce == ReduceOp::none);
    CHECK(plan_of(k, good, json::object()).rows == 7);

    auto with = [&](const char* role, ArrayMeta meta) {
        auto inputs = good;
        inputs[role] = meta;
        return inputs;
    };
    CHECK(plan_error(k, with("w", meta_of({3}, DType::float32)), {}, "'w' must be float64") == ErrorCode::dtype_mismatch);
    CHECK(plan_error(k, with("X", meta_of({21})), {}, "'X' must have 2 dims") == ErrorCode::shape_mismatch);
    CHECK(plan_error(k, with("w", meta_of({4})), {}, "4 elements") == ErrorCode::shape_mismatch);
    CHECK(plan_error(k, good, {{"scale", 1}}, "scale") == ErrorCode::bad_param);
    CHECK(plan_error(k, good, {{"offset", "x"}}, "offset") == ErrorCode::bad_param);
    CHECK(plan_error(k, {{"X", meta_of({7, 3})}}, {}, "'w'") == ErrorCode::missing_role);
    CHECK(plan_error(k, with("Y", meta_of({3})), {}, "'Y'") == ErrorCode::unknown_role);
}

TEST_CASE("weighted_dot matches a serial loop over ranges run in any order", "[plugins]") {
    const Kernel& k = plugin("weighted_dot");
    for (uint64_t chunk : {1, 7, 64, 1001}) {
        DotJob job(1001, 17, 0.75);
        REQUIRE(plan_of(k, job.metas(), job.params).rows == job.n);
        auto run = job.start(k);
        std::vector<std::pair<uint64_t, uint64_t>> ranges;
        for (uint64_t b = 0; b < job.n; b += chunk) ranges.emplace_back(b, std::min(job.n, b + chunk));
        std::shuffle(ranges.begin(), ranges.end(), std::mt19937(unsigned(chunk)));
        for (auto [b, e] : ranges) run->run(b, e);
        run->run(ranges.front().first, ranges.front().second);  // a retried range is harmless
        for (uint64_t i = 0; i < job.n; ++i) {
            auto [ref, tol] = job.reference(i);
            INFO("chunk " << chunk << " row " << i);
            REQUIRE(std::abs(job.y[i] - ref) <= tol);
        }
    }
}

TEST_CASE("weighted_dot writes only its range's rows and fails a range out of bounds", "[plugins]") {
    const Kernel& k = plugin("weighted_dot");
    DotJob job(50, 4, 0);
    auto run = job.start(k);
    run->run(10, 20);
    for (uint64_t i = 0; i < job.n; ++i) CHECK(std::isnan(job.y[i]) == (i < 10 || i >= 20));
    CHECK_THROWS_AS(run->run(40, 51), KernelError);
    CHECK_THROWS_WITH(run->run(30, 20), Catch::Contains("outside [0, 50)"));
}

TEST_CASE("plugin reductions come back through the C partial", "[plugins]") {
    const Kernel& k = plugin("plugin_sum");
    std::vector<double> x = random_values(997, 5);
    std::map<std::string, ArrayMeta> metas{{"x", meta_of({x.size()})}};
    double sum = 0, max = -1e300;
    int64_t argmax = -1;
    for (size_t i = 0; i < x.size(); ++i) {
        sum += x[i];
        if (x[i] > max) max = x[i], argmax = int64_t(i);
    }
    for (const char* op : {"sum", "mean", "max"}) {
        json params = {{"op", op}};
        Plan plan = plan_of(k, metas, params);
        CHECK_FALSE(plan.output);
        RunContext ctx{params, {{"x", ArrayView{meta_of({x.size()}), x.data(), nullptr}}}, {}};
        auto run = k.start(ctx);
        std::vector<Partial> parts;
        for (uint64_t b = 0; b < x.size(); b += 100) parts.push_back(run->reduce(b, std::min<uint64_t>(x.size(), b + 100)));
        Reduced r = combine_partials(plan.reduce, parts);
        INFO(op);
        if (std::string(op) == "max") {
            CHECK(r.value == max);
            CHECK(r.index == argmax);
        } else {
            double want = std::string(op) == "sum" ? sum : sum / double(x.size());
            CHECK(std::abs(r.value - want) <= 1e-12 * std::abs(want) + 1e-12);
        }
    }
    CHECK(plan_error(k, metas, {{"op", "median"}}, "median") == ErrorCode::bad_param);
}

TEST_CASE("a plugin plan that crashes, hangs or fails fails the plan, not its caller", "[plugins]") {
    const Kernel& k = plugin("plugin_crash");
    CHECK(plan_of(k, {}).rows == 8);
    CHECK(plan_error(k, {}, {{"where", "plan"}, {"how", "error"}}, "failed on purpose in plan") == ErrorCode::bad_param);
    CHECK(plan_error(k, {}, {{"where", "plan"}, {"how", "segv"}}, "crashed: signal 11") == ErrorCode::internal);
    CHECK(plan_error(k, {}, {{"where", "plan"}, {"how", "hang"}}, "did not finish within 2 s") == ErrorCode::internal);
    int status = 0;
    CHECK(waitpid(-1, &status, WNOHANG) <= 0);  // every plan child was reaped
}

TEST_CASE("a plugin's start or run error is a KernelError with its message", "[plugins]") {
    const Kernel& k = plugin("plugin_crash");
    json in_start = {{"where", "start"}, {"how", "error"}}, in_run = {{"where", "run"}, {"how", "error"}};
    CHECK_THROWS_WITH(k.start(RunContext{in_start, {}, {}}), "plugin_crash failed on purpose in start");
    auto run = k.start(RunContext{in_run, {}, {}});
    CHECK_THROWS_AS(run->run(0, 8), KernelError);
    CHECK_THROWS_WITH(run->reduce(0, 8), "plugin_crash failed on purpose in run");
}
