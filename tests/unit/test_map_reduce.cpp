// Unit tests of the map and reduce kernels for every dtype: map against libm and long double
// loops and hand-computed wraparounds; reduce against serial loops, whole and per axis.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_job.h"

namespace {

using namespace kernel_test;

// ------------------------------------------------------------------------------------- data

template <class T>
std::vector<T> random_values(uint64_t count, unsigned seed, double scale = 10.0, double offset = 0.0) {
    std::mt19937_64 rng(seed);
    std::vector<T> values(count);
    if constexpr (std::is_floating_point_v<T>) {
        std::normal_distribution<double> normal(offset, scale);
        for (auto& v : values) v = T(normal(rng));
    } else {
        std::uniform_int_distribution<int64_t> uniform(std::is_signed_v<T> ? -100 : 0, 100);
        for (auto& v : values) v = T(uniform(rng));
    }
    return values;
}

template <class T>
DType dtype_of() {
    if constexpr (std::is_same_v<T, double>) return DType::float64;
    else if constexpr (std::is_same_v<T, float>) return DType::float32;
    else if constexpr (std::is_same_v<T, int64_t>) return DType::int64;
    else if constexpr (std::is_same_v<T, int32_t>) return DType::int32;
    else return DType::uint8;
}

uint64_t elems_of(const std::vector<uint64_t>& dims) {
    uint64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
}

template <class T>
bool same_bits(T a, T b) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Distance in units in the last place of `got` from the exact long double value.
template <class T>
double ulps_from(T got, long double exact) {
    if (std::isnan(exact)) return std::isnan(got) ? 0 : INFINITY;
    T near = T(exact);
    if (std::isinf(near) || exact == 0) return got == near ? 0 : INFINITY;
    long double ulp = std::nextafter(std::fabs(near), std::numeric_limits<T>::infinity()) - std::fabs(near);
    return double(std::fabs((long double)got - exact) / ulp);
}

// ------------------------------------------------------------------------------------- map

struct FloatOpRef {
    std::string op;
    double (*libm)(double);  // the kernel's promise: f(double(x)) rounded to the input's type
    long double (*exact)(long double);
    double max_ulps;  // from the exact value (glibc's documented bounds)
};

const std::vector<FloatOpRef> kFloatOps = {
    {"exp", [](double x) { return std::exp(x); }, [](long double x) { return std::exp(x); }, 1},
    {"log", [](double x) { return std::log(x); }, [](long double x) { return std::log(x); }, 1},
    {"log1p", [](double x) { return std::log1p(x); }, [](long double x) { return std::log1p(x); }, 1},
    {"sqrt", [](double x) { return std::sqrt(x); }, [](long double x) { return std::sqrt(x); }, 0.5},
    {"sin", [](double x) { return std::sin(x); }, [](long double x) { return std::sin(x); }, 1},
    {"cos", [](double x) { return std::cos(x); }, [](long double x) { return std::cos(x); }, 1},
    {"tanh", [](double x) { return std::tanh(x); }, [](long double x) { return std::tanh(x); }, 2},
    {"sigmoid", [](double x) { return 1.0 / (1.0 + std::exp(-x)); },
     [](long double x) { return 1.0L / (1.0L + std::exp(-x)); }, 3},
};

template <class T>
std::vector<T> float_inputs(unsigned seed) {
    auto values = random_values<T>(3000, seed, 20.0);
    for (T special : {T(0), T(-0.0), T(1), T(-1), T(0.5), T(1e-300), T(-1e-30), T(700), T(-745), T(1e6),
                      std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                      std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::denorm_min()})
        values.push_back(special);
    return values;
}

template <class T>
void check_float_op(const FloatOpRef& ref) {
    auto x = float_inputs<T>(7);
    uint64_t n = x.size();
    Job job("map", {{"x", input_of(x, {n / 2, 2}, dtype_of<T>())}}, {{"op", ref.op}});
    REQUIRE(job.plan().output->dtype == dtype_of<T>());
    job.run_all(97);
    auto y = job.output_as<T>();
    for (uint64_t e = 0; e < n; ++e) {
        INFO(ref.op << " " << dtype_name(dtype_of<T>()) << " of " << x[e] << " gave " << y[e]);
        T want = T(ref.libm(double(x[e])));
        REQUIRE((same_bits(y[e], want) || (std::isnan(y[e]) && std::isnan(want))));
        long double exact = ref.exact((long double)x[e]);
        if (std::fabs(exact) >= (long double)std::numeric_limits<T>::min())  // subnormal results: absolute
            REQUIRE(ulps_from(y[e], exact) <= ref.max_ulps);
    }
}

template <class T>
std::vector<T> map_ints(const std::string& op, std::vector<T> x) {
    Job job("map", {{"x", input_of(x, {x.size()}, dtype_of<T>())}}, {{"op", op}});
    job.run_all(1);
    return job.output_as<T>();
}

}  // namespace

