// Unit tests of UidQuota: per-uid dataset and byte limits, each with its own code, counted
// while a token (a dataset's, a result object's) lives and released when it goes, per uid.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "common/error.h"
#include "server/datasets/uid_quota.h"

namespace {

using shmpool::ErrorCode;
using shmpool::UidQuota;

ErrorCode code_of_check(const UidQuota& q, uid_t uid, uint64_t bytes) {
    try {
        q.check(uid, bytes, "dataset 'x'");
    } catch (const shmpool::Error& e) {
        return e.code();
    }
    return ErrorCode::internal;  // no error: never a quota code
}

}  // namespace

TEST_CASE("a uid's datasets are limited while another uid is not", "[uid_quota]") {
    UidQuota q;
    q.set_limits(2, 0);
    std::vector<std::shared_ptr<void>> held;
    held.push_back(q.charge(1000, 8));
    held.push_back(q.charge(1000, 8));
    CHECK(code_of_check(q, 1000, 8) == ErrorCode::uid_dataset_limit);
    CHECK_NOTHROW(q.check(1001, 8, "dataset 'y'"));
    held.pop_back();  // a dataset destroyed gives its place back
    CHECK_NOTHROW(q.check(1000, 8, "dataset 'x'"));
}

TEST_CASE("a uid's bytes are limited, exactly at the limit still fits", "[uid_quota]") {
    UidQuota q;
    q.set_limits(0, 100);
    auto a = q.charge(7, 60);
    CHECK_NOTHROW(q.check(7, 40, "dataset 'x'"));
    CHECK(code_of_check(q, 7, 41) == ErrorCode::uid_bytes_limit);
    CHECK(code_of_check(q, 8, 101) == ErrorCode::uid_bytes_limit);
    CHECK_NOTHROW(q.check(8, 100, "dataset 'y'"));
    a.reset();
    CHECK_NOTHROW(q.check(7, 100, "dataset 'x'"));
}

TEST_CASE("no limits by default, and a token may outlive the quota", "[uid_quota]") {
    std::shared_ptr<void> token;
    {
        UidQuota q;
        for (int i = 0; i < 1000; ++i) CHECK_NOTHROW(q.check(0, uint64_t{1} << 40, "dataset 'x'"));
        token = q.charge(0, uint64_t{1} << 40);
    }
    token.reset();  // releases into the shared counts, not into a destroyed object
}

TEST_CASE("a result object's charge counts bytes but no dataset", "[uid_quota]") {
    UidQuota q;
    q.set_limits(1, 100);
    auto result = q.charge(7, 90, /*datasets=*/0);
    CHECK_THROWS_AS(q.check_bytes(7, 11, "the result of range 3"), shmpool::Error);
    CHECK(code_of_check(q, 7, 11) == ErrorCode::uid_bytes_limit);
    CHECK_NOTHROW(q.check(7, 10, "dataset 'x'"));  // its one dataset is still free
    auto ds = q.charge(7, 10);
    CHECK(code_of_check(q, 7, 0) == ErrorCode::uid_dataset_limit);
    result.reset();  // dropped: its bytes come back, the dataset still counts
    CHECK_NOTHROW(q.check_bytes(7, 90, "the result of range 4"));
    CHECK(code_of_check(q, 7, 0) == ErrorCode::uid_dataset_limit);
}
