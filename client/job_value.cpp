// A reducing job's `value` as C++ numbers: JSON integers stay exact, floats and the names of
// non-finite values become doubles.
#include "client/job_value.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace shmpool {

JobValue job_value(const nlohmann::json& job) {
    if (!job.is_object() || !job.contains("value") || job["value"].is_null()) return std::monostate{};
    const nlohmann::json& v = job["value"];
    if (v.is_number_unsigned()) {
        auto u = v.get<uint64_t>();
        if (u <= uint64_t(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(u);
        return u;
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) return v.get<double>();
    if (v == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (v == "inf") return std::numeric_limits<double>::infinity();
    if (v == "-inf") return -std::numeric_limits<double>::infinity();
    throw std::invalid_argument("a job's value is a number, \"nan\", \"inf\", \"-inf\" or null, not " + v.dump());
}

nlohmann::json job_value_json(const JobValue& value) {
    return std::visit(
        [](const auto& x) -> nlohmann::json {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) return nullptr;
            else if constexpr (std::is_same_v<T, double>) {
                if (std::isnan(x)) return "nan";
                if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
                return x;
            } else return x;
        },
        value);
}

}  // namespace shmpool
