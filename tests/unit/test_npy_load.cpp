// Unit tests of the _load_npy kernel on Fortran-order and big-endian files: every tiling path
// (blocks of i0, of whole file rows, whole tiles in one read, ragged edges, 4-D middles)
// against a plain serial loop.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernel_job.h"

using namespace kernel_test;

namespace {

// A temp file removed when the test ends.
struct TempFile {
    std::string path;
    TempFile() {
        char tmpl[] = "/tmp/shmpool-npy-load-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
    }
    ~TempFile() { std::remove(path.c_str()); }
};

// The C-order element index of the multi-index `idx` in `dims`, and its Fortran-order one.
uint64_t c_index(const std::vector<uint64_t>& dims, const std::vector<uint64_t>& idx) {
    uint64_t at = 0;
    for (size_t i = 0; i < dims.size(); ++i) at = at * dims[i] + idx[i];
    return at;
}
uint64_t f_index(const std::vector<uint64_t>& dims, const std::vector<uint64_t>& idx) {
    uint64_t at = 0;
    for (size_t i = dims.size(); i-- > 0;) at = at * dims[i] + idx[i];
    return at;
}

// The file's data bytes for the C-order `elems` laid out Fortran-order and/or big-endian,
// by walking every multi-index one element at a time.
std::string file_bytes(const std::vector<unsigned char>& elems, const std::vector<uint64_t>& dims, size_t es,
                       bool fortran, bool big) {
    std::string out(elems.size(), '\0');
    std::vector<uint64_t> idx(dims.size(), 0);
    for (uint64_t n = 0; n < elems.size() / es; ++n) {
        uint64_t from = c_index(dims, idx), to = fortran ? f_index(dims, idx) : from;
        for (size_t b = 0; b < es; ++b) out[to * es + b] = static_cast<char>(elems[from * es + (big ? es - 1 - b : b)]);
        for (size_t i = dims.size(); i-- > 0;) {  // next multi-index, last axis fastest
            if (++idx[i] < dims[i]) break;
            idx[i] = 0;
        }
    }
    return out;
}

void check_load(DType dtype, std::vector<uint64_t> dims, bool fortran, bool big, uint64_t chunk) {
    size_t es = dtype_size(dtype);
    uint64_t n = es;
    for (uint64_t d : dims) n *= d;
    std::vector<unsigned char> elems(n);
    std::mt19937 rng(static_cast<unsigned>(n));
    for (auto& b : elems) b = static_cast<unsigned char>(rng());
    const std::string header(80, 'h');  // the kernel only skips `offset` bytes
    TempFile file;
    std::ofstream(file.path, std::ios::binary) << header << file_bytes(elems, dims, es, fortran, big);

    json shape = dims;
    json params = {{"path", file.path}, {"offset", header.size()}, {"dtype", dtype_name(dtype)}, {"shape", shape},
                   {"fortran", fortran}, {"swap", big}};
    Job job("_load_npy", {}, params);
    auto out = job.run_each<unsigned char>(chunk, static_cast<unsigned>(chunk));
    CHECK(out == elems);
}

}  // namespace

TEST_CASE("_load_npy transposes Fortran-order files and swaps big-endian ones", "[npy][kernels]") {
    struct Case {
        DType dtype;
        std::vector<uint64_t> dims;
    };
    const Case cases[] = {
        {DType::float64, {4099, 67}},         // blocks of i0 with a ragged end, two ik blocks
        {DType::float64, {3, 40, 30, 200}},   // whole file rows, several middle and ik blocks, 4-D middles
        {DType::float64, {7, 5000, 3}},       // several middle blocks, a ragged one
        {DType::float32, {1, 300, 2}},        // d0 of 1
        {DType::int32, {17, 1, 1, 19}},       // middles of 1
        {DType::int64, {2, 3, 5, 7}},
        {DType::uint8, {20000, 3}},           // blocks of i0 for one-byte elements
        {DType::uint8, {5, 7, 3}},
        {DType::float32, {33, 2, 4099}},
        {DType::float64, {2, 70001}},         // whole tiles read at once, several of them
    };
    for (const Case& c : cases) {
        for (auto [fortran, big] : {std::pair{true, false}, {true, true}, {false, true}}) {
            for (uint64_t chunk : {1, 3, 1000}) {
                CAPTURE(dtype_name(c.dtype), json(c.dims).dump(), fortran, big, chunk);
                check_load(c.dtype, c.dims, fortran, big, chunk);
            }
        }
    }
}

TEST_CASE("_load_npy plans tiles for a Fortran-order file, rows otherwise", "[npy][kernels]") {
    json params = {{"path", "/nonexistent"}, {"offset", uint64_t{128}}, {"dtype", "float64"}, {"shape", std::vector<uint64_t>{4099, 67}}};
    CHECK(find_kernel("_load_npy")->plan(PlanInput{params, {}}).rows == 4099);
    params["fortran"] = true;
    CHECK(find_kernel("_load_npy")->plan(PlanInput{params, {}}).rows == 3 * 3);  // 2048-row blocks x 32-col blocks
}

TEST_CASE("_load_npy fails a range cleanly when the file is shorter than its header says", "[npy][kernels]") {
    // A file truncated while it loads: pread comes up short; the worker reports an error, no SIGBUS.
    TempFile file;
    std::ofstream(file.path, std::ios::binary) << std::string(128 + 8 * 1000, 'x');
    for (bool fortran : {false, true}) {
        for (bool swap : {false, true}) {
            CAPTURE(fortran, swap);
            json params = {{"path", file.path}, {"offset", uint64_t{128}}, {"dtype", "float64"},
                           {"shape", std::vector<uint64_t>{40, 30}}, {"fortran", fortran}, {"swap", swap}};
            Job job("_load_npy", {}, params);
            auto run = job.start();
            CHECK_THROWS_WITH(run->run(0, job.plan().rows), Catch::Contains("reached the end of the file early"));
        }
    }
}
