// Unit tests of worker/job_request: the checks and range split the daemon's scheduler and
// shmpool-mpi share (ragged last ranges, automatic chunks, refusals with stable codes).
#include <catch2/catch.hpp>

#include <functional>

#include "common/error.h"
#include "worker/job_request.h"

using namespace shmpool;

namespace {

ArrayMeta matrix(uint64_t rows, uint64_t cols) {
    ArrayMeta m;
    m.shape.ndim = 2;
    m.shape.dims[0] = rows, m.shape.dims[1] = cols;
    return m;
}

ErrorCode code_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.code();
    }
    FAIL("no Error thrown");
    return ErrorCode::internal;
}

}  // namespace

TEST_CASE("a range split covers every row once, the last range ragged", "[job_request]") {
    RangeSplit s{103, 10, 11};
    uint64_t next = 0;
    for (uint64_t i = 0; i < s.count; ++i) {
        CHECK(s.begin(i) == next);
        CHECK(s.end(i) > s.begin(i));
        next = s.end(i);
    }
    CHECK(next == 103);
    CHECK(s.describe(10) == "range 10 [100, 103)");
}

TEST_CASE("plan_job splits as asked, or about 8 ranges per worker", "[job_request]") {
    const Kernel& k = requested_kernel("euclidean", false, false);
    nlohmann::json params = nlohmann::json::object();
    std::map<std::string, ArrayMeta> in{{"X", matrix(1000, 4)}, {"Y", matrix(7, 4)}};
    PlannedJob given = plan_job(JobRequest{k, params, in, true, 33, 3, 1u << 24});
    CHECK(given.split.rows == 1000);
    CHECK(given.split.chunk == 33);
    CHECK(given.split.count == 31);
    CHECK(given.plan.output->shape.dims[1] == 7);
    PlannedJob automatic = plan_job(JobRequest{k, params, in, false, 0, 3, 1u << 24});
    CHECK(automatic.split.chunk == 42);  // ceil(1000 / 24)
    CHECK(automatic.split.count == 24);
}

TEST_CASE("requests are refused with the daemon's codes", "[job_request]") {
    nlohmann::json params = nlohmann::json::object();
    std::map<std::string, ArrayMeta> in{{"X", matrix(1000, 4)}, {"Y", matrix(7, 4)}};
    const Kernel& k = requested_kernel("euclidean", false, false);
    CHECK(code_of([] { requested_kernel("nope", false, false); }) == ErrorCode::unknown_kernel);
    CHECK(code_of([] { requested_kernel("_load_npy", false, false); }) == ErrorCode::unknown_kernel);
    CHECK(&requested_kernel("_load_npy", true, false) != nullptr);
    CHECK(code_of([&] { check_input_roles(k, {"X"}); }) == ErrorCode::missing_role);
    CHECK(code_of([&] { check_input_roles(k, {"X", "Y", "Z"}); }) == ErrorCode::unknown_role);
    CHECK(code_of([&] { plan_job(JobRequest{k, params, in, false, 1, 1, 999}); }) == ErrorCode::too_many_ranges);
    nlohmann::json not_object = nlohmann::json::array();
    CHECK(code_of([&] { plan_job(JobRequest{k, not_object, in, false, 1, 1, 1u << 24}); }) == ErrorCode::bad_param);
    const Kernel& reduce = requested_kernel("reduce", false, false);
    nlohmann::json sum = {{"op", "sum"}};
    std::map<std::string, ArrayMeta> x{{"x", matrix(10, 1)}};
    CHECK(code_of([&] { plan_job(JobRequest{reduce, sum, x, true, 0, 1, 1u << 24}); }) == ErrorCode::bad_request);
}
