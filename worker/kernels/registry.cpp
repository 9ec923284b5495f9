// The table of kernels a daemon and its workers know: find_kernel() and all_kernels().
// To add a kernel (built-in, or internal with a '_' name), declare its accessor in builtin.h and list it here.
#include <iterator>
#include <memory>

#include "common/error.h"
#include "worker/kernel.h"
#include "worker/kernels/builtin.h"
#include "worker/python/python_kernel.h"

namespace shmpool {
namespace {

using KernelAccessor = const Kernel& (*)();

constexpr KernelAccessor kKernels[] = {
    &euclidean_kernel,
    &rbf_kernel,
    &noop_kernel,
    &noop_input_kernel,
    &sleep_kernel,
    &cdist_kernel,
    &map_kernel,
    &reduce_kernel,
    &gaussian_kernel,
    &bilinear_exp_sum_kernel,
    &fault_kernel,
    &load_npy_kernel,
    &save_npy_kernel,
    &python_kernel,
};

// Kernels added by register_kernel() (plugins), in order. Filled by the daemon before any
// worker forks and never changed after: workers inherit it, and no lock is needed.
std::vector<std::unique_ptr<Kernel>>& registered_kernels() {
    static std::vector<std::unique_ptr<Kernel>> kernels;
    return kernels;
}

}  // namespace

const Kernel* find_kernel(const std::string& name) {
    for (KernelAccessor accessor : kKernels)
        if (accessor().name() == name) return &accessor();
    for (const auto& kernel : registered_kernels())
        if (kernel->name() == name) return kernel.get();
    return nullptr;
}

std::vector<const Kernel*> all_kernels() {
    std::vector<const Kernel*> kernels;
    kernels.reserve(std::size(kKernels));
    for (KernelAccessor accessor : kKernels) kernels.push_back(&accessor());
    for (const auto& kernel : registered_kernels()) kernels.push_back(kernel.get());
    return kernels;
}

void register_kernel(std::unique_ptr<Kernel> kernel) {
    if (find_kernel(kernel->name()))
        throw Error(ErrorCode::internal, "a kernel named '" + kernel->name() + "' is already registered");
    registered_kernels().push_back(std::move(kernel));
}

}  // namespace shmpool
