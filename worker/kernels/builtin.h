// Accessors of the built-in kernels, one per kernel file; registry.cpp lists them by name.
// Each returns a process-wide instance that lives until exit and holds no per-job state.
#pragma once

#include "worker/kernel.h"

namespace shmpool {

const Kernel& euclidean_kernel();  // worker/kernels/euclidean.cpp
const Kernel& rbf_kernel();        // worker/kernels/rbf.cpp
const Kernel& noop_kernel();       // worker/kernels/noop.cpp
const Kernel& noop_input_kernel(); // worker/kernels/noop.cpp
const Kernel& sleep_kernel();      // worker/kernels/sleep.cpp
const Kernel& cdist_kernel();      // worker/kernels/cdist.cpp
const Kernel& map_kernel();        // worker/kernels/map.cpp
const Kernel& reduce_kernel();     // worker/kernels/reduce.cpp
const Kernel& gaussian_kernel();           // worker/kernels/gaussian.cpp
const Kernel& bilinear_exp_sum_kernel();   // worker/kernels/bilinear_exp_sum.cpp

const Kernel& fault_kernel();      // worker/kernels/fault.cpp (test kernel)

// Internal copy kernels ('_' names: the daemon's own jobs), worker/kernels/io_kernels.cpp.
const Kernel& load_npy_kernel();
const Kernel& save_npy_kernel();

}  // namespace shmpool