TEST_CASE("map float ops are libm's, within their ulp bounds, for float64 and float32", "[map]") {
    for (const auto& ref : kFloatOps) {
        check_float_op<double>(ref);
        check_float_op<float>(ref);
    }
}

TEST_CASE("map square, abs, negative on floats are exact", "[map]") {
    auto x = float_inputs<double>(8);
    for (std::string op : {"square", "abs", "negative"}) {
        Job job("map", {{"x", input_of(x, {x.size()}, DType::float64)}}, {{"op", op}});
        job.run_all(13);
        auto y = job.output_as<double>();
        for (uint64_t e = 0; e < x.size(); ++e) {
            double want = op == "square" ? x[e] * x[e] : op == "abs" ? std::fabs(x[e]) : -x[e];
            INFO(op << " of " << x[e]);
            REQUIRE(same_bits(y[e], want));  // also the sign of -0.0 and of NaN
        }
    }
}

TEST_CASE("map integer ops wrap around as NumPy's", "[map]") {
    constexpr int64_t lo64 = std::numeric_limits<int64_t>::min(), hi64 = std::numeric_limits<int64_t>::max();
    CHECK(map_ints<int64_t>("abs", {lo64, -5, 0, 7, hi64}) == std::vector<int64_t>{lo64, 5, 0, 7, hi64});
    CHECK(map_ints<int64_t>("negative", {lo64, -5, 0, hi64}) == std::vector<int64_t>{lo64, 5, 0, -hi64});
    CHECK(map_ints<int64_t>("square", {3, -4, int64_t(1) << 32, 3037000500}) ==
          std::vector<int64_t>{9, 16, 0, -9223372036709301616});  // 3037000500² mod 2^64, signed
    constexpr int32_t lo32 = std::numeric_limits<int32_t>::min();
    CHECK(map_ints<int32_t>("abs", {lo32, -3, 3}) == std::vector<int32_t>{lo32, 3, 3});
    CHECK(map_ints<int32_t>("negative", {lo32, 1}) == std::vector<int32_t>{lo32, -1});
    CHECK(map_ints<int32_t>("square", {65536, 46341, -7}) == std::vector<int32_t>{0, -2147479015, 49});
    CHECK(map_ints<uint8_t>("negative", {0, 1, 200, 255}) == std::vector<uint8_t>{0, 255, 56, 1});
    CHECK(map_ints<uint8_t>("square", {16, 15, 255}) == std::vector<uint8_t>{0, 225, 1});
    CHECK(map_ints<uint8_t>("abs", {0, 200, 255}) == std::vector<uint8_t>{0, 200, 255});
}

TEST_CASE("map over 1-D, 3-D and 4-D shapes: ranges over the first dim, own rows only", "[map]") {
    for (std::vector<uint64_t> dims : {std::vector<uint64_t>{1000}, {4, 3, 5}, {3, 2, 2, 7}}) {
        auto x = random_values<int32_t>(elems_of(dims), 9);
        Job job("map", {{"x", input_of(x, dims, DType::int32)}}, {{"op", "square"}});
        REQUIRE(job.plan().rows == dims[0]);
        REQUIRE(job.plan().output->shape == meta_of(dims).shape);
        uint64_t row = elems_of(dims) / dims[0];
        job.start()->run(1, 3);
        auto y = job.output_as<int32_t>();
        for (uint64_t e = 0; e < y.size(); ++e) {
            bool mine = e >= row && e < 3 * row;
            REQUIRE(y[e] == (mine ? x[e] * x[e] : -1));  // -1: the untouched 0xFF bytes
        }
    }
}

