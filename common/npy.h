// The .npy file header codec: reading NumPy's magic, version and Python-dict header, and writing one.
// Parsing is strict and bounded: it never reads past its buffer nor allocates by an untrusted size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/array_meta.h"

namespace shmpool {

// NumPy's own limit on the dict part of a header (numpy.lib.format._MAX_HEADER_SIZE);
// a longer header is refused before anything reads it.
constexpr size_t kNpyMaxDictBytes = 10000;

// How the file lays out its elements: NumPy's fortran_order, and the byte order of the descr.
// A one-byte dtype has no byte order: its big_endian is always false.
struct NpyLayout {
    bool fortran_order = false;
    bool big_endian = false;
    bool operator==(const NpyLayout&) const = default;
};

struct NpyHeader {
    DType dtype;
    Shape shape;
    uint64_t data_offset;  // where the array's bytes start in the file
    uint64_t data_bytes;   // how many bytes of data follow the header
    NpyLayout layout;
};

// Parses the magic, version (1.0, 2.0, 3.0), header length and the Python-dict header
// ({'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }) of an .npy file whose first
// `len` bytes are `buf` (len may exceed the header). Throws Error(io_error) for anything
// malformed, truncated or unsupported (fortran order, big-endian, object or unknown descr,
// 0 or more than 4 dims, a zero dim) and Error(too_large) when the size overflows 64 bits.
NpyHeader parse_npy_header(const char* buf, size_t len);

// How many bytes of the file parse_npy_header needs (magic .. final '\n'), from the magic,
// version and length fields alone: len >= 10 (12 for versions 2.0 and 3.0).
// Throws Error(io_error) on a bad magic or version, a short buffer or an oversized header.
size_t npy_header_bytes_needed(const char* buf, size_t len);

// The full header (magic .. padding .. '\n') NumPy would write for an array of that layout
// (C order, little-endian by default): version 1.0 when it fits in 65535 bytes else 2.0,
// total length a multiple of 64. Throws Error(bad_shape) if `shape` is not 1..4 dims of at least 1.
std::string format_npy_header(DType dtype, const Shape& shape, NpyLayout layout = {});

}  // namespace shmpool
