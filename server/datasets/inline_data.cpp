// Small arrays written inline in JSON (nested lists, C order): their shape, and the copy
// between JSON numbers and a dataset's bytes for each dtype, range-checked.
#include "server/datasets/inline_data.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "common/error.h"

namespace shmpool {
namespace {

[[noreturn]] void ragged() { throw Error(ErrorCode::bad_shape, "inline data must be rectangular nested lists"); }

template <class T>
T convert(const nlohmann::json& v) {
    if (!v.is_number()) throw Error(ErrorCode::bad_request, "inline data holds a non-number: " + v.dump());
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(v.get<double>());
    } else {
        if (!v.is_number_integer()) throw Error(ErrorCode::bad_request, "integer dtype given " + v.dump());
        if (v.is_number_unsigned()) {
            uint64_t u = v.get<uint64_t>();
            if (u > static_cast<uint64_t>(std::numeric_limits<T>::max()))
                throw Error(ErrorCode::bad_request, "value " + v.dump() + " out of range");
            return static_cast<T>(u);
        }
        int64_t i = v.get<int64_t>();
        if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
            i > static_cast<int64_t>(std::numeric_limits<T>::max()))
            throw Error(ErrorCode::bad_request, "value " + v.dump() + " out of range");
        return static_cast<T>(i);
    }
}

// Visits the leaves of `data` in C order, checking every list at depth d has s.dims[d] items.
template <class F>
void for_each_leaf(const nlohmann::json& data, const Shape& s, int depth, F&& f) {
    if (depth >= s.ndim || depth >= kMaxDims) {
        f(data);
        return;
    }
    if (!data.is_array() || data.size() != s.dims[depth]) ragged();
    for (const auto& item : data) for_each_leaf(item, s, depth + 1, f);
}

template <class T>
void write_as(const nlohmann::json& data, const Shape& s, void* dst) {
    T* out = static_cast<T*>(dst);
    for_each_leaf(data, s, 0, [&](const nlohmann::json& v) { *out++ = convert<T>(v); });
}

template <class T>
nlohmann::json read_as(const T*& src, const Shape& s, int depth) {
    nlohmann::json arr = nlohmann::json::array();
    if (depth >= kMaxDims) return arr;
    bool leaves = depth + 1 >= s.ndim;
    for (uint64_t i = 0; i < s.dims[depth]; ++i) arr.push_back(leaves ? nlohmann::json(*src++) : read_as(src, s, depth + 1));
    return arr;
}

template <class F>
void with_type(DType t, F&& f) {
    switch (t) {
        case DType::float64: f(double{}); break;
        case DType::float32: f(float{}); break;
        case DType::int64: f(int64_t{}); break;
        case DType::int32: f(int32_t{}); break;
        case DType::uint8: f(uint8_t{}); break;
    }
}

}  // namespace

Shape inline_shape(const nlohmann::json& data, DType t, uint64_t limit) {
    uint64_t dims[kMaxDims] = {};
    int ndim = 0;
    const nlohmann::json* level = &data;
    while (level->is_array()) {
        if (ndim == kMaxDims) throw Error(ErrorCode::bad_shape, "inline data nests deeper than 4 dims");
        if (level->empty()) throw Error(ErrorCode::bad_shape, "inline data has an empty list");
        dims[ndim++] = level->size();
        level = &(*level)[0];
    }
    Shape s = make_shape(dims, ndim, t, limit);
    for_each_leaf(data, s, 0, [](const nlohmann::json&) {});  // rectangular?
    return s;
}

void write_inline(const nlohmann::json& data, DType t, const Shape& s, void* dst) {
    with_type(t, [&](auto zero) { write_as<decltype(zero)>(data, s, dst); });
}

nlohmann::json read_inline(const void* src, DType t, const Shape& s) {
    nlohmann::json out;
    with_type(t, [&](auto zero) {
        const auto* p = static_cast<const decltype(zero)*>(src);
        out = read_as(p, s, 0);
    });
    return out;
}

}  // namespace shmpool
