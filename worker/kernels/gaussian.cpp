// The `gaussian` kernel: scipy.ndimage.gaussian_filter (order 0) of every image of a K×H×W stack
// (or of one H×W image), float64 or float32; ranges over images, and over row blocks when few.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "worker/kernels/blocks.h"
#include "worker/kernels/builtin.h"
#include "worker/kernels/dtype_dispatch.h"
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

using nlohmann::json;

constexpr double kMinSigma = 1e-15;        // scipy filters an axis only when its sigma exceeds this
constexpr double kMaxRadius = 65536;       // int(truncate·sigma + 0.5) above this is refused
constexpr uint64_t kMinBlockRows = 32;     // row blocks of an image (few images) are no shorter
constexpr uint64_t kBatchRows = 8;         // rows per call of the row loop, each pass over all of them
constexpr uint64_t kVectorBytes = 64;      // the widest path's vector: ring rows and lines start 64-byte aligned

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

// `count` zeros of A, the first at a multiple of 64 bytes plus `lead` elements.
template <class A>
class Aligned {
public:
    static constexpr uint64_t kVector = kVectorBytes / sizeof(A);  // elements per widest vector

    Aligned(uint64_t count, uint64_t lead) : storage_(count + lead + kVector) {
        uint64_t misaligned = reinterpret_cast<uintptr_t>(storage_.data()) / sizeof(A) % kVector;
        data_ = storage_.data() + (kVector - misaligned) % kVector + lead;
    }
    A* data() { return data_; }

private:
    std::vector<A> storage_;
    A* data_;
};

// scipy.ndimage's boundary modes (NI_ExtendLine), with scipy's aliases for filters.
enum class Extend { reflect, nearest, mirror, wrap, constant };
struct ModeName {
    std::string_view name;
    Extend extend;
};
constexpr ModeName kModes[] = {{"reflect", Extend::reflect},      {"grid-mirror", Extend::reflect},
                               {"nearest", Extend::nearest},      {"mirror", Extend::mirror},
                               {"wrap", Extend::wrap},            {"grid-wrap", Extend::wrap},
                               {"constant", Extend::constant},    {"grid-constant", Extend::constant}};

struct GaussianSpec {
    std::array<double, 2> sigma;   // axis 0 (rows of an image), axis 1 (columns)
    std::array<Extend, 2> extend;
    std::array<uint64_t, 2> radius;
    double truncate, cval;
    bool float_sums;  // param sums = "float32": both passes summed in float (float32 images only)
};

// A param given once for both axes or as a pair [axis 0, axis 1]; `one(name, value)` parses a value.
template <class T, class Parse>
std::array<T, 2> per_axis(const json& params, const std::string& name, T fallback, Parse one) {
    if (!params.is_object() || !params.contains(name)) return {fallback, fallback};
    const json& value = params.at(name);
    if (!value.is_array()) return {one(name, value), one(name, value)};
    if (value.size() != 2)
        throw Error(ErrorCode::bad_param,
                    "param '" + name + "' must be one value or a pair [axis 0, axis 1], got " + value.dump());
    return {one(name + "[0]", value[0]), one(name + "[1]", value[1])};
}

Extend mode_value(const std::string& name, const json& value) {
    std::string names;
    for (const auto& mode : kModes) {
        if (value.is_string() && value.get<std::string>() == mode.name) return mode.extend;
        names += (names.empty() ? "" : ", ") + std::string(mode.name);
    }
    throw Error(ErrorCode::bad_param, "param '" + name + "' must be one of " + names + ", got " + value.dump());
}

// scipy's radius: int(truncate·sigma + 0.5), refused above kMaxRadius.
uint64_t radius_of(double sigma, double truncate, int axis) {
    double radius = truncate * sigma + 0.5;
    if (!(radius <= kMaxRadius))
        throw Error(ErrorCode::bad_param, "truncate·sigma gives axis " + std::to_string(axis) +
                                              " a kernel radius of " + json(std::floor(radius)).dump() +
                                              ", above the limit of " + json(kMaxRadius).dump());
    return uint64_t(radius);
}

