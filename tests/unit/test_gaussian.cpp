// Unit tests of the `gaussian` kernel against a direct 2-D reference written here: every mode,
// sigma pairs, tiny images and kernels wider than the image, float32 (double and float sums),
// ranges, and validation.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernel_job.h"

namespace {

using namespace kernel_test;

const std::vector<std::string> kModes = {"reflect", "nearest", "mirror", "wrap", "constant"};

struct Filter {
    std::array<double, 2> sigma;
    std::array<std::string, 2> mode = {"reflect", "reflect"};
    double truncate = 4.0, cval = 0.0;
    std::string sums = "float64";
};

json params_of(const Filter& f) {
    json p = {{"sigma", {f.sigma[0], f.sigma[1]}}, {"mode", {f.mode[0], f.mode[1]}}, {"truncate", f.truncate},
              {"cval", f.cval}, {"sums", f.sums}};
    return p;
}

int64_t radius_of(const Filter& f, int axis) {
    return f.sigma[axis] <= 1e-15 ? 0 : int64_t(f.truncate * f.sigma[axis] + 0.5);
}

// The element of a line of n that position q reads, unfolding the line one reflection (or one
// period) at a time as the mode's picture says; -1 for cval.
int64_t source_of(int64_t q, int64_t n, const std::string& mode) {
    if (mode == "constant") return q < 0 || q >= n ? -1 : q;
    if (mode == "nearest") return q < 0 ? 0 : q >= n ? n - 1 : q;
    if (mode == "mirror" && n == 1) return 0;
    while (q < 0 || q >= n) {
        if (mode == "wrap") q += q < 0 ? n : -n;                       // a b c d | a b c d
        else if (mode == "reflect") q = q < 0 ? -1 - q : 2 * n - 1 - q;  // d c b a | a b c d | d c b a
        else q = q < 0 ? -q : 2 * n - 2 - q;                            // d c b | a b c d | c b a
    }
    return q;
}

// out(i, j) = Σ_t w_t · in(i + t·di, j + t·dj) along one axis of an h×w image, rounded to T.
template <class T>
std::vector<T> filter_axis(const std::vector<T>& in, int64_t h, int64_t w, int axis, const Filter& f) {
    double sigma = f.sigma[axis];
    if (sigma <= 1e-15) return in;  // scipy skips the axis
    int64_t r = int64_t(f.truncate * sigma + 0.5), n = axis == 0 ? h : w;
    std::vector<double> weight;
    double total = 0;
    for (int64_t t = -r; t <= r; ++t) total += std::exp(-0.5 * double(t * t) / (sigma * sigma));
    for (int64_t t = -r; t <= r; ++t) weight.push_back(std::exp(-0.5 * double(t * t) / (sigma * sigma)) / total);
    std::vector<T> out(in.size());
    for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j) {
            double sum = 0;
            for (int64_t t = -r; t <= r; ++t) {
                int64_t s = source_of((axis == 0 ? i : j) + t, n, f.mode[axis]);
                double v = s < 0 ? f.cval : double(axis == 0 ? in[s * w + j] : in[i * w + s]);
                sum += weight[t + r] * v;
            }
            out[i * w + j] = T(sum);
        }
    return out;
}

// scipy.ndimage.gaussian_filter of each image: axis 0, rounded to T, then axis 1.
template <class T>
std::vector<T> reference(const std::vector<T>& images, int64_t k, int64_t h, int64_t w, const Filter& f) {
    std::vector<T> out;
    for (int64_t i = 0; i < k; ++i) {
        std::vector<T> image(images.begin() + i * h * w, images.begin() + (i + 1) * h * w);
        auto done = filter_axis(filter_axis(image, h, w, 0, f), h, w, 1, f);
        out.insert(out.end(), done.begin(), done.end());
    }
    return out;
}

template <class T>
std::vector<T> random_images(uint64_t elems, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 2.0);
    std::vector<T> values(elems);
    for (auto& v : values) v = T(uniform(rng));
    return values;
}

template <class T>
constexpr DType dtype_of() {
    return std::is_same_v<T, double> ? DType::float64 : DType::float32;
}

