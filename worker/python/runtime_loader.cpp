// Finds and loads the embedded-Python runtime in a worker, once: first beside the executable
// (a build tree), then in the installed library directory. The daemon never calls this.
#include "worker/python/runtime_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

namespace shmpool::python {
namespace {

std::string executable_dir() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : exe.parent_path().string();
}

Runtime load() {
    std::string beside = executable_dir() + "/" + kLibraryName;
    bool in_build_tree = access(beside.c_str(), R_OK) == 0;
    std::string path = in_build_tree ? beside : std::string(SHMPOOL_PYTHON_RUNTIME_INSTALLED);
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!lib) throw KernelError("cannot load the Python runtime " + path + ": " + dlerror());
    auto start = reinterpret_cast<StartFn>(dlsym(lib, kStartSymbol));
    if (!start) throw KernelError(path + " has no " + kStartSymbol + ": " + dlerror());
    Runtime rt{start, ""};
    if (in_build_tree && std::filesystem::is_directory(SHMPOOL_PYTHON_SOURCE_DIR)) rt.package_dir = SHMPOOL_PYTHON_SOURCE_DIR;
    return rt;
}

}  // namespace

const Runtime& runtime() {
    static const Runtime loaded = load();  // a failed load throws and is retried next job
    return loaded;
}

}  // namespace shmpool::python
