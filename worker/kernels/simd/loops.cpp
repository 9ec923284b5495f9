// The tables of hot loops of the paths this build compiled (one per loops_path.cpp object),
// looked up by path.
#include "worker/kernels/simd/loops.h"

namespace shmpool::kernels {

extern const SimdLoops simd_loops_baseline, simd_loops_avx2, simd_loops_avx512;
#ifdef SHMPOOL_SIMD_NATIVE_PATH
extern const SimdLoops simd_loops_native;
#endif

const SimdLoops* simd_loops_for(SimdPath path) {
    switch (path) {
        case SimdPath::baseline: return &simd_loops_baseline;
        case SimdPath::avx2: return &simd_loops_avx2;
        case SimdPath::avx512: return &simd_loops_avx512;
        case SimdPath::native:
#ifdef SHMPOOL_SIMD_NATIVE_PATH
            return &simd_loops_native;
#else
            return nullptr;
#endif
    }
    return nullptr;
}

const SimdLoops& simd_loops() {
    static const SimdLoops& loops = *simd_loops_for(simd_path());
    return loops;
}

}  // namespace shmpool::kernels
