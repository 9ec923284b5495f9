// The `bilinear_exp_sum` kernel (the seed's BigData): Σ_k Σ_i exp(f_k(x_i, y_i)), f_k the bilinear
// interpolant of grid Z[k] (RectBivariateSpline kx=ky=1); a sum reduction, optionally per grid.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <vector>

#include "worker/kernels/blocks.h"
#include "worker/kernels/builtin.h"
#include "worker/kernels/simd.h"
#include "worker/kernels/simd_exp.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

using kernels::DoubleVec;

constexpr uint64_t kMinBlockPoints = 4096;  // a (block, grid) row has at least this many points
constexpr uint64_t kTilePoints = 512;       // points whose cells are computed once for all grids of a range

struct Dims {
    uint64_t grids, nx, ny, points;
};

// Z: k×nx×ny (or one nx×ny grid), at least 2×2 (kx = ky = 1), each grid indexable by 32 bits;
// P: m×2 (x, y).
Dims check_inputs(const ArrayMeta& z, const ArrayMeta& p) {
    kernels::require_dtype("Z", z, DType::float64);
    kernels::require_ndim_in("Z", z, 2, 3);
    kernels::require_dtype("P", p, DType::float64);
    kernels::require_ndim("P", p, 2);
    const auto& d = z.shape.dims;
    Dims dims = z.shape.ndim == 2 ? Dims{1, d[0], d[1], 0} : Dims{d[0], d[1], d[2], 0};
    if (dims.nx < 2 || dims.ny < 2)
        throw Error(ErrorCode::shape_mismatch, "input 'Z' grids must be at least 2x2 for bilinear interpolation, got " +
                                                   z.shape.to_string());
    if (dims.nx * dims.ny > std::numeric_limits<uint32_t>::max())
        throw Error(ErrorCode::too_large, "input 'Z' grids must have fewer than 2^32 elements, got " +
                                              z.shape.to_string());
    if (p.shape.dims[1] != 2)
        throw Error(ErrorCode::shape_mismatch, "input 'P' must be m x 2 (x, y per row), got " + p.shape.to_string());
    dims.points = p.shape.dims[0];
    return dims;
}

struct Layout {
    Dims dims;
    bool per_grid;
    kernels::BlockSplit blocks;  // of the points; row = block·grids + grid

    uint64_t rows() const { return blocks.count * dims.grids; }
};

Layout layout_of(const nlohmann::json& params, const ArrayMeta& z, const ArrayMeta& p) {
    kernels::require_known_params(params, {"per_grid"});
    Layout l{check_inputs(z, p), kernels::param_bool(params, "per_grid", false), {}};
    l.blocks = l.per_grid ? kernels::single_block(l.dims.points)
                          : kernels::split_for_rows(l.dims.grids, l.dims.points, kMinBlockPoints);
    return l;
}

ArrayMeta per_grid_output(uint64_t grids) {
    ArrayMeta out;
    out.shape.ndim = 1;
    out.shape.dims = {grids, 0, 0, 0};
    return out;
}

// Lane helpers for the tile loops, on a double or a DoubleVec (see simd.h).
double every_other(double, const double* p) { return *p; }  // p[0], p[2], ...: x or y of points
DoubleVec every_other(const DoubleVec&, const double* p) { return DoubleVec([&](auto l) { return p[2 * l]; }); }
double floor_of(double v) { return std::floor(v); }
DoubleVec floor_of(const DoubleVec& v) { return kernels::stdx::floor(v); }
double min_of(double a, double b) { return std::min(a, b); }
DoubleVec min_of(const DoubleVec& a, const DoubleVec& b) { return kernels::stdx::min(a, b); }
void store_index(double v, uint32_t* to) { *to = uint32_t(v); }
void store_index(const DoubleVec& v, uint32_t* to) {
    using IndexVec = kernels::stdx::rebind_simd_t<uint32_t, DoubleVec>;
    kernels::stdx::static_simd_cast<IndexVec>(v).copy_to(to, kernels::stdx::element_aligned);
}

