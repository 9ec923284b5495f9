// libFuzzer target for the .npy header codec: any input must parse or throw shmpool::Error,
// within the buffer; whatever parses must format and re-parse to the same dtype and shape.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/npy.h"

namespace {

// Every successful parse must be self-consistent and survive a format/parse round trip.
void check_parsed(const shmpool::NpyHeader& h, size_t needed, size_t len) {
    if (h.data_offset != needed || needed > len) std::abort();
    std::string again = shmpool::format_npy_header(h.dtype, h.shape);
    shmpool::NpyHeader r = shmpool::parse_npy_header(again.data(), again.size());
    if (r.dtype != h.dtype || !(r.shape == h.shape) || r.data_bytes != h.data_bytes) std::abort();
    if (r.data_offset != again.size() || again.size() % 64 != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // An exact-size copy, so ASan flags any read past the end even for size 0.
    std::unique_ptr<char[]> buf(new char[size]);
    std::copy(data, data + size, buf.get());
    size_t needed = 0;
    try {
        needed = shmpool::npy_header_bytes_needed(buf.get(), size);
    } catch (const shmpool::Error&) {
    }
    try {
        shmpool::NpyHeader h = shmpool::parse_npy_header(buf.get(), size);
        check_parsed(h, needed, size);
    } catch (const shmpool::Error&) {
    }
    return 0;
}
