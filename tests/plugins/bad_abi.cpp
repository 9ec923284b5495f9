// Test plugin with a wrong ABI version: shmpoold must refuse it (and never call its kernel)
// and start anyway.
#include "stub_kernel.h"

namespace {
const shmpool_kernel kKernels[] = {stub::kernel("bad_abi_kernel")};
const shmpool_plugin_info kInfo = {SHMPOOL_KERNEL_ABI_VERSION + 1000, 1, kKernels};
}  // namespace

extern "C" const shmpool_plugin_info* shmpool_plugin(void) { return &kInfo; }
