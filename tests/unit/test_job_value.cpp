// Unit tests of the C++ client's job_value: exact integers (int64, uint64 past INT64_MAX),
// doubles, the names of non-finite values, and no value.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "client/job_value.h"

using shmpool::job_value;
using shmpool::JobValue;

TEST_CASE("job_value keeps integers exact and reads doubles and their names", "[client]") {
    auto parse = [](const char* text) { return job_value(nlohmann::json::parse(text)); };
    CHECK(std::get<int64_t>(parse(R"({"value": 9007199254740993})")) == 9007199254740993);
    CHECK(std::get<int64_t>(parse(R"({"value": -9223372036854775808})")) == std::numeric_limits<int64_t>::min());
    CHECK(std::get<int64_t>(parse(R"({"value": 9223372036854775807})")) == std::numeric_limits<int64_t>::max());
    CHECK(std::get<uint64_t>(parse(R"({"value": 18446744073709551615})")) == std::numeric_limits<uint64_t>::max());
    CHECK(std::get<double>(parse(R"({"value": 2.5})")) == 2.5);
    CHECK(std::isnan(std::get<double>(parse(R"({"value": "nan"})"))));
    CHECK(std::get<double>(parse(R"({"value": "-inf"})")) == -std::numeric_limits<double>::infinity());
    CHECK(std::holds_alternative<std::monostate>(parse(R"({"value": null})")));
    CHECK(std::holds_alternative<std::monostate>(parse(R"({"job": 3})")));
    CHECK_THROWS_AS(parse(R"({"value": "lots"})"), std::invalid_argument);
    CHECK(shmpool::job_value_json(JobValue{int64_t(9007199254740993)}).dump() == "9007199254740993");
    CHECK(shmpool::job_value_json(JobValue{std::numeric_limits<double>::infinity()}) == "inf");
}
