// Loads kernel plugins (shared libraries with the C ABI of include/shmpool/kernel.h) from a
// directory and registers their kernels; reports, one line per file, what it loaded or refused.
#include "worker/plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "include/shmpool/kernel.h"
#include "worker/kernel.h"
#include "worker/plugin_kernel.h"

namespace shmpool {
namespace {

namespace fs = std::filesystem;

struct DlClose {
    void operator()(void* handle) const { dlclose(handle); }
};
using Library = std::unique_ptr<void, DlClose>;

// Why a file is not loaded; the file is refused whole.
class Refusal : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::vector<fs::path> plugin_files(const std::string& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::error_code ec;  // a dangling link is skipped, not an error
        if (entry.path().extension() == ".so" && entry.is_regular_file(ec)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

// The plugin's info, its ABI version read before anything else in it.
const shmpool_plugin_info& plugin_info(void* library) {
    auto entry = reinterpret_cast<shmpool_plugin_fn>(dlsym(library, SHMPOOL_PLUGIN_ENTRY));
    if (!entry)
        throw Refusal("no entry symbol '" SHMPOOL_PLUGIN_ENTRY "' (export it with C linkage, see include/shmpool/kernel.h)");
    const shmpool_plugin_info* info = entry();
    if (!info) throw Refusal("its entry '" SHMPOOL_PLUGIN_ENTRY "' returned NULL");
    if (info->abi_version != SHMPOOL_KERNEL_ABI_VERSION)
        throw Refusal("ABI version " + std::to_string(info->abi_version) + ", this shmpoold takes version " +
                      std::to_string(SHMPOOL_KERNEL_ABI_VERSION));
    if (info->kernel_count == 0 || !info->kernels) throw Refusal("it declares no kernels");
    return *info;
}

std::string owner_of(const Kernel& kernel) {
    auto* plugin = dynamic_cast<const PluginKernel*>(&kernel);
    return plugin ? "kernel of plugin " + plugin->file() : "built-in kernel";
}

// One adapter per descriptor; a Refusal for a bad descriptor or a name already taken.
std::vector<std::unique_ptr<PluginKernel>> adapt_kernels(const shmpool_plugin_info& info, const std::string& file) {
    std::vector<std::unique_ptr<PluginKernel>> kernels;
    for (uint32_t i = 0; i < info.kernel_count; ++i) {
        try {
            kernels.push_back(std::make_unique<PluginKernel>(info.kernels[i], file));
        } catch (const std::invalid_argument& e) {
            throw Refusal("kernel #" + std::to_string(i) + ": " + e.what());
        }
        const std::string& name = kernels.back()->name();
        if (const Kernel* taken = find_kernel(name))
            throw Refusal("kernel '" + name + "' has the name of a " + owner_of(*taken));
        for (size_t j = 0; j + 1 < kernels.size(); ++j)
            if (kernels[j]->name() == name) throw Refusal("it declares kernel '" + name + "' twice");
    }
    return kernels;
}

// Loads one file; returns its report line or throws Refusal.
std::string load_plugin(const std::string& file) {
    Library library(dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL));
    if (!library) throw Refusal(std::string("dlopen failed: ") + dlerror());
    const shmpool_plugin_info& info = plugin_info(library.get());
    std::string names;
    for (auto& kernel : adapt_kernels(info, file)) {
        names += (names.empty() ? "'" : ", '") + kernel->name() + "'";
        register_kernel(std::move(kernel));
    }
    library.release();  // its kernels are registered until exit: the library stays open
    return "plugin " + file + ": loaded kernel" + (info.kernel_count > 1 ? "s " : " ") + names + " (ABI " +
           std::to_string(info.abi_version) + ")";
}

}  // namespace

PluginLoadReport load_plugins(const std::string& dir) {
    PluginLoadReport report;
    std::vector<fs::path> files;
    try {
        files = plugin_files(dir);
    } catch (const fs::filesystem_error& e) {
        report.refused.push_back("kernel dir " + dir + " refused: cannot list it: " + e.code().message());
    }
    for (const auto& file : files) {
        try {
            report.loaded.push_back(load_plugin(file.string()));
        } catch (const Refusal& e) {
            report.refused.push_back("plugin " + file.string() + " refused: " + e.what());
        }
    }
    return report;
}

}  // namespace shmpool
