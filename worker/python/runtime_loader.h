// Finds and loads the embedded-Python runtime in a worker, once (dlopen RTLD_GLOBAL, so that
// NumPy's and other extension modules find libpython's symbols).
#pragma once

#include "worker/python/runtime_api.h"

namespace shmpool::python {

struct Runtime {
    StartFn start = nullptr;
    std::string package_dir;  // the source tree's client/python when the runtime is the build tree's
};

// The loaded runtime; throws KernelError naming the paths tried and dlerror().
const Runtime& runtime();

}  // namespace shmpool::python
