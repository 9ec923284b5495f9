// Test plugin whose second kernel takes the built-in name `rbf`: shmpoold must refuse the
// whole file (its first kernel too) and start anyway.
#include "stub_kernel.h"

namespace {
const shmpool_kernel kKernels[] = {stub::kernel("dup_first_kernel"), stub::kernel("rbf")};
const shmpool_plugin_info kInfo = {SHMPOOL_KERNEL_ABI_VERSION, 2, kKernels};
}  // namespace

extern "C" const shmpool_plugin_info* shmpool_plugin(void) { return &kInfo; }