// base[index[l]] per lane. (Scalar loads: AVX-512's vgatherdpd measured 2x slower here, on AMD EPYC.)
double gather(double, const double* base, const uint32_t* index) { return base[*index]; }
DoubleVec gather(const DoubleVec&, const double* base, const uint32_t* index) {
    return DoubleVec([&](auto l) { return base[index[l]]; });
}

// The cells and weights of up to kTilePoints points, as FITPACK's fpbisp computes them: cell
// c = floor(x) (the last cell at x = n-1), weights (c+1) - x and x - c per axis.
struct Tile {
    uint64_t count = 0;
    alignas(64) uint32_t cell[kTilePoints];  // c_x·ny + c_y
    alignas(64) double w00[kTilePoints], w01[kTilePoints], w10[kTilePoints], w11[kTilePoints];
};

class BilinearRun : public KernelRun {
public:
    BilinearRun(const double* z, const double* p, double* out, const Layout& layout)
        : z_(z), p_(p), out_(out), l_(layout), sums_(layout.dims.grids) {}

    Partial reduce(uint64_t begin, uint64_t end) override {
        kernels::require_range(begin, end, l_.rows());
        uint64_t grids = l_.dims.grids;
        for (uint64_t index = begin; index < end;) {
            uint64_t block = index / grids, g0 = index % grids, g1 = std::min(grids, g0 + (end - index));
            std::fill(sums_.begin() + int64_t(g0), sums_.begin() + int64_t(g1), CompensatedSum{});
            sum_block(block, g0, g1);
            fold_sums(block, g0, g1);
            index += g1 - g0;
        }
        return finish();
    }

private:
    // sums_[g] += Σ exp(f_g) over the points of `block`, for grids [g0, g1), tile by tile.
    void sum_block(uint64_t block, uint64_t g0, uint64_t g1) {
        for (uint64_t first = l_.blocks.begin(block); first < l_.blocks.end(block); first += kTilePoints) {
            fill_tile(first, std::min(l_.blocks.end(block), first + kTilePoints));
            for (uint64_t g = g0; g < g1; ++g) sums_[g].add(tile_sum(z_ + g * l_.dims.nx * l_.dims.ny));
        }
    }

    // Folds the sums of grids [g0, g1) into the range's total (and the output, per grid).
    void fold_sums(uint64_t block, uint64_t g0, uint64_t g1) {
        for (uint64_t g = g0; g < g1; ++g) {
            total_.add(sums_[g].sum);
            total_.add(sums_[g].comp);
            if (l_.per_grid) out_[g] = sums_[g].value();
        }
        count_ += (l_.blocks.end(block) - l_.blocks.begin(block)) * (g1 - g0);
    }

    Partial finish() {
        Partial part{.value = total_.sum, .compensation = total_.comp, .index = -1, .count = count_};
        total_ = CompensatedSum{};
        count_ = 0;
        return part;
    }

    // The tile of points [first, last): cells and weights, 8 points at a time with AVX-512.
    void fill_tile(uint64_t first, uint64_t last) {
        Tile& t = tile_;
        t.count = last - first;
        const double xmax = double(l_.dims.nx - 1), ymax = double(l_.dims.ny - 1), ny = double(l_.dims.ny);
        kernels::for_each_lane(t.count, [&](uint64_t j, auto zero) {
            auto x = every_other(zero, p_ + 2 * (first + j)), y = every_other(zero, p_ + 2 * (first + j) + 1);
            if (kernels::any_lane(!(x >= 0.0 && x <= xmax && y >= 0.0 && y <= ymax))) first_outside(first + j);
            auto cx = min_of(floor_of(x), zero + (xmax - 1)), cy = min_of(floor_of(y), zero + (ymax - 1));
            auto wx0 = (cx + 1.0) - x, wx1 = x - cx, wy0 = (cy + 1.0) - y, wy1 = y - cy;
            store_index(cx * ny + cy, t.cell + j);
            kernels::store(wx0 * wy0, t.w00 + j), kernels::store(wx0 * wy1, t.w01 + j);
            kernels::store(wx1 * wy0, t.w10 + j), kernels::store(wx1 * wy1, t.w11 + j);
        });
    }

