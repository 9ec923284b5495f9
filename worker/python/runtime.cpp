// The embedded-Python runtime (libshmpool_python.so, linked with libpython3.11): starts the
// interpreter in a worker on its first Python job and keeps it warm; wraps each job's function.
#include <Python.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "common/error.h"
#include "worker/python/runtime_api.h"

namespace shmpool::python {
namespace {

PyObject* g_runner = nullptr;  // the module shmpool.worker_side, imported once per worker

// Owns one reference.
struct Ref {
    PyObject* p;
    explicit Ref(PyObject* obj = nullptr) : p(obj) {}
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    ~Ref() { Py_XDECREF(p); }
    PyObject* release() { return std::exchange(p, nullptr); }
};

// The pending Python exception as text (and cleared); for failures outside the user's function.
std::string pending_error(const std::string& context) {
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    Ref t(type), v(value), b(tb);
    Ref text(value ? PyObject_Str(value) : nullptr);
    const char* utf8 = text.p ? PyUnicode_AsUTF8(text.p) : nullptr;
    std::string out = context + ": " + (type ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "error") + ": " +
                      (utf8 ? utf8 : "?");
    PyErr_Clear();
    return out;
}

[[noreturn]] void fail(const std::string& context) { throw Error(ErrorCode::python_error, pending_error(context)); }

// One BLAS/OpenMP thread per worker unless the daemon's environment says otherwise (as loky does):
// N workers must not run N x cores threads. Set before NumPy is first imported.
void limit_native_threads() {
    for (const char* var : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}) setenv(var, "1", 0);
#if defined(__SANITIZE_ADDRESS__)
    setenv("PYTHONMALLOC", "malloc", 1);  // pymalloc's arenas hide Python's allocations from ASan
#endif
}

void start_interpreter(const std::string& package_dir) {
    limit_native_threads();
    Py_InitializeEx(0);  // 0: no signal handlers, the worker keeps its own
    PyObject* path = PySys_GetObject("path");  // borrowed
    if (!package_dir.empty() && path) {
        Ref dir(PyUnicode_FromString(package_dir.c_str()));
        PyList_Insert(path, 0, dir.p);
    }
    Ref argv(Py_BuildValue("[s]", "shmpool-worker"));
    PySys_SetObject("argv", argv.p);
    g_runner = PyImport_ImportModule("shmpool.worker_side");
    if (!g_runner) fail("importing shmpool.worker_side in the worker");
}

PyObject* memory_of(const Array& a) {
    char* base = static_cast<char*>(a.writable ? a.writable : const_cast<void*>(a.data));
    return PyMemoryView_FromMemory(base, static_cast<Py_ssize_t>(a.bytes), a.writable ? PyBUF_WRITE : PyBUF_READ);
}

// (memoryview, dtype, shape) for worker_side.Job.
PyObject* array_tuple(const Array& a) {
    Ref shape(PyTuple_New(static_cast<Py_ssize_t>(a.shape.size())));
    for (size_t i = 0; i < a.shape.size(); ++i)
        PyTuple_SET_ITEM(shape.p, static_cast<Py_ssize_t>(i), PyLong_FromUnsignedLongLong(a.shape[i]));
    Ref mem(memory_of(a));
    return Py_BuildValue("(OsO)", mem.p, a.dtype.c_str(), shape.p);
}

PyObject* job_arguments(const Job& job) {
    Ref inputs(PyDict_New());
    for (const Array& a : job.inputs) {
        Ref t(array_tuple(a));
        PyDict_SetItemString(inputs.p, a.role.c_str(), t.p);
    }
    Ref output(job.output ? array_tuple(*job.output) : Py_NewRef(Py_None));
    Ref code(job.code ? PyMemoryView_FromMemory(static_cast<char*>(const_cast<void*>(job.code)),
                                                static_cast<Py_ssize_t>(job.code_bytes), PyBUF_READ)
                      : Py_NewRef(Py_None));
    return Py_BuildValue("{s:s,s:O,s:O,s:O,s:s,s:s,s:s,s:K,s:O}", "function", job.function.c_str(), "code",
                         code.p, "inputs", inputs.p, "output", output.p, "reduce", job.reduce.c_str(), "args_json",
                         job.args_json.c_str(), "sparse_json", job.sparse_json.c_str(), "rows",
                         static_cast<unsigned long long>(job.rows), "map", job.map ? Py_True : Py_False);
}

// worker_side returns (True, value) or (False, traceback text): the value, or Error(python_error).
PyObject* unwrap(PyObject* outcome, const char* what) {
    Ref result(outcome);
    if (!result.p) fail(what);
    if (!PyTuple_Check(result.p) || PyTuple_GET_SIZE(result.p) != 2)
        throw Error(ErrorCode::internal, std::string(what) + ": worker_side answered no (ok, value) pair");
    PyObject* value = PyTuple_GET_ITEM(result.p, 1);
    if (PyTuple_GET_ITEM(result.p, 0) != Py_True) {
        const char* text = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : nullptr;
        throw Error(ErrorCode::python_error, text ? text : "the function raised (no traceback)");
    }
    return Py_NewRef(value);
}

// worker_side's (kind, number) as a Partial: "int64" and "uint64" exact, "real" a double.
Partial partial_of(PyObject* pair) {
    const char* kind = nullptr;
    PyObject* number = nullptr;  // borrowed
    if (!PyArg_ParseTuple(pair, "sO", &kind, &number)) fail("reading the range's (kind, number)");
    Partial p;
    std::string_view k(kind);
    if (k == "int64") p.kind = NumberKind::int64, p.integer = static_cast<uint64_t>(PyLong_AsLongLong(number));
    else if (k == "uint64") p.kind = NumberKind::uint64, p.integer = PyLong_AsUnsignedLongLong(number);
    else p.value = PyFloat_AsDouble(number);
    if (PyErr_Occurred()) fail("a reducing function's " + std::string(k) + " number");
    return p;
}

class PythonRun : public KernelRun {
public:
    explicit PythonRun(PyObject* job) : job_(job) {}
    ~PythonRun() override { Py_XDECREF(job_); }  // drops the function, its globals and the array views

