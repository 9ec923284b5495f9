// Test plugin without the entry symbol (its function has a misspelt name): shmpoold must
// refuse it, saying the symbol is missing, and start anyway.
#include "stub_kernel.h"

namespace {
const shmpool_kernel kKernels[] = {stub::kernel("no_entry_kernel")};
const shmpool_plugin_info kInfo = {SHMPOOL_KERNEL_ABI_VERSION, 1, kKernels};
}  // namespace

extern "C" SHMPOOL_PLUGIN_EXPORT const shmpool_plugin_info* shmpool_plugins(void) { return &kInfo; }
