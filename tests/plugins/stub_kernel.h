// A kernel descriptor whose callbacks all fail, for the test plugins that must be refused
// before any callback runs (wrong ABI version, missing entry, a name already taken).
#pragma once

#include <shmpool/kernel.h>

namespace stub {

inline int32_t plan(const char*, const shmpool_input_meta*, uint32_t, shmpool_plan*, char*, uint32_t) {
    return SHMPOOL_ERR_FAILED;
}
inline int32_t start(const shmpool_job*, void**, char*, uint32_t) { return SHMPOOL_ERR_FAILED; }
inline int32_t run(void*, uint64_t, uint64_t, shmpool_partial*, char*, uint32_t) { return SHMPOOL_ERR_FAILED; }

inline constexpr const char* kRoles[] = {"points", nullptr};

constexpr shmpool_kernel kernel(const char* name) {
    return shmpool_kernel{name, kRoles, "{}", "a stub that must never be loaded", plan, start, run, nullptr};
}

}  // namespace stub
