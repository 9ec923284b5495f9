// Unit-test helpers for kernels of any dtype: a job run in-process as a worker runs it (plan,
// start, ranges in shuffled order, partials combined in range order), and plan-error checks.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/partial.h"
#include "worker/kernel.h"

namespace kernel_test {

using namespace shmpool;
using nlohmann::json;
using Range = std::pair<uint64_t, uint64_t>;

inline ArrayMeta meta_of(std::vector<uint64_t> dims, DType dtype = DType::float64) {
    ArrayMeta meta;
    meta.dtype = dtype;
    meta.shape.ndim = int(dims.size());
    std::copy(dims.begin(), dims.end(), meta.shape.dims.begin());
    return meta;
}

// A rows×cols matrix of uniform values in [offset - scale, offset + scale).
inline std::vector<double> random_matrix(uint64_t rows, uint64_t cols, unsigned seed, double scale = 1.0,
                                         double offset = 0.0) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(offset - scale, offset + scale);
    std::vector<double> values(rows * cols);
    for (auto& v : values) v = uniform(rng);
    return values;
}

// [0, rows) in ranges of `chunk` (the last one ragged), in a shuffled order.
inline std::vector<Range> shuffled_ranges(uint64_t rows, uint64_t chunk, unsigned seed) {
    std::vector<Range> ranges;
    for (uint64_t begin = 0; begin < rows; begin += chunk) ranges.emplace_back(begin, std::min(rows, begin + chunk));
    std::shuffle(ranges.begin(), ranges.end(), std::mt19937(seed));
    return ranges;
}

struct Input {
    ArrayMeta meta;
    const void* data;
};

template <class T>
Input input_of(const std::vector<T>& values, std::vector<uint64_t> dims, DType dtype) {
    return {meta_of(std::move(dims), dtype), values.data()};
}

// A job run in-process; the output starts as 0xFF bytes (NaN for floats, -1 or 255 for integers)
// so unwritten elements show.
class Job {
public:
    Job(const std::string& kernel, std::map<std::string, Input> inputs, json params = json::object())
        : kernel_(*find_kernel(kernel)), inputs_(std::move(inputs)), params_(std::move(params)) {
        std::map<std::string, ArrayMeta> metas;
        for (const auto& [role, input] : inputs_) metas[role] = input.meta;
        plan_ = kernel_.plan(PlanInput{params_, metas});
        if (plan_.output) output_.assign(checked_bytes(plan_.output->shape, plan_.output->dtype), 0xFF);
    }

    std::unique_ptr<KernelRun> start() { return kernel_.start(context()); }

    RunContext context() {
        RunContext ctx{params_, {}, {}};
        for (const auto& [role, input] : inputs_) ctx.inputs[role] = ArrayView{input.meta, input.data, nullptr};
        if (plan_.output) ctx.output = ArrayView{*plan_.output, output_.data(), output_.data()};
        return ctx;
    }

    // Runs every range of `chunk` rows in a shuffled order; returns the partials by range index.
    std::vector<Partial> run_all(uint64_t chunk, unsigned seed = 1) {
        auto run = start();
        std::vector<Partial> partials((plan_.rows + chunk - 1) / chunk);
        for (auto [begin, end] : shuffled_ranges(plan_.rows, chunk, seed)) partials[begin / chunk] = run->reduce(begin, end);
        return partials;
    }

    // Runs every range of `chunk` rows in a shuffled order with run() (no partials); returns the output.
    template <class T>
    std::vector<T> run_each(uint64_t chunk, unsigned seed = 1) {
        auto run = start();
        for (auto [begin, end] : shuffled_ranges(plan_.rows, chunk, seed)) run->run(begin, end);
        return output_as<T>();
    }

    Reduced reduce_all(uint64_t chunk, unsigned seed = 1) { return combine_partials(plan_.reduce, run_all(chunk, seed)); }

    template <class T>
    std::vector<T> output_as() const {
        std::vector<T> values(output_.size() / sizeof(T));
        std::memcpy(values.data(), output_.data(), output_.size());
        return values;
    }

    const Plan& plan() const { return plan_; }

private:
    const Kernel& kernel_;
    std::map<std::string, Input> inputs_;
    json params_;
    Plan plan_;
    std::vector<unsigned char> output_;
};

// The code of the Error that plan() throws (its message must contain message_part); fails
// the test if plan() accepts the job.
inline ErrorCode plan_error(const std::string& kernel, const json& params,
                            const std::map<std::string, ArrayMeta>& inputs, const std::string& message_part = "") {
    try {
        find_kernel(kernel)->plan(PlanInput{params, inputs});
    } catch (const Error& e) {
        INFO("message: " << e.what());
        CHECK_THAT(e.what(), Catch::Contains(message_part));
        return e.code();
    }
    FAIL("plan() accepted the job");
    return ErrorCode::internal;
}

}  // namespace kernel_test
