// Element types and shapes of datasets: names, sizes, and overflow-checked byte counts.
// The dtype tables here are the single source for protocol names and .npy descrs.
#include "common/array_meta.h"

#include "common/error.h"

namespace shmpool {
namespace {

struct DTypeInfo {
    DType type;
    size_t size;
    std::string_view name;
    std::string_view descr;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::float64, 8, "float64", "<f8"}, {DType::float32, 4, "float32", "<f4"},
    {DType::int64, 8, "int64", "<i8"},     {DType::int32, 4, "int32", "<i4"},
    {DType::uint8, 1, "uint8", "|u1"},
};

const DTypeInfo& info(DType t) { return kDTypes[static_cast<int>(t)]; }

}  // namespace

size_t dtype_size(DType t) { return info(t).size; }
std::string_view dtype_name(DType t) { return info(t).name; }
std::string_view dtype_npy_descr(DType t) { return info(t).descr; }

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& d : kDTypes)
        if (d.name == name) return d.type;
    return std::nullopt;
}

std::optional<DType> dtype_from_npy_descr(std::string_view descr) {
    for (const auto& d : kDTypes) {
        if (d.descr == descr) return d.type;
        // NumPy writes "|u1" but also accepts "<u1"; single bytes have no order.
        if (d.size == 1 && descr.size() == 3 && descr.substr(1) == d.descr.substr(1) &&
            (descr[0] == '<' || descr[0] == '='))
            return d.type;
    }
    return std::nullopt;
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

uint64_t Shape::row_elems() const {
    uint64_t n = 1;
    for (int i = 1; i < ndim; ++i) n *= dims[i];
    return n;
}

uint64_t Shape::elems() const {
    uint64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= dims[i];
    return n;
}

std::string Shape::to_string() const {
    std::string s;
    for (int i = 0; i < ndim; ++i) {
        if (i) s += 'x';
        s += std::to_string(dims[i]);
    }
    return s;
}

bool Shape::operator==(const Shape& o) const {
    if (ndim != o.ndim) return false;
    for (int i = 0; i < ndim; ++i)
        if (dims[i] != o.dims[i]) return false;
    return true;
}

uint64_t checked_bytes(const Shape& s, DType t) {
    uint64_t n = dtype_size(t);
    for (int i = 0; i < s.ndim; ++i)
        if (mul_overflows(n, s.dims[i], &n))
            throw Error(ErrorCode::too_large, "shape " + s.to_string() + " of " +
                                                  std::string(dtype_name(t)) + " overflows 64 bits");
    return n;
}

Shape make_shape(const uint64_t* dims, int ndim, DType t, uint64_t limit) {
    if (ndim < 1 || ndim > kMaxDims)
        throw Error(ErrorCode::bad_shape, "a shape has 1 to 4 dims, not " + std::to_string(ndim));
    Shape s;
    s.ndim = ndim;
    for (int i = 0; i < ndim; ++i) {
        if (dims[i] == 0) throw Error(ErrorCode::bad_shape, "dim " + std::to_string(i) + " is zero");
        s.dims[i] = dims[i];
    }
    uint64_t bytes = checked_bytes(s, t);
    if (bytes > limit)
        throw Error(ErrorCode::too_large, "shape " + s.to_string() + " of " + std::string(dtype_name(t)) +
                                              " needs " + std::to_string(bytes) + " bytes, over the limit of " +
                                              std::to_string(limit));
    return s;
}

}  // namespace shmpool