// float64: a few ulps of the summation order; float32: a rounding of the intermediate that may
// land on the other side, then the final rounding.
template <class T>
double tolerance_of(double want) {
    double ulp = std::is_same_v<T, double> ? DBL_EPSILON : FLT_EPSILON;
    return (std::is_same_v<T, double> ? 16 : 4) * ulp * std::max(1.0, std::fabs(want));
}

// Float32 sums (param sums): each pass's r + 1 pair sums, products and additions in float may each
// round by u = 2^-24 of what they sum, and the weights and cval are rounded to float; so each
// element may be off by up to about (r0 + r1 + 10)·u of the filter of the images' magnitudes.
template <class T>
std::vector<double> tolerances(const std::vector<T>& images, const std::vector<T>& want, int64_t k, int64_t h,
                               int64_t w, const Filter& f) {
    std::vector<double> tol(want.size()), magnitude(want.size(), 0.0);
    if (f.sums == "float32") {
        std::vector<double> abs_images;
        for (T v : images) abs_images.push_back(std::fabs(double(v)));
        Filter of_abs = f;
        of_abs.cval = std::fabs(f.cval);
        magnitude = reference(abs_images, k, h, w, of_abs);
    }
    double taps = double(radius_of(f, 0) + radius_of(f, 1) + 10);
    for (size_t e = 0; e < want.size(); ++e)
        tol[e] = tolerance_of<T>(double(want[e])) + taps * std::ldexp(magnitude[e], -24);
    return tol;
}

template <class T>
void require_matches(const std::vector<T>& got, const std::vector<T>& want, const std::vector<double>& tol) {
    REQUIRE(got.size() == want.size());
    size_t bad = 0, first = 0;
    for (size_t e = 0; e < got.size(); ++e)
        if (!(std::fabs(double(got[e]) - double(want[e])) <= tol[e]) && bad++ == 0) first = e;
    INFO("first bad element " << first << ": got " << got[first] << ", want " << want[first]);
    REQUIRE(bad == 0);
}

// Filters k images of h×w (a 2-D dataset when k is 0) in ranges of every chunk, against the reference.
template <class T>
void check(uint64_t k, uint64_t h, uint64_t w, const Filter& f, std::vector<uint64_t> chunks = {1, 3, 1000}) {
    uint64_t images = std::max<uint64_t>(k, 1);
    auto in = random_images<T>(images * h * w, unsigned(k * 7919 + h * 31 + w));
    auto want = reference(in, int64_t(images), int64_t(h), int64_t(w), f);
    auto tol = tolerances(in, want, int64_t(images), int64_t(h), int64_t(w), f);
    std::vector<uint64_t> dims = k == 0 ? std::vector<uint64_t>{h, w} : std::vector<uint64_t>{k, h, w};
    for (uint64_t chunk : chunks) {
        INFO(k << "x" << h << "x" << w << " " << (sizeof(T) == 8 ? "float64" : "float32") << " sigma "
                << f.sigma[0] << "," << f.sigma[1] << " modes " << f.mode[0] << "," << f.mode[1] << " truncate "
                << f.truncate << " cval " << f.cval << " sums " << f.sums << " chunk " << chunk);
        Job job("gaussian", {{"images", input_of(in, dims, dtype_of<T>())}}, params_of(f));
        REQUIRE(job.plan().output->dtype == dtype_of<T>());
        REQUIRE(job.plan().output->shape == meta_of(dims).shape);
        REQUIRE(job.plan().rows % images == 0);
        job.run_all(chunk, unsigned(chunk));
        require_matches(job.output_as<T>(), want, tol);
    }
}

}  // namespace

TEST_CASE("gaussian matches the direct reference in every mode", "[gaussian]") {
    for (const auto& mode : kModes)
        for (std::array<double, 2> sigma : {std::array<double, 2>{1.2247448713915890, 1.2247448713915890},
                                            {0.7, 2.5}, {3.0, 0.4}})
            check<double>(6, 28, 28, Filter{sigma, {mode, mode}, 4.0, 0.75});
}

