// Which SIMD path the process runs: what the build compiled (SHMPOOL_SIMD_NATIVE_PATH), what
// the CPU supports (__builtin_cpu_supports), and SHMPOOL_CPU, read once.
#include "worker/kernels/simd/path.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include "common/error.h"

namespace shmpool::kernels {
namespace {

constexpr const char* kNames[] = {"baseline", "avx2", "avx512", "native"};
constexpr const char* kDispatchedKernels[] = {"bilinear_exp_sum", "cdist", "euclidean", "gaussian", "map", "rbf", "reduce"};

// GCC checks a whole x86-64 level; clang 14 (the fuzz build) knows single features only.
#ifdef __clang__
bool level_v3() {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2");
}
bool level_v4() {
    return level_v3() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
}
#else
bool level_v3() { return __builtin_cpu_supports("x86-64-v3"); }
bool level_v4() { return __builtin_cpu_supports("x86-64-v4"); }
#endif

std::string names_of(const std::vector<SimdPath>& paths) {
    std::string text;
    for (SimdPath p : paths) text += (text.empty() ? "" : ", ") + std::string(path_name(p));
    return text;
}

struct Choice {
    SimdPath path;
    std::string forced;  // SHMPOOL_CPU's value, or empty
};

Choice choose_path() {
    std::vector<SimdPath> available = available_paths();
    const char* forced = std::getenv(kSimdPathVariable);
    if (!forced || !*forced) return {available.back(), ""};
    std::optional<SimdPath> path = path_named(forced);
    if (!path || std::find(available.begin(), available.end(), *path) == available.end())
        throw Error(ErrorCode::bad_param, std::string(kSimdPathVariable) + "=" + forced +
                                              " names no SIMD path of this build on this CPU (available: " +
                                              names_of(available) + ")");
    return {*path, forced};
}

const Choice& choice() {
    static const Choice chosen = choose_path();
    return chosen;
}

}  // namespace

const char* path_name(SimdPath path) { return kNames[int(path)]; }

std::optional<SimdPath> path_named(std::string_view name) {
    for (size_t i = 0; i < std::size(kNames); ++i)
        if (name == kNames[i]) return SimdPath(i);
    return std::nullopt;
}

std::vector<SimdPath> compiled_paths() {
    std::vector<SimdPath> paths = {SimdPath::baseline, SimdPath::avx2, SimdPath::avx512};
#ifdef SHMPOOL_SIMD_NATIVE_PATH
    paths.push_back(SimdPath::native);
#endif
    return paths;
}

bool cpu_supports(SimdPath path) {
    __builtin_cpu_init();
    switch (path) {
        case SimdPath::baseline: return true;
        case SimdPath::avx2: return level_v3();
        case SimdPath::avx512: return level_v4();
        case SimdPath::native: return true;  // built on and for this machine
    }
    return false;
}

std::vector<SimdPath> available_paths() {
    std::vector<SimdPath> paths;
    for (SimdPath p : compiled_paths())
        if (cpu_supports(p)) paths.push_back(p);
    return paths;
}

SimdPath simd_path() { return choice().path; }

nlohmann::json simd_description() {
    nlohmann::json available = nlohmann::json::array(), compiled = nlohmann::json::array();
    for (SimdPath p : available_paths()) available.push_back(path_name(p));
    for (SimdPath p : compiled_paths()) compiled.push_back(path_name(p));
    const std::string& forced = choice().forced;
    return {{"path", path_name(simd_path())},
            {"available", available},
            {"compiled", compiled},
            {"forced_by", forced.empty() ? nlohmann::json(nullptr)
                                         : nlohmann::json(std::string(kSimdPathVariable) + "=" + forced)}};
}

bool kernel_dispatches_simd(const std::string& kernel) {
    return std::find(std::begin(kDispatchedKernels), std::end(kDispatchedKernels), kernel) !=
           std::end(kDispatchedKernels);
}

}  // namespace shmpool::kernels
