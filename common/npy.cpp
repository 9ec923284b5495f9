// The .npy file header codec: NumPy's magic, version and header length, a strict parser for
// the Python-dict header, and a writer producing the same bytes as numpy.save for our dtypes.
#include "common/npy.h"

#include <string_view>

#include "common/error.h"

namespace shmpool {
namespace {

constexpr std::string_view kMagic{"\x93NUMPY", 6};
constexpr size_t kAlign = 64;          // numpy.lib.format.ARRAY_ALIGN
constexpr size_t kGrowthDigits = 21;   // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS
constexpr size_t kMaxQuoted = 40;      // bytes of untrusted text an error message quotes

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::io_error, "npy header: " + what); }

// [A-Za-z0-9_], independent of the C locale.
bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Untrusted text for an error message: printable ASCII kept, the rest as \xNN, cut short.
std::string quoted(std::string_view s) {
    static const char kHex[] = "0123456789abcdef";
    std::string out = "'";
    for (size_t i = 0; i < s.size() && i < kMaxQuoted; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out + (s.size() > kMaxQuoted ? "'..." : "'");
}

// The fixed part before the dict: magic, version, little-endian dict length.
struct Preamble {
    size_t prefix_bytes;  // 10 for version 1.0, 12 for 2.0 and 3.0
    size_t dict_bytes;    // the dict, its padding and the final '\n'
};

uint64_t read_le(const char* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

Preamble read_preamble(const char* buf, size_t len) {
    std::string_view have(buf, len < kMagic.size() ? len : kMagic.size());
    if (have != kMagic.substr(0, have.size())) fail("not an .npy file (bad magic " + quoted(have) + ")");
    if (len < kMagic.size() + 2) fail("truncated: " + std::to_string(len) + " bytes, before the version");
    int major = static_cast<unsigned char>(buf[6]), minor = static_cast<unsigned char>(buf[7]);
    if (minor != 0 || major < 1 || major > 3)
        fail("unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor));
    Preamble p{major == 1 ? 10u : 12u, 0};
    if (len < p.prefix_bytes)
        fail("truncated: " + std::to_string(len) + " bytes, before the end of the header length");
    uint64_t dict_bytes = read_le(buf + 8, p.prefix_bytes - 8);
    if (dict_bytes > kNpyMaxDictBytes)
        fail("header length " + std::to_string(dict_bytes) + " is over the limit of " +
             std::to_string(kNpyMaxDictBytes) + " bytes");
    p.dict_bytes = static_cast<size_t>(dict_bytes);
    return p;
}

// What a user can do about an unsupported descr: the conversion NumPy offers, by kind.
std::string descr_remedy(std::string_view descr) {
    bool has_order = !descr.empty() && std::string_view("<>|=!").find(descr[0]) != std::string_view::npos;
    std::string_view kind = descr.substr(has_order ? 1 : 0, 1);
    std::string supported = "datasets hold float64, float32, int64, int32 or uint8";
    if (kind == "b") return "bool arrays are unsupported, convert with x.astype(np.uint8)";
    if (kind == "f") return supported + ", convert with x.astype(np.float64) or x.astype(np.float32)";
    if (kind == "i" || kind == "u")
        return supported + ", convert with x.astype(np.int64), x.astype(np.int32) or x.astype(np.uint8)";
    if (kind == "c") return supported + ", store x.real and x.imag as two float arrays";
    return supported;
}

// What the dict says; `seen` has one bit per key, to catch duplicates and missing keys.
struct DictFields {
    DType dtype = DType::float64;
    Shape shape;
    NpyLayout layout;
    unsigned seen = 0;
};

constexpr unsigned kDescr = 1, kFortran = 2, kShape = 4, kAllKeys = 7;

// A recursive-descent parser for exactly the dict NumPy writes: three keys, string / bool /
// tuple-of-int values, ' or " quotes, spaces and tabs between tokens, optional trailing commas.
class DictParser {
public:
    explicit DictParser(std::string_view text) : s_(text) {}
    DictFields parse();

private:
    std::string_view s_;
    size_t pos_ = 0;
    DictFields f_;

    std::string at() const { return " at byte " + std::to_string(pos_) + " of the dict"; }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool end() const { return pos_ >= s_.size(); }
    void skip_ws();
    bool eat(char c);
    void expect(char c, const std::string& context);
    std::string_view parse_string(const std::string& what);
    void parse_entry();
    void parse_descr();
    void parse_fortran();
    void parse_shape();
    uint64_t parse_dim(int index);
    std::string_view word();
};

void DictParser::skip_ws() {
    while (!end() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
}

bool DictParser::eat(char c) {
    skip_ws();
    if (end() || s_[pos_] != c) return false;
    ++pos_;
    return true;
}

void DictParser::expect(char c, const std::string& context) {
    if (eat(c)) return;
    std::string got = end() ? "the end of the header" : peek() == '\'' ? "\"'\"" : quoted(s_.substr(pos_, 1));
    fail(std::string("expected '") + c + "' " + context + ", found " + got + at());
}

std::string_view DictParser::parse_string(const std::string& what) {
    skip_ws();
    char q = peek();
    if (q != '\'' && q != '"') fail(what + " is not a quoted string" + at());
    size_t start = ++pos_;
    while (!end() && s_[pos_] != q) {
        if (s_[pos_] == '\\') fail(what + " has an escape sequence, which is unsupported" + at());
        ++pos_;
    }
    if (end()) fail(what + " has no closing quote");
    return s_.substr(start, pos_++ - start);
}

// An identifier-like run (True, False, or garbage), for bool values and error messages.
std::string_view DictParser::word() {
    size_t start = pos_;
    while (!end() && is_word_char(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
}

DictFields DictParser::parse() {
    expect('{', "at the start of the header dict");
    for (;;) {
        skip_ws();
        if (eat('}')) break;
        parse_entry();
        if (eat(',')) continue;
        expect('}', "after a dict entry");
        break;
    }
    skip_ws();
    if (!end()) fail("unexpected " + quoted(s_.substr(pos_)) + " after the dict" + at());
    if (f_.seen != kAllKeys) {
        std::string missing;
        if (!(f_.seen & kDescr)) missing += " 'descr'";
        if (!(f_.seen & kFortran)) missing += " 'fortran_order'";
        if (!(f_.seen & kShape)) missing += " 'shape'";
        fail("the dict lacks" + missing);
    }
    return f_;
}

void DictParser::parse_entry() {
    std::string_view key = parse_string("a dict key");
    unsigned bit = key == "descr" ? kDescr : key == "fortran_order" ? kFortran : key == "shape" ? kShape : 0;
    if (bit == 0) fail("unknown key " + quoted(key) + at());
    if (f_.seen & bit) fail("duplicate key " + quoted(key) + at());
    f_.seen |= bit;
    expect(':', "after key " + quoted(key));
    if (bit == kDescr) parse_descr();
    else if (bit == kFortran) parse_fortran();
    else parse_shape();
}

void DictParser::parse_descr() {
    skip_ws();
    if (peek() == '[') fail("structured (record) dtypes are unsupported" + at());
    std::string_view descr = parse_string("descr");
    if (auto t = dtype_from_npy_descr(descr)) {
        f_.dtype = *t;
        return;
    }
    if (descr.size() > 1 && descr[0] == '>') {
        std::string little(descr);
        little[0] = '<';
        if (auto t = dtype_from_npy_descr(little)) {
            f_.dtype = *t;
            f_.layout.big_endian = dtype_size(*t) > 1;  // a single byte has no order
            return;
        }
    }
    if (descr.find('O') != std::string_view::npos)
        fail("object descr " + quoted(descr) + " (pickled Python objects) is unsupported");
    fail("unsupported descr " + quoted(descr) + ": " + descr_remedy(descr));
}

void DictParser::parse_fortran() {
    skip_ws();
    std::string_view w = word();
    if (w != "True" && w != "False") fail("fortran_order is not True or False" + at());
    f_.layout.fortran_order = w == "True";
}

void DictParser::parse_shape() {
    expect('(', "at the start of the shape tuple");
    if (eat(')'))
        fail("shape () is a 0-d array, which is unsupported: a dataset has 1 to 4 dims, save x.reshape(1)");
    Shape& s = f_.shape;
    for (;;) {
        if (s.ndim == kMaxDims)
            fail("shape has more than " + std::to_string(kMaxDims) + " dims: reshape to at most " +
                 std::to_string(kMaxDims));
        s.dims[s.ndim] = parse_dim(s.ndim);
        ++s.ndim;
        bool comma = eat(',');
        if (eat(')')) {
            if (!comma && s.ndim == 1) fail("shape is a parenthesized integer, not a tuple (write (n,))");
            return;
        }
        if (!comma) expect(',', "between shape entries");
    }
}

uint64_t DictParser::parse_dim(int index) {
    std::string entry = "shape entry " + std::to_string(index);
    skip_ws();
    if (peek() == '-') fail(entry + " is negative");
    if (peek() < '0' || peek() > '9') fail(entry + " is not an integer" + at());
    if (peek() == '0' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9')
        fail(entry + " has a leading zero" + at());
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
        if (mul_overflows(v, 10, &v) || __builtin_add_overflow(v, uint64_t(s_[pos_] - '0'), &v))
            throw Error(ErrorCode::too_large, "npy header: " + entry + " does not fit in 64 bits");
        ++pos_;
    }
    if (is_word_char(peek()) || peek() == '.')
        fail(entry + " is not an integer" + at());
    if (v == 0) fail(entry + " is zero: empty arrays are unsupported, every dim must be at least 1");
    return v;
}

// checked_bytes, its too_large error naming the .npy header as the culprit.
uint64_t data_bytes(const Shape& shape, DType dtype) {
    try {
        return checked_bytes(shape, dtype);
    } catch (const Error& e) {
        throw Error(e.code(), std::string("npy header: ") + e.what());
    }
}

// Python's repr() of the shape tuple: "(5,)" or "(3, 4)".
std::string shape_repr(const Shape& shape) {
    std::string out = "(";
    for (int i = 0; i < shape.ndim; ++i) {
        if (i) out += ", ";
        out += std::to_string(shape.dims[i]);
    }
    return out + (shape.ndim == 1 ? ",)" : ")");
}

// Refuses shapes parse_npy_header would refuse, so nothing written is unreadable.
void check_writable(const Shape& shape) {
    if (shape.ndim < 1 || shape.ndim > kMaxDims)
        throw Error(ErrorCode::bad_shape,
                    "npy header: a shape has 1 to 4 dims, not " + std::to_string(shape.ndim));
    for (int i = 0; i < shape.ndim; ++i)
        if (shape.dims[i] == 0)
            throw Error(ErrorCode::bad_shape, "npy header: dim " + std::to_string(i) + " is zero");
}

// numpy.lib.format._wrap_header_guess_version without 3.0: magic, version, length, `dict`,
// 1..64 spaces so the total is a multiple of 64, '\n'. Version 2.0 if 1.0's length overflows.
std::string wrap_dict(const std::string& dict) {
    size_t dict_bytes = dict.size() + 1;  // with the final '\n'
    size_t prefix = 10, pad = kAlign - (prefix + dict_bytes) % kAlign;
    if (dict_bytes + pad > 0xffff) {
        prefix = 12;
        pad = kAlign - (prefix + dict_bytes) % kAlign;
    }
    std::string out(kMagic);
    out += static_cast<char>(prefix == 10 ? 1 : 2);
    out += '\0';
    uint64_t n = dict_bytes + pad;
    for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
    return out + dict + std::string(pad, ' ') + '\n';
}

}  // namespace

size_t npy_header_bytes_needed(const char* buf, size_t len) {
    Preamble p = read_preamble(buf, len);
    return p.prefix_bytes + p.dict_bytes;
}

NpyHeader parse_npy_header(const char* buf, size_t len) {
    Preamble p = read_preamble(buf, len);
    size_t total = p.prefix_bytes + p.dict_bytes;
    if (len < total)
        fail("truncated: the header needs " + std::to_string(total) + " bytes, only " +
             std::to_string(len) + " are there");
    std::string_view dict(buf + p.prefix_bytes, p.dict_bytes);
    if (dict.empty() || dict.back() != '\n') fail("the header does not end with a newline");
    DictFields f = DictParser(dict.substr(0, dict.size() - 1)).parse();
    NpyHeader h{f.dtype, f.shape, total, data_bytes(f.shape, f.dtype), f.layout};
    if (h.data_bytes > UINT64_MAX - h.data_offset)
        throw Error(ErrorCode::too_large, "npy header: shape " + f.shape.to_string() + " overflows 64 bits");
    return h;
}

std::string format_npy_header(DType dtype, const Shape& shape, NpyLayout layout) {
    check_writable(shape);
    std::string descr(dtype_npy_descr(dtype));
    if (layout.big_endian && dtype_size(dtype) > 1) descr[0] = '>';
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (layout.fortran_order ? "True" : "False") +
                       ", 'shape': " + shape_repr(shape) + ", }";
    dict.append(kGrowthDigits - std::to_string(shape.dims[0]).size(), ' ');  // room to grow axis 0
    return wrap_dict(dict);
}

}  // namespace shmpool