TEST_CASE("gaussian: tiny images and kernels wider than the image", "[gaussian]") {
    for (const auto& mode : kModes)
        for (auto [h, w] : {std::pair<uint64_t, uint64_t>{1, 1}, {2, 3}, {3, 2}, {1, 7}, {6, 1}, {5, 4}}) {
            check<double>(3, h, w, Filter{{3.0, 2.0}, {mode, mode}, 4.0, -0.5});  // radius 12 and 8
            check<double>(2, h, w, Filter{{0.3, 7.5}, {mode, mode}, 4.0, 2.0}, {1});
        }
}

TEST_CASE("gaussian: sigma pairs, zero sigmas, truncate, mixed modes", "[gaussian]") {
    check<double>(4, 17, 23, Filter{{0.0, 2.0}});
    check<double>(4, 17, 23, Filter{{2.0, 0.0}, {"wrap", "constant"}, 4.0, 3.0});
    check<double>(4, 17, 23, Filter{{1.5, 0.8}, {"mirror", "nearest"}, 1.5, 0.0});
    check<double>(4, 17, 23, Filter{{1.5, 2.5}, {"constant", "reflect"}, 0.0, 1.0});  // radius 0: a copy
    check<double>(4, 17, 23, Filter{{1e-16, 1.0}});                                     // below scipy's cut
    check<double>(3, 9, 40, Filter{{4.0, 4.0}, {"reflect", "reflect"}, 2.7, 0.0});
}

TEST_CASE("gaussian: float32 images round the intermediate to float32", "[gaussian]") {
    for (const auto& mode : kModes) {
        check<float>(5, 28, 28, Filter{{1.2247448713915890, 1.2247448713915890}, {mode, mode}, 4.0, 0.5});
        check<float>(3, 2, 3, Filter{{2.0, 3.0}, {mode, mode}, 4.0, 0.1});
    }
}

TEST_CASE("gaussian: float32 sums stay within their bound of the double reference", "[gaussian]") {
    for (const auto& mode : kModes) {
        check<float>(5, 28, 28, Filter{{1.2247448713915890, 1.2247448713915890}, {mode, mode}, 4.0, 0.5, "float32"});
        check<float>(3, 2, 3, Filter{{2.0, 3.0}, {mode, mode}, 4.0, 0.1, "float32"});
        check<float>(2, 40, 67, Filter{{3.0, 0.7}, {mode, "wrap"}, 4.0, -0.3, "float32"});
    }
    check<float>(0, 300, 19, Filter{{2.0, 0.0}, {"constant", "wrap"}, 4.0, 0.25, "float32"});  // row blocks
}

TEST_CASE("gaussian: float32 sums are float's, not double's", "[gaussian]") {
    auto in = random_images<float>(20 * 28 * 28, 5);
    Filter f{{1.5, 1.5}};
    Job by_double("gaussian", {{"images", input_of(in, {20, 28, 28}, DType::float32)}}, params_of(f));
    f.sums = "float32";
    Job by_float("gaussian", {{"images", input_of(in, {20, 28, 28}, DType::float32)}}, params_of(f));
    by_double.run_all(1000, 1);
    by_float.run_all(1000, 1);
    auto a = by_double.output_as<float>(), b = by_float.output_as<float>();
    size_t differ = 0;
    for (size_t e = 0; e < a.size(); ++e) differ += a[e] != b[e];
    INFO(differ << " of " << a.size() << " elements differ");
    CHECK(differ > a.size() / 100);  // float sums round differently, so some outputs land elsewhere
}

TEST_CASE("gaussian: one 2-D image, and few large images split into row blocks", "[gaussian]") {
    check<double>(0, 28, 28, Filter{{1.5, 1.5}});
    check<float>(0, 300, 19, Filter{{2.0, 1.0}, {"constant", "wrap"}, 4.0, 0.25});
    check<double>(2, 260, 33, Filter{{5.0, 1.0}, {"mirror", "mirror"}}, {1, 2, 7, 1000});
    check<double>(1, 3, 2100, Filter{{1.0, 2.0}, {"nearest", "reflect"}});  // rows wider than the radius by far
    Job job("gaussian", {{"images", {meta_of({1, 4096, 8}), nullptr}}}, {{"sigma", 1}});
    CHECK(job.plan().rows > 1);  // one image still spreads over workers
}