// Param sums: "float64" (the default, scipy's double sums) or "float32".
bool sums_value(const json& params) {
    if (!params.contains("sums")) return false;
    const json& value = params.at("sums");
    if (value == "float64" || value == "float32") return value == "float32";
    throw Error(ErrorCode::bad_param, "param 'sums' must be \"float64\" or \"float32\", got " + value.dump());
}

GaussianSpec parse_spec(const json& params) {
    kernels::require_known_params(params, {"sigma", "truncate", "mode", "cval", "order", "sums"});
    if (!params.is_object() || !params.contains("sigma"))
        throw Error(ErrorCode::bad_param, "param 'sigma' is required (a number >= 0 or a pair [axis 0, axis 1])");
    if (params.contains("order") && !(params["order"].is_number() && params["order"].get<double>() == 0.0))
        throw Error(ErrorCode::bad_param,
                    "param 'order' must be 0: derivatives of a Gaussian are not supported, got " +
                        params["order"].dump());
    GaussianSpec spec;
    auto sigma_value = [](const std::string& name, const json& v) { return kernels::number_value(name, v, 0, 1e300); };
    spec.sigma = per_axis<double>(params, "sigma", 0.0, sigma_value);
    spec.extend = per_axis<Extend>(params, "mode", Extend::reflect, mode_value);
    spec.truncate = kernels::param_number(params, "truncate", 4.0, 0, 1e300);
    spec.cval = kernels::param_number(params, "cval", 0.0, -1e308, 1e308);
    spec.float_sums = sums_value(params);
    for (int axis : {0, 1}) spec.radius[axis] = radius_of(spec.sigma[axis], spec.truncate, axis);
    return spec;
}

struct Images {
    uint64_t count, height, width;
};

Images check_images(const ArrayMeta& meta) {
    kernels::require_dtype_in("images", meta, {DType::float64, DType::float32});
    kernels::require_ndim_in("images", meta, 2, 3);
    const auto& d = meta.shape.dims;
    return meta.shape.ndim == 2 ? Images{1, d[0], d[1]} : Images{d[0], d[1], d[2]};
}

kernels::BlockSplit row_blocks(const Images& images) {
    return kernels::split_for_rows(images.count, images.height, kMinBlockRows);
}

// Which source index an extended index q (< 0 or >= len beyond the line) reads, as
// NI_ExtendLine fills a line: -1 for cval. Wider than the line, the patterns repeat.
int64_t source_index(int64_t q, int64_t len, Extend extend) {
    auto wrap = [](int64_t a, int64_t period) { return ((a % period) + period) % period; };
    switch (extend) {
        case Extend::nearest: return std::clamp<int64_t>(q, 0, len - 1);
        case Extend::wrap: return wrap(q, len);
        case Extend::reflect: {  // d c b a | a b c d | d c b a
            int64_t m = wrap(q, 2 * len);
            return m < len ? m : 2 * len - 1 - m;
        }
        case Extend::mirror: {  // d c b | a b c d | c b a; one element: nearest
            if (len == 1) return 0;
            int64_t m = wrap(q, 2 * len - 2);
            return m < len ? m : 2 * len - 2 - m;
        }
        case Extend::constant: return q >= 0 && q < len ? q : -1;
    }
    return -1;
}

// One axis' 1-D correlation: weights[t] for offsets ±t, and the source index of each extended
// index e in [0, len + 2r) (e - r is the position on the line). An axis scipy leaves alone
// (sigma <= kMinSigma) is inactive: radius 0, weight 1, which copies it exactly.
struct AxisFilter {
    bool active = false;
    std::vector<double> weights;
    std::vector<int64_t> source;

    uint64_t radius() const { return weights.size() - 1; }
};

// scipy's _gaussian_kernel1d(sigma, 0, radius): exp(-0.5/sigma² · x²) over x in [-r, r], normalized.
AxisFilter make_filter(double sigma, uint64_t radius, Extend extend, uint64_t len) {
    AxisFilter f;
    f.active = sigma > kMinSigma;
    if (!f.active) radius = 0;
    f.weights.resize(radius + 1);
    double scale = -0.5 / (sigma * sigma), sum = 0;
    for (uint64_t t = radius + 1; t-- > 0;) {
        f.weights[t] = f.active ? std::exp(scale * double(t * t)) : 1.0;
        sum += t == 0 ? f.weights[t] : 2 * f.weights[t];
    }
    for (double& w : f.weights) w /= sum;
    f.source.resize(len + 2 * radius);
    for (uint64_t e = 0; e < f.source.size(); ++e)
        f.source[e] = source_index(int64_t(e) - int64_t(radius), int64_t(len), extend);
    return f;
}

