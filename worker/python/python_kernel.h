// The `python` kernel: runs a user's Python function (cloudpickled, or module:function) over
// ranges, in an interpreter embedded in each worker on its first Python range.
#pragma once

#include "worker/kernel.h"

namespace shmpool {

const Kernel& python_kernel();

}  // namespace shmpool