TEST_CASE("gaussian: sigma 0 copies the images exactly", "[gaussian]") {
    auto in = random_images<float>(3 * 5 * 6, 9);
    Job job("gaussian", {{"images", input_of(in, {3, 5, 6}, DType::float32)}}, {{"sigma", 0}});
    job.run_all(1);
    CHECK(job.output_as<float>() == in);
}

TEST_CASE("gaussian: mode aliases and one mode for both axes", "[gaussian]") {
    auto in = random_images<double>(2 * 7 * 9, 10);
    auto run = [&](json mode) {
        Job job("gaussian", {{"images", input_of(in, {2, 7, 9}, DType::float64)}}, {{"sigma", 2.0}, {"mode", mode}});
        job.run_all(1);
        return job.output_as<double>();
    };
    CHECK(run("grid-mirror") == run("reflect"));
    CHECK(run("grid-wrap") == run("wrap"));
    CHECK(run("grid-constant") == run("constant"));
    CHECK(run(json::array({"mirror", "mirror"})) == run("mirror"));
    CHECK(run("reflect") != run("mirror"));
}

TEST_CASE("gaussian: a range writes only its images", "[gaussian]") {
    auto in = random_images<double>(10 * 4 * 5, 11);
    Job job("gaussian", {{"images", input_of(in, {10, 4, 5}, DType::float64)}}, {{"sigma", 1.0}});
    REQUIRE(job.plan().rows == 10);
    job.start()->run(3, 6);
    auto out = job.output_as<double>();
    for (uint64_t e = 0; e < out.size(); ++e) {
        INFO("element " << e);
        CHECK(std::isnan(out[e]) == (e < 3 * 20 || e >= 6 * 20));
    }
    CHECK_THROWS_AS(job.start()->run(9, 11), KernelError);
}

TEST_CASE("gaussian validates its images and params", "[gaussian][validation]") {
    auto images = std::map<std::string, ArrayMeta>{{"images", meta_of({4, 8, 8})}};
    auto bad = [&](json params, const std::string& part) { return plan_error("gaussian", params, images, part); };
    CHECK(bad(json::object(), "'sigma' is required") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", -1}}, "sigma") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", "2"}}, "sigma") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", {1, 2, 3}}}, "pair") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", {1, -2}}}, "sigma[1]") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"mode", "grid"}}, "reflect, ") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"mode", {"wrap", 3}}}, "mode[1]") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"order", 1}}, "order") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"truncate", -1}}, "truncate") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"cval", "x"}}, "cval") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1e6}}, "radius") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"radius", 3}}, "radius") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"sums", "float16"}}, "'sums' must be") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"sums", 32}}, "'sums' must be") == ErrorCode::bad_param);
    CHECK(bad({{"sigma", 1}, {"sums", "float32"}}, "needs float32 images, got float64") == ErrorCode::bad_param);
    CHECK(plan_error("gaussian", {{"sigma", 1}}, {{"images", meta_of({4, 8, 8}, DType::int32)}},
                     "float64 or float32") == ErrorCode::dtype_mismatch);
    CHECK(plan_error("gaussian", {{"sigma", 1}}, {{"images", meta_of({64})}}, "2 to 3 dims") ==
          ErrorCode::shape_mismatch);
    CHECK(plan_error("gaussian", {{"sigma", 1}}, {{"images", meta_of({2, 2, 8, 8})}}) == ErrorCode::shape_mismatch);
    CHECK(plan_error("gaussian", {{"sigma", 1}}, {}) == ErrorCode::missing_role);
    CHECK(plan_error("gaussian", {{"sigma", 1}}, {{"images", meta_of({2, 2})}, {"X", meta_of({2, 2})}}) ==
          ErrorCode::unknown_role);
    Job ok("gaussian", {{"images", {meta_of({4, 8, 8}), nullptr}}}, {{"sigma", 1}, {"order", 0}});
    CHECK(ok.plan().reduce == ReduceOp::none);
}
