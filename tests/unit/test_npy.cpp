// Unit tests of the .npy header codec: round trips, files written by NumPy itself (Fortran
// order and big-endian too), and rejection of truncated, malformed, unsupported and overflowing headers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/npy.h"

using namespace shmpool;
using Catch::Matchers::Contains;

namespace {

constexpr DType kAllDTypes[] = {DType::float64, DType::float32, DType::int64, DType::int32, DType::uint8};

Shape shape_of(std::initializer_list<uint64_t> dims) {
    Shape s;
    for (uint64_t d : dims) s.dims[s.ndim++] = d;
    return s;
}

// Parses a copy of `bytes` in a heap block of exactly that size, so ASan sees any overread.
NpyHeader parse_exact(const std::string& bytes) {
    std::unique_ptr<char[]> copy(new char[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), copy.get());
    return parse_npy_header(copy.get(), bytes.size());
}

// The Error parsing `bytes` throws; the test fails if it parses.
Error parse_error(const std::string& bytes) {
    try {
        parse_exact(bytes);
    } catch (const Error& e) {
        return e;
    }
    FAIL("parsed without an error: " << bytes);
    return Error(ErrorCode::internal, "unreachable");
}

// An .npy header around `dict` (which gets a final '\n'), with the given major version.
std::string npy_with_dict(const std::string& dict, int major = 1) {
    std::string body = dict + "\n";
    std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
    for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out += static_cast<char>((body.size() >> (8 * i)) & 0xff);
    return out + body;
}

const std::string kGoodDict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("format then parse round-trips every dtype and 1..4 dims", "[npy]") {
    const std::vector<Shape> shapes = {shape_of({5}), shape_of({1}), shape_of({4000, 64}),
                                       shape_of({2, 3, 4}), shape_of({7, 1, 9, 11}),
                                       shape_of({18446744073709551ull}), shape_of({1, 1, 1, 1})};
    for (DType t : kAllDTypes) {
        for (const Shape& s : shapes) {
            CAPTURE(dtype_name(t), s.to_string());
            std::string h = format_npy_header(t, s);
            CHECK(h.size() % 64 == 0);
            CHECK(h.back() == '\n');
            CHECK(h[6] == 1);
            CHECK(npy_header_bytes_needed(h.data(), h.size()) == h.size());
            NpyHeader p = parse_exact(h);
            CHECK(p.dtype == t);
            CHECK(p.shape == s);
            CHECK(p.data_offset == h.size());
            CHECK(p.data_bytes == checked_bytes(s, t));
        }
    }
}

TEST_CASE("format writes NumPy's exact layout", "[npy]") {
    std::string h = format_npy_header(DType::float64, shape_of({3, 4}));
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
    CHECK(h.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    CHECK(static_cast<unsigned char>(h[8]) + 256u * static_cast<unsigned char>(h[9]) == h.size() - 10);
    CHECK(h.substr(10, dict.size()) == dict);
    CHECK(h.find_first_not_of(' ', 10 + dict.size()) == h.size() - 1);
    CHECK(format_npy_header(DType::uint8, shape_of({5})).find("'descr': '|u1'") != std::string::npos);
    CHECK(format_npy_header(DType::uint8, shape_of({5})).find("'shape': (5,)") != std::string::npos);
}

TEST_CASE("format refuses shapes it could not read back", "[npy]") {
    auto is_bad_shape = [](const Error& e) { return e.code() == ErrorCode::bad_shape; };
    CHECK_THROWS_MATCHES(format_npy_header(DType::float64, Shape{}), Error,
                         Catch::Matchers::Predicate<Error>(is_bad_shape, "is a bad_shape error"));
    CHECK_THROWS_WITH(format_npy_header(DType::float64, shape_of({3, 0})), Contains("dim 1 is zero"));
    Shape five = shape_of({1, 2, 3, 4});
    five.ndim = 5;
    CHECK_THROWS_WITH(format_npy_header(DType::float64, five), Contains("1 to 4 dims"));
}

namespace {

// A temp dir of .npy files written by NumPy (Debian's /usr/bin/python3 has it), made once.
struct NumpyFiles {
    std::filesystem::path dir;

    NumpyFiles() {
        char tmpl[] = "/tmp/shmpool-npy-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        std::string cmd =
            "/usr/bin/python3 -c \"import sys, numpy as np; d = sys.argv[1]; f = np.lib.format;"
            " np.save(d + '/f32.npy', np.arange(6, dtype='<f4').reshape(2, 3));"
            " np.save(d + '/i32.npy', np.arange(7, dtype='<i4') - 3);"
            " np.save(d + '/u8.npy', np.arange(60, dtype='u1').reshape(3, 4, 5));"
            " np.save(d + '/f64_4d.npy', np.arange(120, dtype='<f8').reshape(2, 3, 4, 5));"
            " np.save(d + '/i64_1d.npy', np.arange(5, dtype='<i8'));"
            " f.write_array(open(d + '/v2.npy', 'wb'), np.ones((2, 2), dtype='<f8'), version=(2, 0));"
            " f.write_array(open(d + '/v3.npy', 'wb'), np.ones((3,), dtype='<i4'), version=(3, 0));"
            " np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3))));"
            " np.save(d + '/big.npy', np.ones(3, dtype='>f8'));"
            " np.save(d + '/fortran_big_i4.npy', np.asfortranarray(np.ones((2, 3, 4), dtype='>i4')));"
            " np.save(d + '/big_u1.npy', np.ones(3, dtype='>u1'));"
            " np.save(d + '/bool.npy', np.ones(3, dtype=bool));"
            " np.save(d + '/f16.npy', np.ones(3, dtype='<f2'));"
            " np.save(d + '/c16.npy', np.ones(3, dtype='<c16'));"
            " np.save(d + '/u2.npy', np.ones(3, dtype='>u2'));"
            " np.save(d + '/record.npy', np.zeros(3, dtype=[('a', '<f8'), ('b', '<i4')]));"
            " np.save(d + '/obj.npy', np.array([1, 'a'], dtype=object));"
            " np.save(d + '/scalar.npy', np.float64(1.5));"
            " np.save(d + '/empty.npy', np.zeros((0, 3)))\" " +
            dir.string();
        int rc = std::system(cmd.c_str());
        if (rc != 0) std::filesystem::remove_all(dir);  // REQUIRE throws before any destructor
        REQUIRE(rc == 0);
    }
    ~NumpyFiles() { std::filesystem::remove_all(dir); }

    std::string read(const std::string& name) const { return read_file(dir / name); }
};

const NumpyFiles& numpy_files() {
    static NumpyFiles files;
    return files;
}

struct Expected {
    const char* file;
    DType dtype;
    Shape shape;
    int version;
    NpyLayout layout = {};
};

}  // namespace

TEST_CASE("parses files written by NumPy", "[npy]") {
    const Expected cases[] = {
        {"f32.npy", DType::float32, shape_of({2, 3}), 1},
        {"i32.npy", DType::int32, shape_of({7}), 1},
        {"u8.npy", DType::uint8, shape_of({3, 4, 5}), 1},
        {"f64_4d.npy", DType::float64, shape_of({2, 3, 4, 5}), 1},
        {"i64_1d.npy", DType::int64, shape_of({5}), 1},
        {"v2.npy", DType::float64, shape_of({2, 2}), 2},
        {"v3.npy", DType::int32, shape_of({3}), 3},
        {"fortran.npy", DType::float64, shape_of({2, 3}), 1, {true, false}},
        {"big.npy", DType::float64, shape_of({3}), 1, {false, true}},
        {"fortran_big_i4.npy", DType::int32, shape_of({2, 3, 4}), 1, {true, true}},
        {"big_u1.npy", DType::uint8, shape_of({3}), 1, {false, false}},  // one byte has no order
    };
    for (const Expected& c : cases) {
        CAPTURE(c.file);
        std::string bytes = numpy_files().read(c.file);
        CHECK(bytes[6] == c.version);
        size_t needed = npy_header_bytes_needed(bytes.data(), bytes.size());
        NpyHeader h = parse_exact(bytes.substr(0, needed));
        CHECK(h.dtype == c.dtype);
        CHECK(h.shape == c.shape);
        CHECK(h.data_offset == needed);
        CHECK(h.data_offset % 64 == 0);
        CHECK(h.data_offset + h.data_bytes == bytes.size());
        CHECK(h.layout == c.layout);
        CHECK(parse_exact(bytes).data_offset == needed);  // the whole file parses the same
        if (c.version == 1) CHECK(format_npy_header(c.dtype, c.shape, c.layout) == bytes.substr(0, needed));
    }
}

TEST_CASE("data_offset points at NumPy's data", "[npy]") {
    std::string bytes = numpy_files().read("f32.npy");
    NpyHeader h = parse_exact(bytes);
    std::vector<float> data(h.shape.elems());
    REQUIRE(h.data_bytes == data.size() * sizeof(float));
    std::memcpy(data.data(), bytes.data() + h.data_offset, h.data_bytes);
    for (size_t i = 0; i < data.size(); ++i) CHECK(data[i] == static_cast<float>(i));

    bytes = numpy_files().read("i32.npy");
    h = parse_exact(bytes);
    int32_t first = 0;
    std::memcpy(&first, bytes.data() + h.data_offset, sizeof first);
    CHECK(first == -3);
}

TEST_CASE("rejects NumPy files of unsupported kinds", "[npy]") {
    struct Case {
        const char* file;
        const char* message;
    };
    const Case cases[] = {
        {"obj.npy", "object descr '|O'"},
        {"scalar.npy", "0-d array, which is unsupported: a dataset has 1 to 4 dims, save x.reshape(1)"},
        {"empty.npy", "shape entry 0 is zero: empty arrays are unsupported, every dim must be at least 1"},
        {"bool.npy", "unsupported descr '|b1': bool arrays are unsupported, convert with x.astype(np.uint8)"},
        {"f16.npy", "unsupported descr '<f2': datasets hold float64, float32, int64, int32 or uint8, convert "
                    "with x.astype(np.float64) or x.astype(np.float32)"},
        {"c16.npy", "store x.real and x.imag as two float arrays"},
        {"u2.npy", "unsupported descr '>u2': datasets hold float64, float32, int64, int32 or uint8, convert with "
                   "x.astype(np.int64)"},
        {"record.npy", "structured (record) dtypes are unsupported"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.file);
        Error e = parse_error(numpy_files().read(c.file));
        CHECK(e.code() == ErrorCode::io_error);
        CHECK_THAT(e.what(), Contains(c.message));
    }
}

TEST_CASE("rejects a header truncated at every length", "[npy]") {
    for (const char* file : {"f32.npy", "v2.npy", "v3.npy"}) {
        std::string bytes = numpy_files().read(file);
        size_t full = npy_header_bytes_needed(bytes.data(), bytes.size());
        for (size_t k = 0; k < full; ++k) {
            CAPTURE(file, k);
            Error e = parse_error(bytes.substr(0, k));
            CHECK(e.code() == ErrorCode::io_error);
            CHECK_THAT(e.what(), Contains("truncated"));
        }
        CHECK(parse_exact(bytes.substr(0, full)).data_offset == full);
    }
}

TEST_CASE("rejects a dict cut short at every length", "[npy]") {
    for (size_t k = 0; k < kGoodDict.size(); ++k) {
        CAPTURE(kGoodDict.substr(0, k));
        CHECK(parse_error(npy_with_dict(kGoodDict.substr(0, k))).code() == ErrorCode::io_error);
    }
    CHECK(parse_exact(npy_with_dict(kGoodDict)).shape == shape_of({3, 4}));
}

TEST_CASE("npy_header_bytes_needed reads only the preamble", "[npy]") {
    std::string h = format_npy_header(DType::int32, shape_of({10, 10}));
    CHECK(npy_header_bytes_needed(h.data(), 10) == h.size());
    for (size_t k = 0; k < 10; ++k) {
        CAPTURE(k);
        CHECK_THROWS_AS(npy_header_bytes_needed(h.data(), k), Error);
    }
    std::string v2 = npy_with_dict(kGoodDict, 2);
    CHECK(npy_header_bytes_needed(v2.data(), 12) == v2.size());
    CHECK_THROWS_WITH(npy_header_bytes_needed(v2.data(), 11), Contains("truncated"));
    std::string huge = std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
    CHECK_THROWS_WITH(npy_header_bytes_needed(huge.data(), huge.size()), Contains("over the limit of 10000"));
    std::string big_v1 = std::string("\x93NUMPY\x01\x00\xff\xff", 10);
    CHECK_THROWS_WITH(npy_header_bytes_needed(big_v1.data(), big_v1.size()), Contains("65535 is over the limit"));
}

TEST_CASE("rejects bad magic and versions", "[npy]") {
    std::string good = npy_with_dict(kGoodDict);
    std::string zip = "PK\x03\x04" + good.substr(4);
    CHECK_THAT(parse_error(zip).what(), Contains("not an .npy file"));
    std::string bad = good;
    bad[5] = 'Z';
    CHECK_THAT(parse_error(bad).what(), Contains("bad magic"));
    CHECK_THAT(parse_error("\x93NUM").what(), Contains("truncated"));
    CHECK_THAT(parse_error("\x94").what(), Contains("bad magic"));
    for (auto [major, minor] : {std::pair{4, 0}, {1, 1}, {0, 0}, {255, 255}}) {
        bad = good;
        bad[6] = static_cast<char>(major);
        bad[7] = static_cast<char>(minor);
        Error e = parse_error(bad);
        CHECK(e.code() == ErrorCode::io_error);
        CHECK_THAT(e.what(), Contains("unsupported .npy version " + std::to_string(major) + "." +
                                      std::to_string(minor)));
    }
}

TEST_CASE("rejects a header length pointing beyond the buffer", "[npy]") {
    std::string h = format_npy_header(DType::float64, shape_of({3}));
    std::string longer = h;
    longer[8] = static_cast<char>(static_cast<unsigned char>(longer[8]) + 64);
    Error e = parse_error(longer);
    CHECK(e.code() == ErrorCode::io_error);
    CHECK_THAT(e.what(), Contains("needs " + std::to_string(h.size() + 64) + " bytes"));
    std::string shorter = h;  // the length now ends mid-padding, so no final newline
    shorter[8] = static_cast<char>(static_cast<unsigned char>(shorter[8]) - 1);
    CHECK_THAT(parse_error(shorter).what(), Contains("does not end with a newline"));
    std::string empty("\x93NUMPY\x01\x00\x00\x00", 10);
    CHECK_THAT(parse_error(empty).what(), Contains("does not end with a newline"));
}

namespace {

struct RejectCase {
    std::string dict;
    ErrorCode code;
    const char* message;
};

const std::string kHead = "{'descr': '<f8', 'fortran_order': False, ";

void check_rejects(const std::vector<RejectCase>& cases) {
    for (const RejectCase& c : cases) {
        CAPTURE(c.dict);
        Error e = parse_error(npy_with_dict(c.dict));
        CHECK(e.code() == c.code);
        CHECK_THAT(e.what(), Contains(c.message) && Contains("npy header: "));
    }
}

}  // namespace

TEST_CASE("rejects unsupported descr and fortran_order values", "[npy]") {
    const std::string tail = ", 'shape': (3,), }";
    check_rejects({
        {"{'descr': '<f8', 'fortran_order': 0" + tail, ErrorCode::io_error, "not True or False"},
        {"{'descr': '<f8', 'fortran_order': Falsey" + tail, ErrorCode::io_error, "not True or False"},
        {"{'descr': '>c16', 'fortran_order': False" + tail, ErrorCode::io_error, "unsupported descr '>c16'"},
        {"{'descr': '>', 'fortran_order': False" + tail, ErrorCode::io_error, "unsupported descr '>'"},
        {"{'descr': '>f8 ', 'fortran_order': False" + tail, ErrorCode::io_error, "unsupported descr '>f8 '"},
        {"{'descr': '=f8', 'fortran_order': False" + tail, ErrorCode::io_error, "unsupported descr '=f8'"},
        {"{'descr': '>O', 'fortran_order': False" + tail, ErrorCode::io_error, "object descr '>O'"},
        {"{'descr': 'O', 'fortran_order': False" + tail, ErrorCode::io_error, "object descr 'O'"},
        {"{'descr': '<c16', 'fortran_order': False" + tail, ErrorCode::io_error, "unsupported descr '<c16'"},
        {"{'descr': '', 'fortran_order': False" + tail, ErrorCode::io_error, "unsupported descr ''"},
        {"{'descr': [('a', '<f8')], 'fortran_order': False" + tail, ErrorCode::io_error, "structured"},
        {"{'descr': '<f\\x38', 'fortran_order': False" + tail, ErrorCode::io_error, "escape sequence"},
        {"{'descr': '<f8, 'fortran_order': False" + tail, ErrorCode::io_error, "unsupported descr '<f8, '"},
        {"{'descr': \"<f8', 'fortran_order': False" + tail, ErrorCode::io_error, "descr has no closing quote"},
    });
}

TEST_CASE("rejects bad shapes", "[npy]") {
    check_rejects({
        {kHead + "'shape': (3, 0), }", ErrorCode::io_error, "shape entry 1 is zero"},
        {kHead + "'shape': (1, 2, 3, 4, 5), }", ErrorCode::io_error, "more than 4 dims: reshape to at most 4"},
        {kHead + "'shape': (), }", ErrorCode::io_error, "0-d array"},
        {kHead + "'shape': (-3,), }", ErrorCode::io_error, "shape entry 0 is negative"},
        {kHead + "'shape': (3, -1), }", ErrorCode::io_error, "shape entry 1 is negative"},
        {kHead + "'shape': (3), }", ErrorCode::io_error, "not a tuple"},
        {kHead + "'shape': 3, }", ErrorCode::io_error, "expected '(' at the start of the shape tuple"},
        {kHead + "'shape': [3], }", ErrorCode::io_error, "expected '('"},
        {kHead + "'shape': (3.0,), }", ErrorCode::io_error, "shape entry 0 is not an integer"},
        {kHead + "'shape': (2, 3L), }", ErrorCode::io_error, "shape entry 1 is not an integer"},
        {kHead + "'shape': (1_0,), }", ErrorCode::io_error, "shape entry 0 is not an integer"},
        {kHead + "'shape': (2, 'a'), }", ErrorCode::io_error, "shape entry 1 is not an integer"},
        {kHead + "'shape': (+2,), }", ErrorCode::io_error, "shape entry 0 is not an integer"},
        {kHead + "'shape': (03,), }", ErrorCode::io_error, "shape entry 0 has a leading zero"},
        {kHead + "'shape': (3 4), }", ErrorCode::io_error, "expected ',' between shape entries"},
        {kHead + "'shape': (3,,), }", ErrorCode::io_error, "shape entry 1 is not an integer"},
        {kHead + "'shape': (3, 4}", ErrorCode::io_error, "expected ','"},
        {kHead + "'shape': (99999999999999999999,), }", ErrorCode::too_large, "entry 0 does not fit in 64 bits"},
        {kHead + "'shape': (18446744073709551616,), }", ErrorCode::too_large, "does not fit in 64 bits"},
        {kHead + "'shape': (4294967296, 4294967296), }", ErrorCode::too_large, "overflows 64 bits"},
        {kHead + "'shape': (2305843009213693952,), }", ErrorCode::too_large, "overflows 64 bits"},
    });
}

TEST_CASE("rejects dicts with bad keys or syntax", "[npy]") {
    check_rejects({
        {kHead + "'shape': (3,), 'extra': 1, }", ErrorCode::io_error, "unknown key 'extra'"},
        {kHead + "'shape': (3,), 'descr': '<f8', }", ErrorCode::io_error, "duplicate key 'descr'"},
        {kHead + "}", ErrorCode::io_error, "the dict lacks 'shape'"},
        {"{}", ErrorCode::io_error, "lacks 'descr' 'fortran_order' 'shape'"},
        {"{'shape': (3,)}", ErrorCode::io_error, "lacks 'descr' 'fortran_order'"},
        {"{,}", ErrorCode::io_error, "a dict key is not a quoted string"},
        {kHead + "'shape': (3,),, }", ErrorCode::io_error, "a dict key is not a quoted string"},
        {kHead + "'shape': (3,) 'x' }", ErrorCode::io_error, "expected '}' after a dict entry, found \"'\""},
        {kHead + "'shape': (3,), } garbage", ErrorCode::io_error, "unexpected 'garbage' after the dict"},
        {kHead + "'shape': (3,), }\n", ErrorCode::io_error, "unexpected '\\x0a' after the dict"},
        {kHead + "'shape': (3,), }" + std::string(1, '\0'), ErrorCode::io_error, "unexpected '\\x00' after"},
        {kHead + "'shape': (3,), \x93\xff}", ErrorCode::io_error, "not a quoted string"},
        {"descr: '<f8'", ErrorCode::io_error, "expected '{' at the start of the header dict"},
        {"[1, 2]", ErrorCode::io_error, "expected '{'"},
        {"", ErrorCode::io_error, "expected '{' at the start of the header dict, found the end of the header"},
    });
}

TEST_CASE("accepts every spelling NumPy's literal_eval would", "[npy]") {
    const std::string dicts[] = {
        "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (3, 4)}",
        "{'shape': (3, 4,), 'fortran_order': False, 'descr': '<f8',}",
        "{  'fortran_order'  :False,'shape':(3,4),'descr':'<f8'  ,  }        ",
        "\t{'descr':\t'<f8', 'fortran_order': False, 'shape': ( 3 , 4 ) }",
    };
    for (const std::string& d : dicts) {
        CAPTURE(d);
        for (int major : {1, 2, 3}) {
            NpyHeader h = parse_exact(npy_with_dict(d, major));
            CHECK(h.dtype == DType::float64);
            CHECK(h.shape == shape_of({3, 4}));
            CHECK(h.data_bytes == 96);
        }
    }
    for (const char* u8 : {"|u1", "<u1"}) {
        std::string d = std::string("{'descr': '") + u8 + "', 'fortran_order': False, 'shape': (5,), }";
        CHECK(parse_exact(npy_with_dict(d)).dtype == DType::uint8);
    }
    std::string max_dim = "{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615,), }";
    CHECK(parse_error(npy_with_dict(max_dim)).code() == ErrorCode::too_large);  // + data_offset overflows
    std::string old16 = npy_with_dict("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }" +
                                      std::string(6, ' '));  // 16-byte alignment of NumPy < 1.14
    CHECK(parse_exact(old16).data_offset == old16.size());
}

TEST_CASE("reads Fortran order and big-endian descrs of every dtype", "[npy]") {
    struct Case {
        const char* descr;
        DType dtype;
        bool big;
    };
    const Case cases[] = {{">f8", DType::float64, true}, {">f4", DType::float32, true}, {">i8", DType::int64, true},
                          {">i4", DType::int32, true},   {">u1", DType::uint8, false},  {"<f4", DType::float32, false}};
    for (const Case& c : cases) {
        for (bool fortran : {false, true}) {
            std::string dict = std::string("{'descr': '") + c.descr + "', 'fortran_order': " +
                               (fortran ? "True" : "False") + ", 'shape': (3, 5, 7), }";
            CAPTURE(dict);
            NpyHeader h = parse_exact(npy_with_dict(dict));
            CHECK(h.dtype == c.dtype);
            CHECK(h.shape == shape_of({3, 5, 7}));
            CHECK(h.layout == NpyLayout{fortran, c.big});
            CHECK(h.data_bytes == 105 * dtype_size(c.dtype));
        }
    }
}

TEST_CASE("format then parse round-trips every layout", "[npy]") {
    for (DType t : kAllDTypes) {
        for (NpyLayout layout : {NpyLayout{false, false}, NpyLayout{true, false}, NpyLayout{false, true},
                                 NpyLayout{true, true}}) {
            CAPTURE(dtype_name(t), layout.fortran_order, layout.big_endian);
            std::string h = format_npy_header(t, shape_of({4, 3, 2}), layout);
            CHECK(h.size() % 64 == 0);
            NpyHeader p = parse_exact(h);
            CHECK(p.dtype == t);
            CHECK(p.layout.fortran_order == layout.fortran_order);
            CHECK(p.layout.big_endian == (layout.big_endian && dtype_size(t) > 1));
        }
    }
    CHECK(format_npy_header(DType::float32, shape_of({2, 2}), {true, true}).find(
              "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 2), }") != std::string::npos);
    CHECK(format_npy_header(DType::uint8, shape_of({2}), {false, true}).find("'|u1'") != std::string::npos);
}
