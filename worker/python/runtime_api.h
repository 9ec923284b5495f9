// The one door between a worker and the embedded-Python runtime (libshmpool_python.so, which
// the worker dlopens on its first Python range): what a job hands it, and the entry it exports.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "worker/kernel.h"

namespace shmpool::python {

// A mapped dataset as the runtime wraps it in a NumPy array (no copy).
struct Array {
    std::string role;
    std::string dtype;  // NumPy's name: "float64", "uint8", ...
    std::vector<uint64_t> shape;
    const void* data = nullptr;
    void* writable = nullptr;  // only the output
    uint64_t bytes = 0;
};

struct Job {
    std::string package_dir;  // put first on sys.path (the build tree's client/python), or empty
    std::string function;     // "module:function", or empty: the function is the pickled `code`
    const void* code = nullptr;
    uint64_t code_bytes = 0;
    std::vector<Array> inputs;
    std::optional<Array> output;
    bool map = false;       // `code` is pickled (function, items): range [b, e) returns [fn(item) ...]
    std::string reduce;     // "", "sum", "min" or "max"
    std::string args_json;  // the job's "args", handed to the function as `params`
    std::string sparse_json;  // {name: [rows, cols]}: CSR matrices made of three inputs each, or "null"
    uint64_t rows = 0;
};

// Starts the interpreter on first use (never in the daemon), loads the job's function and
// returns its per-job state. Throws Error(python_error) with the Python traceback.
using StartFn = KernelRun* (*)(const Job& job);
constexpr const char* kStartSymbol = "shmpool_python_start";
constexpr const char* kLibraryName = "libshmpool_python.so";

}  // namespace shmpool::python