TEST_CASE("map validates op and dtype", "[map][validation]") {
    for (DType dtype : {DType::int64, DType::int32, DType::uint8})
        for (std::string op : {"exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "sigmoid"}) {
            INFO(op << " on " << dtype_name(dtype));
            CHECK(plan_error("map", {{"op", op}}, {{"x", meta_of({4}, dtype)}}, "'" + op + "'") ==
                  ErrorCode::dtype_mismatch);
        }
    auto x = std::map<std::string, ArrayMeta>{{"x", meta_of({4, 2})}};
    CHECK(plan_error("map", json::object(), x, "'op'") == ErrorCode::bad_param);
    CHECK(plan_error("map", {{"op", "cube"}}, x, "'op'") == ErrorCode::bad_param);
    CHECK(plan_error("map", {{"op", 1}}, x, "'op'") == ErrorCode::bad_param);
    CHECK(plan_error("map", {{"op", "exp"}, {"out", 1}}, x, "'out'") == ErrorCode::bad_param);
    CHECK(plan_error("map", {{"op", "exp"}}, {}, "'x'") == ErrorCode::missing_role);
    CHECK(plan_error("map", {{"op", "exp"}}, {{"x", meta_of({4})}, {"y", meta_of({4})}}, "'y'") == ErrorCode::unknown_role);
    for (DType dtype : {DType::int64, DType::int32, DType::uint8, DType::float32})
        for (std::string op : {"abs", "negative", "square"})
            CHECK(find_kernel("map")->plan(PlanInput{{{"op", op}}, {{"x", meta_of({4, 2}, dtype)}}}).output->dtype == dtype);
}

// ------------------------------------------------------------------------------------- reduce

namespace {

const std::vector<std::string> kReduceOps = {"sum", "mean", "min", "max", "argmin", "argmax"};

struct RefResult {
    double value = 0;
    int64_t index = -1;
};

// NumPy's rules over the elements p[e·stride] for e < n: exact sums, first NaN wins, ties to
// the first.
template <class T>
RefResult reference_reduce(const std::string& op, const T* p, uint64_t n, uint64_t stride = 1) {
    if (op == "sum" || op == "mean") {
        long double sum = 0;
        __int128 exact = 0;
        for (uint64_t e = 0; e < n; ++e) sum += p[e * stride], exact += __int128(p[e * stride]);
        double total = std::is_floating_point_v<T> ? double(sum) : double(exact);
        return {op == "mean" ? double((long double)total / n) : total, -1};
    }
    bool want_max = op == "max" || op == "argmax";
    uint64_t best = 0;
    for (uint64_t e = 1; e < n && !std::isnan(double(p[best * stride])); ++e) {
        T v = p[e * stride], b = p[best * stride];
        if (std::isnan(double(v)) || (want_max ? v > b : v < b)) best = e;
    }
    return {double(p[best * stride]), int64_t(best)};
}

bool close_to(double got, double want, double rel) {
    if (std::isnan(want)) return std::isnan(got);
    return got == want || std::fabs(got - want) <= rel * std::fabs(want);
}

// NumPy's integer results, exact: sums wrap modulo 2^64 in an int64 accumulator (uint64 for
// unsigned inputs), and a min or max is one of the elements.
template <class T>
void check_exact_integer(const std::string& op, const std::vector<T>& x, const RefResult& want, const Reduced& got) {
    if (op == "sum") {
        uint64_t wrapped = 0;
        for (T v : x) wrapped += uint64_t(int64_t(v));
        CHECK(got.kind == (std::is_unsigned_v<T> ? NumberKind::uint64 : NumberKind::int64));
        CHECK(got.integer == wrapped);
        return;
    }
    CHECK(got.kind == NumberKind::int64);
    CHECK(int64_t(got.integer) == int64_t(x[uint64_t(want.index)]));
}

template <class T>
void check_whole(const std::string& op, const std::vector<T>& x, const std::vector<uint64_t>& dims) {
    RefResult want = reference_reduce(op, x.data(), x.size());
    uint64_t rows = dims[0];
    for (uint64_t chunk : {uint64_t(1), uint64_t(7), rows}) {
        INFO(op << " " << dtype_name(dtype_of<T>()) << " " << meta_of(dims).shape.to_string() << " chunk " << chunk);
        Job job("reduce", {{"x", input_of(x, dims, dtype_of<T>())}}, {{"op", op}});
        REQUIRE(!job.plan().output);
        REQUIRE(job.plan().rows == rows);
        REQUIRE(reduce_op_name(job.plan().reduce) == op);
        Reduced got = job.reduce_all(chunk, unsigned(chunk));
        CHECK(got.count == x.size());
        if (std::is_floating_point_v<T> || op == "mean") CHECK(close_to(got.as_double(), want.value, 1e-14));
        else check_exact_integer(op, x, want, got);
        if (op != "sum" && op != "mean") CHECK(got.index == want.index);
    }
}

template <class T>
void check_whole_all_ops(unsigned seed) {
    for (std::vector<uint64_t> dims : {std::vector<uint64_t>{1000}, {37, 11}, {5, 4, 3}, {2, 3, 4, 5}, {1}}) {
        auto x = random_values<T>(elems_of(dims), seed++);
        for (const auto& op : kReduceOps) check_whole(op, x, dims);
    }
}

// The output of x.op(axis) by NumPy's definition: out[multi-index without axis] reduces x
// along axis. Walks multi-indices directly, independent of the kernel's outer/len/inner.
template <class T, class Out>
std::vector<Out> reference_axis(const std::string& op, const std::vector<T>& x, const std::vector<uint64_t>& dims,
                                int axis) {
    std::vector<uint64_t> strides(dims.size(), 1);
    for (int d = int(dims.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * dims[d + 1];
    std::vector<Out> out(x.size() / dims[axis]);
    for (uint64_t o = 0; o < out.size(); ++o) {
        uint64_t rest = o, offset = 0;
        for (int d = int(dims.size()) - 1; d >= 0; --d) {
            if (d == axis) continue;
            offset += (rest % dims[d]) * strides[d];
            rest /= dims[d];
        }
        RefResult r = reference_reduce(op, x.data() + offset, dims[axis], strides[axis]);
        if (op == "argmin" || op == "argmax") out[o] = Out(r.index);
        else if (op == "sum" && !std::is_floating_point_v<T>) {
            uint64_t wrapped = 0;  // NumPy's int64 accumulator wraps
            for (uint64_t j = 0; j < dims[axis]; ++j) wrapped += uint64_t(int64_t(x[offset + j * strides[axis]]));
            out[o] = Out(int64_t(wrapped));
        } else out[o] = Out(r.value);
    }
    return out;
}

template <class T, class Out>
void check_axis_output(const std::string& op, const std::vector<T>& x, const std::vector<uint64_t>& dims, int axis,
                       DType out_dtype) {
    auto want = reference_axis<T, Out>(op, x, dims, axis);
    std::vector<uint64_t> out_dims;
    for (int d = 0; d < int(dims.size()); ++d)
        if (d != axis) out_dims.push_back(dims[d]);
    if (out_dims.empty()) out_dims = {1};
    for (uint64_t chunk : {uint64_t(1), uint64_t(5), want.size()}) {
        INFO(op << " " << dtype_name(dtype_of<T>()) << " " << meta_of(dims).shape.to_string() << " axis " << axis
                << " chunk " << chunk);
        Job job("reduce", {{"x", input_of(x, dims, dtype_of<T>())}}, {{"op", op}, {"axis", axis}});
        REQUIRE(job.plan().output->dtype == out_dtype);
        REQUIRE(job.plan().output->shape == meta_of(out_dims).shape);
        REQUIRE(job.plan().rows == want.size());
        REQUIRE(job.plan().reduce == ReduceOp::none);
        job.run_all(chunk, unsigned(chunk));
        auto got = job.output_as<Out>();
        for (uint64_t e = 0; e < want.size(); ++e) {
            INFO("element " << e << ": got " << double(got[e]) << ", want " << double(want[e]));
            REQUIRE(close_to(double(got[e]), double(want[e]), 1e-14));
        }
    }
}

template <class T>
void check_axis_all_ops(const std::vector<uint64_t>& dims, unsigned seed) {
    auto x = random_values<T>(elems_of(dims), seed);
    DType in = dtype_of<T>(), sum_dtype = std::is_floating_point_v<T> ? DType::float64 : DType::int64;
    for (int axis = 0; axis < int(dims.size()); ++axis) {
        if (std::is_floating_point_v<T>) check_axis_output<T, double>("sum", x, dims, axis, sum_dtype);
        else check_axis_output<T, int64_t>("sum", x, dims, axis, sum_dtype);
        check_axis_output<T, double>("mean", x, dims, axis, DType::float64);
        check_axis_output<T, T>("min", x, dims, axis, in);
        check_axis_output<T, T>("max", x, dims, axis, in);
        check_axis_output<T, int64_t>("argmin", x, dims, axis, DType::int64);
        check_axis_output<T, int64_t>("argmax", x, dims, axis, DType::int64);
    }
}

template <class T>
void check_axis_all_shapes(unsigned seed) {
    for (std::vector<uint64_t> dims : {std::vector<uint64_t>{40}, {13, 6}, {6, 13}, {4, 3, 5}, {3, 2, 4, 3}, {3, 9000}})  // 9000: three column blocks
        check_axis_all_ops<T>(dims, seed++);
}

// The partial one range returns (whole-dataset reduce of the input).
Partial range_partial(const std::string& op, const std::vector<double>& x, uint64_t begin, uint64_t end) {
    Job job("reduce", {{"x", input_of(x, {x.size()}, DType::float64)}}, {{"op", op}});
    return job.start()->reduce(begin, end);
}

}  // namespace

TEST_CASE("reduce of the whole dataset, every op and dtype, any chunking", "[reduce]") {
    check_whole_all_ops<double>(1);
    check_whole_all_ops<float>(20);
    check_whole_all_ops<int64_t>(40);
    check_whole_all_ops<int32_t>(60);
    check_whole_all_ops<uint8_t>(80);
}

TEST_CASE("reduce along each axis, every op and dtype, NumPy's shapes and dtypes", "[reduce]") {
    check_axis_all_shapes<double>(100);
    check_axis_all_shapes<float>(200);
    check_axis_all_shapes<int64_t>(300);
    check_axis_all_shapes<int32_t>(400);
    check_axis_all_shapes<uint8_t>(500);
}

TEST_CASE("reduce extremes: NaN wins at its first index, ties go to the lowest index", "[reduce]") {
    for (uint64_t n : {5, 100, 5000, 10000}) {  // tails, SIMD blocks, several 2048-element blocks
        std::vector<double> x(n, 1.0);
        for (uint64_t e = 0; e < n; e += 3) x[e] = 2.0;
        x[n / 2] = x[n - 1] = -3.0;  // the minimum twice
        x[n / 3 + 1] = x[n - 2] = 9.0;  // the maximum twice
        std::vector<uint64_t> dims = {n};
        for (const auto& op : kReduceOps) check_whole(op, x, dims);
        x[n - 1] = NAN;
        x[2 * n / 3] = NAN;
        for (const auto& op : kReduceOps) check_whole(op, x, dims);
        x[0] = NAN;
        for (const auto& op : kReduceOps) check_whole(op, x, dims);
    }
    std::vector<float> columns = {1, 5, NAN, 2, NAN, 5, 2, NAN, 0, 5, -1, 1};  // 4x3
    for (int axis : {0, 1}) {
        check_axis_output<float, float>("min", columns, {4, 3}, axis, DType::float32);
        check_axis_output<float, int64_t>("argmax", columns, {4, 3}, axis, DType::int64);
    }
}

TEST_CASE("reduce sums: compensated, inf and NaN as IEEE, exact integers", "[reduce]") {
    std::vector<double> cancel = {1e100, 1.0, -1e100, 1e-3};
    for (uint64_t chunk : {1, 2, 4}) {
        Job job("reduce", {{"x", input_of(cancel, {4}, DType::float64)}}, {{"op", "sum"}});
        CHECK(job.reduce_all(chunk).value == 1.001);
    }
    std::vector<double> x(100, 1.5);
    x[40] = INFINITY;
    Partial inf = range_partial("sum", x, 0, 100);
    CHECK(inf.value == INFINITY);
    CHECK(inf.compensation == 0.0);
    for (uint64_t chunk : {7, 100}) {  // and combined with the other ranges' partials
        Job job("reduce", {{"x", input_of(x, {100}, DType::float64)}}, {{"op", "sum"}});
        CHECK(job.reduce_all(chunk).value == INFINITY);
    }
    x[70] = -INFINITY;
    CHECK(std::isnan(range_partial("sum", x, 0, 100).value));
    CHECK(range_partial("sum", x, 0, 40).value == 60.0);
    CHECK(range_partial("sum", x, 0, 40).index == -1);
    CHECK(range_partial("mean", x, 3, 7).count == 4);
    std::vector<double> huge(16, 1.5e308);
    CHECK(range_partial("sum", huge, 0, 16).value == INFINITY);  // overflow, as NumPy

    // int64 sums beyond 2^63 wrap modulo 2^64 as NumPy's int64 accumulator, exact to the bit
    constexpr int64_t big = (int64_t(1) << 62) + 1;
    std::vector<int64_t> ints = {big, big, big, big, 3};
    Job job("reduce", {{"x", input_of(ints, {5}, DType::int64)}}, {{"op", "sum"}});
    Partial p = job.start()->reduce(0, 5);
    CHECK(p.kind == NumberKind::int64);
    CHECK(p.integer == 7);
    // along an axis the int64 output wraps modulo 2^64 as NumPy's
    Job wrap("reduce", {{"x", input_of(ints, {5, 1}, DType::int64)}}, {{"op", "sum"}, {"axis", 0}});
    wrap.run_all(1);
    CHECK(wrap.output_as<int64_t>() == std::vector<int64_t>{7});
}

TEST_CASE("reduce of integers at the edges: exact extremes, sums wrapping as NumPy's", "[reduce]") {
    constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    constexpr int64_t p53 = int64_t(1) << 53;
    std::vector<std::vector<int64_t>> cases = {
        {p53 + 1, 0}, {0, p53 + 1, p53}, {-p53 - 1, -p53, p53 - 1}, {lo, hi, 0, -1}, {hi, hi, hi}, {lo, lo, 5},
        {int64_t(1) << 62, (int64_t(1) << 62) - 1, 3}};
    for (const auto& x : cases)
        for (const auto& op : kReduceOps) check_whole(op, x, {x.size()});
    std::vector<int32_t> i32 = {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::min(), -7,
                                std::numeric_limits<int32_t>::max()};
    for (const auto& op : kReduceOps) check_whole(op, i32, {4});
    std::vector<uint8_t> u8(1000, 255);  // 255000: beyond uint8, a uint64 as NumPy's
    u8[500] = 0;
    for (const auto& op : kReduceOps) check_whole(op, u8, {10, 100});
}

TEST_CASE("combine_partials: integer kinds exact in range order, disagreeing kinds as doubles", "[reduce]") {
    constexpr int64_t hi = std::numeric_limits<int64_t>::max();
    std::vector<Partial> sums = {Partial::of_int64(hi, 1), Partial::of_int64(hi, 1), Partial::of_int64(4, 1)};
    Reduced sum = combine_partials(ReduceOp::sum, sums);
    CHECK(sum.kind == NumberKind::int64);
    CHECK(int64_t(sum.integer) == 2);  // 2^64 + 2 wraps
    CHECK(sum.count == 3);
    Reduced mean = combine_partials(ReduceOp::mean, sums);  // a mean is real, from the exact parts
    CHECK(mean.kind == NumberKind::real);
    CHECK(mean.value == (2.0 * double(hi) + 4.0) / 3.0);
    auto at = [](Partial p, int64_t index) { return p.index = index, p; };
    std::vector<Partial> maxima = {at(Partial::of_int64((int64_t(1) << 53) + 1, 2), 1),
                                   at(Partial::of_int64(int64_t(1) << 53, 2), 2), at(Partial::of_int64((int64_t(1) << 53) + 1, 2), 4)};
    Reduced best = combine_partials(ReduceOp::max, maxima);
    CHECK(best.kind == NumberKind::int64);
    CHECK(int64_t(best.integer) == (int64_t(1) << 53) + 1);
    CHECK(best.index == 1);  // ties to the lowest index, though the doubles of all three are equal
    maxima.push_back(Partial{.value = 1e300, .index = 7, .count = 1});
    Reduced mixed = combine_partials(ReduceOp::max, maxima);
    CHECK(mixed.kind == NumberKind::real);
    CHECK(mixed.value == 1e300);
    std::vector<Partial> unsigned_sums = {Partial::of_uint64(uint64_t(1) << 63, 1), Partial::of_uint64(uint64_t(1) << 63, 1),
                                          Partial::of_uint64(9, 1)};
    Reduced u = combine_partials(ReduceOp::sum, unsigned_sums);
    CHECK(u.kind == NumberKind::uint64);
    CHECK(u.integer == 9);
    CHECK(u.as_double() == 9.0);
}

TEST_CASE("reduce sum gives the same value for any chunking", "[reduce]") {
    auto x = random_values<double>(100000, 3, 1.0, 0.25);
    std::vector<double> values;
    for (uint64_t chunk : {1, 7, 1000, 33333, 100000}) {
        Job job("reduce", {{"x", input_of(x, {x.size()}, DType::float64)}}, {{"op", "sum"}});
        values.push_back(job.reduce_all(chunk, unsigned(chunk)).value);
    }
    double want = reference_reduce("sum", x.data(), x.size()).value;
    for (double v : values) CHECK(close_to(v, want, 1e-15));
}

TEST_CASE("reduce along an axis writes only the output elements of its range", "[reduce]") {
    auto x = random_values<double>(6 * 9000, 4);
    Job job("reduce", {{"x", input_of(x, {6, 9000}, DType::float64)}}, {{"op", "max"}, {"axis", 0}});
    job.start()->run(1000, 5100);  // across a column block boundary
    auto out = job.output_as<double>();
    for (uint64_t e = 0; e < out.size(); ++e) REQUIRE(std::isnan(out[e]) == (e < 1000 || e >= 5100));
    CHECK_THROWS_AS(job.start()->run(0, 9001), KernelError);
}

TEST_CASE("reduce validates op and axis", "[reduce][validation]") {
    auto x2 = std::map<std::string, ArrayMeta>{{"x", meta_of({4, 3}, DType::int32)}};
    auto x1 = std::map<std::string, ArrayMeta>{{"x", meta_of({4}, DType::uint8)}};
    CHECK(plan_error("reduce", json::object(), x2, "'op'") == ErrorCode::bad_param);
    CHECK(plan_error("reduce", {{"op", "none"}}, x2, "'op'") == ErrorCode::bad_param);
    CHECK(plan_error("reduce", {{"op", "prod"}}, x2, "'op'") == ErrorCode::bad_param);
    CHECK(plan_error("reduce", {{"op", "sum"}, {"axis", 1}}, x1, "'axis'") == ErrorCode::bad_param);
    for (json axis : {json(2), json(-1), json(0.5), json("0"), json(true)}) {
        INFO("axis " << axis.dump());
        CHECK(plan_error("reduce", {{"op", "sum"}, {"axis", axis}}, x2, "'axis'") == ErrorCode::bad_param);
    }
    CHECK(plan_error("reduce", {{"op", "sum"}, {"keepdims", true}}, x2, "'keepdims'") == ErrorCode::bad_param);
    CHECK(plan_error("reduce", {{"op", "sum"}}, {}, "'x'") == ErrorCode::missing_role);
    Plan whole = find_kernel("reduce")->plan(PlanInput{{{"op", "argmax"}, {"axis", nullptr}}, x2});
    CHECK(whole.reduce == ReduceOp::argmax);
    CHECK(whole.rows == 4);
    CHECK(!whole.output);
    Plan axis1 = find_kernel("reduce")->plan(PlanInput{{{"op", "sum"}, {"axis", 1.0}}, x2});
    CHECK(axis1.output->shape == meta_of({4}).shape);
    CHECK(axis1.output->dtype == DType::int64);
    Plan axis0 = find_kernel("reduce")->plan(PlanInput{{{"op", "min"}, {"axis", 0}}, x1});
    CHECK(axis0.output->shape == meta_of({1}).shape);  // NumPy's 0-d result as a 1-element dataset
    CHECK(axis0.output->dtype == DType::uint8);
}