// The row loop on the process's SIMD path, by element and sum type (see simd/gaussian_loops.h).
void filter_rows(const kernels::SimdLoops& l, const kernels::GaussianRows<double>& g) { l.gaussian_rows_f64(g); }
void filter_rows(const kernels::SimdLoops& l, const kernels::GaussianRows<float>& g) { l.gaussian_rows_f32(g); }
void filter_rows(const kernels::SimdLoops& l, const kernels::GaussianRows<float, float>& g) {
    l.gaussian_rows_f32_sums_f32(g);
}

// Batches of rows, as gaussian_filter does on the whole image: axis 0 from the input, rounded
// to T (scipy's output array), then axis 1, summed in A (double, as scipy; or float). The input
// rows about a batch are kept in A in a ring of 2r0 + kBatchRows rows (extended row e in ring
// row e mod that), so each is converted once per block.
template <class T, class A>
class GaussianRun : public KernelRun {
    static constexpr uint64_t kVector = Aligned<A>::kVector;

public:
    GaussianRun(const T* in, T* out, Images images, const GaussianSpec& spec)
        : in_(in), out_(out), images_(images), blocks_(row_blocks(images)), cval_(A(spec.cval)),
          axis0_(make_filter(spec.sigma[0], spec.radius[0], spec.extend[0], images.height)),
          axis1_(make_filter(spec.sigma[1], spec.radius[1], spec.extend[1], images.width)),
          weights0_(axis0_.weights.begin(), axis0_.weights.end()),
          weights1_(axis1_.weights.begin(), axis1_.weights.end()), loops_(kernels::simd_loops()),
          padded_(round_up(images.width, kVector)), ring_rows_(2 * axis0_.radius() + kBatchRows),
          ring_(ring_rows_ * padded_, 0), entering_rows_(ring_rows_),
          line_stride_(round_up(padded_ + 2 * axis1_.radius(), kVector)),
          lines_(kBatchRows * line_stride_, round_up(axis1_.radius(), kVector) - axis1_.radius()) {
        for (uint64_t k = 0; k < 2 * ring_rows_; ++k) ring_by_phase_.push_back(ring_.data() + k % ring_rows_ * padded_);
    }

    void run(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, images_.count * blocks_.count);
        for (uint64_t index = begin; index < end; ++index) {
            uint64_t image = index / blocks_.count, block = index % blocks_.count;
            filter_block(image, blocks_.begin(block), blocks_.end(block));
        }
    }

