// Element types and shapes of datasets: names, sizes, and overflow-checked byte counts.
// Every size a request asks for goes through checked_bytes() before anything is allocated.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shmpool {

enum class DType : uint8_t { float64 = 0, float32 = 1, int64 = 2, int32 = 3, uint8 = 4 };

constexpr int kMaxDims = 4;

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
// NumPy's little-endian descr, e.g. "<f8", "|u1".
std::string_view dtype_npy_descr(DType t);
std::optional<DType> dtype_from_npy_descr(std::string_view descr);

struct Shape {
    int ndim = 0;
    std::array<uint64_t, kMaxDims> dims{};

    uint64_t rows() const { return ndim > 0 ? dims[0] : 0; }
    // Elements in one row (product of all dims but the first).
    uint64_t row_elems() const;
    uint64_t elems() const;
    std::string to_string() const;  // "4000x64"
    bool operator==(const Shape& o) const;
};

// What a dataset is, as the daemon stores it and a kernel sees it: its element type and shape.
struct ArrayMeta {
    DType dtype = DType::float64;
    Shape shape;
};

// A shape of 1..4 dims, each >= 1, whose byte size for `t` fits in `limit`.
// Throws Error(bad_shape) or Error(too_large) naming the problem.
Shape make_shape(const uint64_t* dims, int ndim, DType t, uint64_t limit);
uint64_t checked_bytes(const Shape& s, DType t);  // throws too_large on overflow

// Overflow-checked arithmetic on sizes; false on overflow.
bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out);

}  // namespace shmpool