    void run(uint64_t begin, uint64_t end) override { Ref value(call(begin, end)); }

    Partial reduce(uint64_t begin, uint64_t end) override {
        Ref value(call(begin, end));
        if (value.p == Py_None) return {};
        Partial p = partial_of(value.p);
        p.index = static_cast<int64_t>(begin), p.count = 1;
        return p;
    }

    uint64_t store_result(const std::string& object_name) override {
        Ref bytes(unwrap(PyObject_CallMethod(job_, "store", "s", object_name.c_str()), "storing the range's result"));
        unsigned long long n = PyLong_AsUnsignedLongLong(bytes.p);
        if (PyErr_Occurred()) fail("storing the range's result");
        return n;
    }

private:
    PyObject* call(uint64_t begin, uint64_t end) {
        return unwrap(PyObject_CallMethod(job_, "run", "KK", static_cast<unsigned long long>(begin),
                                          static_cast<unsigned long long>(end)),
                      "calling the job's function");
    }

    PyObject* job_;
};

}  // namespace
}  // namespace shmpool::python

extern "C" __attribute__((visibility("default"))) shmpool::KernelRun* shmpool_python_start(
    const shmpool::python::Job& job) {
    using namespace shmpool::python;
    if (!g_runner) start_interpreter(job.package_dir);
    Ref args(job_arguments(job));
    if (!args.p) fail("passing the job to Python");
    Ref start(PyObject_GetAttrString(g_runner, "start"));
    if (!start.p) fail("finding shmpool.worker_side.start");
    Ref empty(PyTuple_New(0));
    Ref job_object(unwrap(PyObject_Call(start.p, empty.p, args.p), "starting the job's function"));
    return new PythonRun(job_object.release());
}