private:
    // Rows [first, last) of one image.
    void filter_block(uint64_t image, uint64_t first, uint64_t last) {
        uint64_t width = images_.width, size = images_.height * width, r0 = axis0_.radius();
        const T* src = in_ + image * size;
        T* dst = out_ + image * size;
        if (!axis0_.active && !axis1_.active)
            return (void)std::copy(src + first * width, src + last * width, dst + first * width);
        kernels::GaussianRows<T, A> rows{0,       width,  padded_, entering_rows_.data(), nullptr, 0, nullptr,
                                         weights0_.data(),       r0,       axis1_.source.data(),
                                         weights1_.data(),       axis1_.radius(),      cval_,
                                         lines_.data(),          line_stride_,         nullptr, width};
        uint64_t n = ring_rows_, phase = first % n;  // the ring row of extended row i
        for (uint64_t i = first; i < last; i += rows.rows) {
            rows.rows = std::min(kBatchRows, last - i);
            // extended rows [i, i + 2r0 + rows) are needed: all enter on the first batch
            uint64_t from = i == first ? i : i + 2 * r0, from_phase = i == first ? phase : phase + 2 * r0;
            rows.entering = enter_rows(src, from, i + 2 * r0 + rows.rows);
            rows.entering_slots = ring_by_phase_.data() + (from_phase < n ? from_phase : from_phase - n);
            rows.taps = ring_by_phase_.data() + phase;
            rows.dst = dst + i * width;
            filter_rows(loops_, rows);
            phase += rows.rows;
            phase = phase < n ? phase : phase - n;
        }
    }

    // Extended rows [from, to) enter the ring: their input rows (null: cval), for the row loop
    // to widen. Returns how many.
    uint64_t enter_rows(const T* src, uint64_t from, uint64_t to) {
        for (uint64_t e = from; e < to; ++e) {
            int64_t s = axis0_.source[e];
            entering_rows_[e - from] = s < 0 ? nullptr : src + uint64_t(s) * images_.width;
        }
        return to - from;
    }

    const T* in_;
    T* out_;
    Images images_;
    kernels::BlockSplit blocks_;
    A cval_;
    AxisFilter axis0_, axis1_;
    std::vector<A> weights0_, weights1_;   // the axes' weights in A
    const kernels::SimdLoops& loops_;      // the process's SIMD path
    uint64_t padded_;                      // width rounded up to whole vectors: axis 0's row length
    uint64_t ring_rows_;                   // 2r0 + kBatchRows
    Aligned<A> ring_;                      // ring_rows_ rows of padded_ elements in A (zeros past width)
    std::vector<A*> ring_by_phase_;        // ring row k mod ring_rows_, k in [0, 2·ring_rows_)
    std::vector<const T*> entering_rows_;  // see enter_rows
    uint64_t line_stride_;                 // padded_ + 2r1, rounded up to whole vectors
    Aligned<A> lines_;                     // kBatchRows rows, each extended by r1 each side (row aligned)
};

class GaussianKernel : public Kernel {
public:
    std::string name() const override { return "gaussian"; }
    std::vector<std::string> roles() const override { return {"images"}; }
    nlohmann::json describe_params() const override {
        return {{"sigma", "standard deviation (>= 0), or a pair [axis 0, axis 1]; required"},
                {"truncate", "radius = int(truncate*sigma + 0.5) (default 4.0)"},
                {"mode", "reflect (default), nearest, mirror, wrap or constant, or a pair"},
                {"cval", "the value beyond the edges in constant mode (default 0.0)"},
                {"order", "0 only (a plain smoothing)"},
                {"sums", "float64 (default: scipy's double sums) or float32 (float32 images only: twice the "
                         "lanes, error up to about (r0 + r1 + 9) float32 epsilons of the filtered |images|)"}};
    }
    std::string description() const override {
        return "scipy.ndimage.gaussian_filter of each image of images (K x H x W or H x W, float64 or float32); "
               "output of the same shape and dtype";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        parse_spec(in.params);
        const ArrayMeta& meta = kernels::input_meta(in.inputs, "images");
        Images images = check_images(meta);
        if (sums_value(in.params) && meta.dtype != DType::float32)
            throw Error(ErrorCode::bad_param, "param 'sums' \"float32\" needs float32 images, got " +
                                                  std::string(dtype_name(meta.dtype)));
        return Plan{.output = meta, .rows = images.count * row_blocks(images).count};
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        GaussianSpec spec = parse_spec(ctx.params);
        const ArrayView& view = kernels::input_view(ctx, "images");
        Images images = check_images(view.meta);
        kernels::require_output(ctx, view.meta);
        return kernels::visit_dtype(view.meta.dtype, [&](auto zero) -> std::unique_ptr<KernelRun> {
            using T = decltype(zero);
            if constexpr (std::is_same_v<T, float>) {
                if (spec.float_sums)
                    return std::make_unique<GaussianRun<T, float>>(view.as<T>(), ctx.output.out<T>(), images, spec);
            }
            if constexpr (std::is_floating_point_v<T>)
                return std::make_unique<GaussianRun<T, double>>(view.as<T>(), ctx.output.out<T>(), images, spec);
            else
                throw KernelError("gaussian takes float64 or float32 images");
        });
    }
};

}  // namespace

const Kernel& gaussian_kernel() {
    static const GaussianKernel kernel;
    return kernel;
}

}  // namespace shmpool
