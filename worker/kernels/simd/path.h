// Runtime CPU dispatch: the SIMD path this process runs its kernels' hot loops on, chosen once
// (the best the CPU supports among those compiled, or a lower one forced by SHMPOOL_CPU).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace shmpool::kernels {

// baseline: x86-64 (SSE2); avx2: x86-64-v3 (AVX2, FMA, BMI2); avx512: x86-64-v4 (AVX-512
// F/BW/CD/DQ/VL); native: -march=native, in SHMPOOL_NATIVE builds only. Best last.
enum class SimdPath { baseline, avx2, avx512, native };

constexpr const char* kSimdPathVariable = "SHMPOOL_CPU";

const char* path_name(SimdPath path);
std::optional<SimdPath> path_named(std::string_view name);

std::vector<SimdPath> compiled_paths();   // in this build, best last
bool cpu_supports(SimdPath path);          // this CPU (and its OS) runs the path's instructions
std::vector<SimdPath> available_paths();  // compiled and supported, best last

// The process's path: on first call, the best available, or SHMPOOL_CPU's when set (then it
// must name an available path: an Error with code bad_request says which exist otherwise).
// The daemon calls it before forking, so its workers inherit the choice.
SimdPath simd_path();

// {"path", "available": [...], "compiled": [...], "forced_by": "SHMPOOL_CPU=..." or null}
nlohmann::json simd_description();

// The kernels whose hot loops follow simd_path() (the rest are compiled for the build's target).
bool kernel_dispatches_simd(const std::string& kernel);

}  // namespace shmpool::kernels