    // Throws for the first point from `i` on that lies outside the grid (or is NaN).
    [[noreturn]] void first_outside(uint64_t i) const {
        const double xmax = double(l_.dims.nx - 1), ymax = double(l_.dims.ny - 1);
        for (;; ++i) {
            double x = p_[2 * i], y = p_[2 * i + 1];
            if (!(x >= 0 && x <= xmax && y >= 0 && y <= ymax)) outside(i, x, y);
        }
    }

    [[noreturn]] void outside(uint64_t i, double x, double y) const {
        char text[160];
        std::snprintf(text, sizeof text, "point %" PRIu64 " (%.17g, %.17g) lies outside the grid [0, %" PRIu64
                      "] x [0, %" PRIu64 "]", i, x, y, l_.dims.nx - 1, l_.dims.ny - 1);
        throw KernelError(text);
    }

    // Σ exp(f(x_i, y_i)) over the tile's points for one grid: 4 gathers, 4 FMAs and an exp.
    double tile_sum(const double* grid) const {
        const Tile& t = tile_;
        const uint32_t ny = uint32_t(l_.dims.ny);
        DoubleVec lanes(0.0);
        double rest = 0;
        kernels::for_each_lane(t.count, [&](uint64_t j, auto zero) {
            constexpr bool scalar = std::is_same_v<decltype(zero), double>;
            auto at = [&](uint32_t delta) { return gather(zero, grid + delta, t.cell + j); };
            auto f = at(0) * kernels::load_like(zero, t.w00 + j) + at(1) * kernels::load_like(zero, t.w01 + j) +
                     at(ny) * kernels::load_like(zero, t.w10 + j) + at(ny + 1) * kernels::load_like(zero, t.w11 + j);
            if constexpr (scalar) rest += kernels::exp_of(f);
            else lanes += kernels::exp_of(f);
        });
        return kernels::stdx::reduce(lanes) + rest;
    }

    const double* z_;
    const double* p_;
    double* out_;
    Layout l_;
    std::vector<CompensatedSum> sums_;  // per grid, for the block at hand
    Tile tile_;
    CompensatedSum total_;
    uint64_t count_ = 0;
};

class BilinearExpSumKernel : public Kernel {
public:
    std::string name() const override { return "bilinear_exp_sum"; }
    std::vector<std::string> roles() const override { return {"Z", "P"}; }
    nlohmann::json describe_params() const override {
        return {{"per_grid", "also output the k per-grid sums (float64, length k); default false"}};
    }
    std::string description() const override {
        return "sum over grids Z[k] (k x nx x ny float64, sampled at integer coordinates) and points P (m x 2 "
               "float64) of exp(bilinear interpolant of Z[k] at (x, y)); x indexes rows of Z[k]";
    }

    Plan plan(const PlanInput& in) const override {
        kernels::require_roles(in.inputs, roles());
        Layout l = layout_of(in.params, kernels::input_meta(in.inputs, "Z"), kernels::input_meta(in.inputs, "P"));
        Plan plan{.output = std::nullopt, .rows = l.rows(), .reduce = ReduceOp::sum};
        if (l.per_grid) plan.output = per_grid_output(l.dims.grids);
        return plan;
    }

    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        const ArrayView& z = kernels::input_view(ctx, "Z");
        const ArrayView& p = kernels::input_view(ctx, "P");
        Layout l = layout_of(ctx.params, z.meta, p.meta);
        if (l.per_grid) kernels::require_output(ctx, per_grid_output(l.dims.grids));
        return std::make_unique<BilinearRun>(z.as<double>(), p.as<double>(), ctx.output.out<double>(), l);
    }
};

}  // namespace

const Kernel& bilinear_exp_sum_kernel() {
    static const BilinearExpSumKernel kernel;
    return kernel;
}

}  // namespace shmpool
