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
#include "worker/kernels/simd/loops.h"
#include "worker/kernels/validate.h"

namespace shmpool {
namespace {

constexpr uint64_t kMinBlockPoints = 4096;  // a (block, grid) row has at least this many points
// points whose cells are computed once for all grids of a range
constexpr uint64_t kTilePoints = kernels::BilinearTile::kTilePoints;

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

class BilinearRun : public KernelRun {
public:
    BilinearRun(const double* z, const double* p, double* out, const Layout& layout)
        : z_(z), p_(p), out_(out), l_(layout), sums_(layout.dims.grids), loops_(kernels::simd_loops()) {}

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

    // The tile of points [first, last): cells and weights, a vector of points at a time.
    void fill_tile(uint64_t first, uint64_t last) {
        tile_.count = last - first;
        if (!loops_.bilinear_fill_tile(p_ + 2 * first, {l_.dims.nx, l_.dims.ny}, tile_)) first_outside(first);
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

    double tile_sum(const double* grid) const { return loops_.bilinear_tile_sum(tile_, grid, l_.dims.ny); }

    const double* z_;
    const double* p_;
    double* out_;
    Layout l_;
    std::vector<CompensatedSum> sums_;  // per grid, for the block at hand
    const kernels::SimdLoops& loops_;  // the process's SIMD path
    kernels::BilinearTile tile_;
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
